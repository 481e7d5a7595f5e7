package mp4

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// FirstVideoSample reads files of the records folder for thumbnails: whatever the bytes, it
// returns within bounded memory, and a sample it returns lies inside the file.
func FuzzFirstVideoSample(f *testing.F) {
	addSeeds(f, "fragmented.mp4", "moov-at-end.mp4")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzmem.Check(t, func() {
			s, err := FirstVideoSample(bytes.NewReader(data), int64(len(data)), 1<<20)
			if err == nil && (len(s.Data) == 0 || len(s.Data) > len(data) || s.Codec != "H264") {
				t.Fatalf("sample of %d bytes (%q) from a file of %d", len(s.Data), s.Codec, len(data))
			}
		})
	})
}

// The seeds give a sample: a recording's first keyframe is found (fragmented and plain).
func TestFirstVideoSampleSeeds(t *testing.T) {
	for _, name := range []string{"fragmented.mp4", "moov-at-end.mp4"} {
		b := readTestdata(t, name)
		s, err := FirstVideoSample(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err != nil || len(s.Data) < 100 || len(s.Config) < 7 || s.Config[0] != 1 {
			t.Errorf("%s: %d bytes, avcC %x, %v", name, len(s.Data), s.Config, err)
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "probe", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
