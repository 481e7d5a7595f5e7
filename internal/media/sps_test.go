package media

import (
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// x264's SPS of a 320x240 High-profile stream.
var highSPS = []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
	0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60}

func TestParseSPSReadsRealOnes(t *testing.T) {
	sps, err := ParseSPS(highSPS)
	if err != nil || sps.Width != 320 || sps.Height != 240 {
		t.Fatalf("ParseSPS = %+v, %v; want 320x240", sps, err)
	}
}

// The SPS the fuzzer found: pic_order_cnt_type 1 with a cycle of billions of frames made
// mp4ff allocate 12 GB (the process was killed).
func TestParseSPSRefusesHugeCycle(t *testing.T) {
	hostile := []byte("'0002B0\x00\x00\x00000000000000000")
	fuzzmem.Check(t, func() {
		if _, err := ParseSPS(hostile); err == nil {
			t.Error("accepted")
		}
	})
}

func FuzzParseSPS(f *testing.F) {
	f.Add(highSPS)
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzmem.Check(t, func() { ParseSPS(b) })
	})
}
