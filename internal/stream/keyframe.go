package stream

import (
	"time"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/media"
)

// maxCachedGOP is how old a cached keyframe may be for an on-demand recording to start from it
// when the publisher can make a new one instead. Browsers send keyframes only when asked, so the
// cache of a WebRTC stream may reach back minutes: starting there would record the past.
const maxCachedGOP = 2 * time.Second

// SetKeyframeRequest registers how to ask the publisher for a new video keyframe (the WebRTC
// ingest sends PLI/FIR). A recording that has no recent cached keyframe to start from calls it
// and begins at the keyframe that answers.
func (s *Stream) SetKeyframeRequest(fn func()) {
	s.mu.Lock()
	s.keyframe = fn
	s.mu.Unlock()
}

// startFrames returns the cached frames a new recording begins with (with a reference to each
// pooled one, for the recorder), and the keyframe request to make when they are missing or stale
// (nil: none needed). Caller holds s.mu.
func (s *Stream) startFrames() ([]media.Frame, func()) {
	frames := s.gop.Frames()
	if s.keyframe == nil || !hasKind(s.tracks, media.Video) {
		return frames, nil
	}
	if len(frames) == 0 {
		if s.bytes.Load() == 0 {
			return nil, nil // nothing sent yet: the first frame the publisher sends is a keyframe
		}
		return nil, s.keyframe
	}
	if frames[len(frames)-1].DTS-frames[0].DTS > maxCachedGOP {
		recorder.ReleaseFrames(frames)
		return nil, s.keyframe
	}
	return frames, nil
}
