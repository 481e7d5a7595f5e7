package recording

import (
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/stream"
)

// maxCachedGOP is how old a cached keyframe may be for an on-demand recording to start from it
// when the publisher can make a new one instead. Browsers send keyframes only when asked, so the
// cache of a WebRTC stream may reach back minutes: starting there would record the past.
const maxCachedGOP = 2 * time.Second

// startFrames returns the cached frames a new recording begins with (with a reference to each
// pooled one, for the recorder), and the keyframe request to make when they are missing or stale
// (nil: none needed). A recording that has no recent cached keyframe to start from asks the
// publisher for one (stream.Stream.KeyframeRequest) and begins at the keyframe that answers.
// Caller holds r.mu.
func (r *Recording) startFrames() ([]media.Frame, func()) {
	frames := r.gop.cached()
	keyframe := r.st.KeyframeRequest()
	if keyframe == nil || stream.CodecOf(r.tracks, media.Video) == "" {
		return frames, nil
	}
	if len(frames) == 0 {
		if r.st.Bytes() == 0 {
			return nil, nil // nothing sent yet: the first frame the publisher sends is a keyframe
		}
		return nil, keyframe
	}
	if frames[len(frames)-1].DTS-frames[0].DTS > maxCachedGOP {
		recorder.ReleaseFrames(frames)
		return nil, keyframe
	}
	return frames, nil
}
