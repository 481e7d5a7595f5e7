package recording

import (
	"github.com/streamrec/streamrec/internal/media"
)

// gop keeps the frames of a stream since its last video keyframe, so a recording started on
// demand begins at a keyframe at or before the request instead of waiting for the next one.
// It is kept only while the stream is not recorded: a stream has one recording at a time, and
// one in progress needs no start point (a GOP of a 2 Mbit/s stream is up to half a megabyte,
// held twice over with the pool it returns to). After a recording stops, the cache begins
// again at the next keyframe.
// It holds a reference to each pooled frame it keeps (media.Buffer) until the next keyframe
// replaces them or reset. It is not safe for concurrent use; the Recording that owns it
// serializes access.
type gop struct {
	frames  []media.Frame
	bytes   int
	video   bool // the stream has a video track: cache from keyframes only
	maxSize int
}

// gopMaxBytes bounds the cache: a stream without keyframes for this long simply has no cache.
const gopMaxBytes = 32 << 20

// newGOP returns a cache for a stream that has video (hasVideo) or is audio-only.
func newGOP(hasVideo bool) *gop { return &gop{video: hasVideo, maxSize: gopMaxBytes} }

// add records f; kind is the kind of f's track.
func (g *gop) add(f media.Frame, kind media.Kind) {
	switch {
	case g.video && kind == media.Video && f.Key:
		g.reset()
	case !g.video:
		// Audio-only: any frame is a start point; keep just the latest.
		g.reset()
	case len(g.frames) == 0:
		return // no keyframe yet: nothing to start from
	}
	if g.bytes+len(f.Data) > g.maxSize {
		g.reset()
		return
	}
	f.Retain()
	g.frames = append(g.frames, f)
	g.bytes += len(f.Data)
}

func (g *gop) reset() {
	for _, f := range g.frames {
		f.Release()
	}
	clear(g.frames) // let the old frames' data be collected
	g.frames = g.frames[:0]
	g.bytes = 0
}

// cached returns a copy of the cached frames, oldest first, with a reference to each pooled
// frame for the caller (see recorder.ReleaseFrames).
func (g *gop) cached() []media.Frame {
	out := append([]media.Frame(nil), g.frames...)
	for _, f := range out {
		f.Retain()
	}
	return out
}
