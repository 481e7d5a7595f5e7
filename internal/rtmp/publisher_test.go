package rtmp

import (
	"bytes"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/stream"
)

func TestTimestampsUnwrap(t *testing.T) {
	var c timestamps
	steps := []struct {
		ts   uint32
		want time.Duration
	}{
		{0xFFFFFF00, 0xFFFFFF00 * time.Millisecond},
		{0xFFFFFFF0, 0xFFFFFFF0 * time.Millisecond},
		{0x10, (1<<32 + 0x10) * time.Millisecond}, // wrapped
		{0x05, (1<<32 + 0x05) * time.Millisecond}, // a small step back is not a wrap
	}
	for _, s := range steps {
		if got := c.at(s.ts); got != s.want {
			t.Errorf("at(%#x) = %v, want %v", s.ts, got, s.want)
		}
	}
}

func TestAVCSamplesRewritesLengths(t *testing.T) {
	// Two NAL units with 2-byte lengths become 4-byte lengths.
	in := []byte{0, 2, 0x65, 0xAA, 0, 1, 0x41}
	want := []byte{0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41}
	got, err := avcSamples(in, 2)
	if err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("avcSamples = %v, %v; want %x", got, err, want)
	}
	for _, bad := range [][]byte{{0}, {0, 5, 1, 2}} {
		if _, err := avcSamples(bad, 2); err == nil {
			t.Errorf("avcSamples(%x) accepted a truncated frame", bad)
		}
	}
}

// A frame shares a pooled tag payload (its own reference); a payload that is not pooled is
// copied, not aliased.
func TestSamplesShareOrCopy(t *testing.T) {
	p := &publisher{nalLen: 4}
	tag := media.NewBuffer(5)
	copy(tag.Bytes(), []byte{0, 0, 0, 1, 0x65})
	var f media.Frame
	if err := p.samples(&f, tag.Bytes(), tag); err != nil {
		t.Fatal(err)
	}
	if f.Buf != tag || tag.Refs() != 2 {
		t.Fatalf("pooled payload: frame buffer %p (tag %p), %d references; want shared, 2", f.Buf, tag, tag.Refs())
	}
	f.Release()
	tag.Release()

	src := []byte{0, 0, 0, 1, 0x65}
	var g media.Frame
	p.samples(&g, src, nil)
	src[4] = 0
	if g.Data[4] != 0x65 {
		t.Errorf("a payload that is not pooled is aliased")
	}
	g.Release()
}

// Metadata announcing audio that never comes (no AAC sequence header) holds the frames only up
// to the stage's limits (5 s of media here): the stream then publishes the video it has.
func TestPublisherGoesWithConfiguredTracksAfterLimits(t *testing.T) {
	_, reg := testServer(t)
	st, err := reg.Create(stream.Identity{Name: "noaudio", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	p := newPublisher(st)
	p.metadata([]any{"onMetaData", amf0.Object{{Key: "videocodecid", Value: 7.0}, {Key: "audiocodecid", Value: 10.0}}})
	if err := p.video(0, avcSeqHeader(), nil); err != nil {
		t.Fatal(err)
	}
	frame := func(key bool) []byte {
		b := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0}
		if key {
			b[0], b[9] = 0x17, 0x65
		}
		return b
	}
	for ms := 0; ms < 6000; ms += 40 {
		if err := p.video(uint32(ms), frame(ms%1000 == 0), nil); err != nil {
			t.Fatal(err)
		}
		if s := st.Snapshot(); s.Status == stream.StatusPublishing {
			if ms < 5000 || s.HasAudio || !s.HasVideo {
				t.Fatalf("published at %d ms with %+v, want video only once 5 s are held", ms, s)
			}
			return
		}
	}
	t.Fatal("never published")
}
