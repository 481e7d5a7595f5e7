package webm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// FirstVP8Keyframe reads files of the records folder for thumbnails: whatever the bytes, it
// returns within bounded memory, and a frame it returns is a VP8 keyframe inside the file.
func FuzzFirstVP8Keyframe(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzmem.Check(t, func() {
			frame, err := FirstVP8Keyframe(bytes.NewReader(data), int64(len(data)), 1<<20)
			if err == nil && (len(frame) < 3 || len(frame) > len(data) || frame[0]&1 != 0) {
				t.Fatalf("frame of %d bytes from a file of %d", len(frame), len(data))
			}
		})
	})
}

// The seed's first keyframe is found.
func TestFirstVP8KeyframeSeed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "probe", "recording.webm"))
	if err != nil {
		t.Fatal(err)
	}
	frame, err := FirstVP8Keyframe(bytes.NewReader(b), int64(len(b)), 1<<20)
	if err != nil {
		t.Skipf("the seed has no VP8 video: %v", err)
	}
	// A VP8 keyframe: bit 0 clear, then the start code 9d 01 2a after the 3-byte tag.
	if len(frame) < 10 || frame[0]&1 != 0 || !bytes.Equal(frame[3:6], []byte{0x9d, 0x01, 0x2a}) {
		t.Errorf("not a VP8 keyframe: % x", frame[:min(10, len(frame))])
	}
}
