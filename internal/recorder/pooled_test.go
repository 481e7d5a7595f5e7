package recorder

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// checkingContainer checks, when a frame is written, that its pooled payload is still held and
// still carries the frame's own bytes (its track and sequence number, as the test wrote them).
type checkingContainer struct {
	t      *testing.T
	frames int
}

func (c *checkingContainer) WriteFrame(f media.Frame) error {
	c.frames++
	if f.Buf != nil && f.Buf.Refs() < 1 {
		c.t.Errorf("a frame's payload was released before it was written")
	}
	if len(f.Data) != 64 || binary.BigEndian.Uint64(f.Data[8:]) != binary.BigEndian.Uint64(f.Data) {
		c.t.Errorf("a frame's payload was overwritten before it was written")
	}
	return nil
}
func (c *checkingContainer) Flush() error            { return nil }
func (c *checkingContainer) Close() error            { return nil }
func (c *checkingContainer) Size() int64             { return 0 }
func (c *checkingContainer) Duration() time.Duration { return 0 }

// TestPooledFramesHeldAndReleased runs pooled frames through the ingest stage and the writer
// (each released by its sender once handed over), with rotation and audio sent ahead of video
// and before the first keyframe, so frames wait in the stage. Every frame is written intact,
// and every reference is given back.
func TestPooledFramesHeldAndReleased(t *testing.T) {
	c := &checkingContainer{t: t}
	w := testWriter(t, 2, 44100, media.Track{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2},
		func(*os.File, []media.Track) (container, error) { return c, nil })
	var bufs []*media.Buffer
	seq := uint64(0)
	st, write := staged(w)
	send := func(track int, dts time.Duration, key bool, at time.Duration) {
		seq++
		b := media.NewBuffer(64)
		binary.BigEndian.PutUint64(b.Bytes(), seq)
		binary.BigEndian.PutUint64(b.Bytes()[8:], seq)
		bufs = append(bufs, b)
		f := media.Frame{Track: track, DTS: dts, PTS: dts, Key: key, Data: b.Bytes(), Buf: b}
		write(f, at)
		f.Release()
	}
	// Audio from 300 ms before the first keyframe, then 7 s of video with keyframes every
	// second and audio sent 150 ms ahead of it.
	aframe := 1024 * time.Second / 44100
	a := time.Duration(0)
	for ; a < 300*time.Millisecond; a += aframe {
		send(1, a, true, a)
	}
	for v := time.Duration(0); v < 7*time.Second; v += time.Second / 30 {
		vd := v + 300*time.Millisecond
		for a < vd+150*time.Millisecond {
			send(1, a, true, vd)
			a += aframe
		}
		send(0, vd, v%time.Second == 0, vd)
	}
	st.Flush()
	w.finish()
	if c.frames < 200 {
		t.Fatalf("only %d frames written", c.frames)
	}
	for i, b := range bufs {
		if b.Refs() != 0 {
			t.Fatalf("frame %d: %d references left after the recording ended", i+1, b.Refs())
		}
	}
}
