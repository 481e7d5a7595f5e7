package rtmp

import (
	"bytes"
	"testing"
	"time"
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
	// 4-byte lengths are copied, not aliased.
	src := []byte{0, 0, 0, 1, 0x65}
	out, _ := avcSamples(src, 4)
	src[4] = 0
	if out.Bytes()[4] != 0x65 {
		t.Errorf("avcSamples aliases its input")
	}
}
