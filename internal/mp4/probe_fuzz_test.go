package mp4

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// Probe reads files from the records folder, which may be cut (a killed recording), corrupt or
// hostile (a file copied in). Whatever the bytes, it returns, within a bounded memory, a
// FileInfo the library can send as JSON.

func FuzzProbeMP4(f *testing.F) {
	addSeeds(f, "fragmented.mp4", "moov-at-end.mp4")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzmem.Check(t, func() {
			info, _ := Probe(bytes.NewReader(data), int64(len(data)))
			if math.IsNaN(info.Duration) || math.IsInf(info.Duration, 0) || info.Duration < 0 {
				t.Fatalf("duration %v", info.Duration)
			}
			if _, err := json.Marshal(info); err != nil {
				t.Fatalf("the library cannot send %+v: %v", info, err)
			}
		})
	})
}

// addSeeds adds real recordings (ffmpeg-made, in testdata/probe) and cuts of them.
func addSeeds(f *testing.F, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", "probe", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, n := range []int{len(b), len(b) / 2, 1200, 100, 40} {
			f.Add(b[:min(n, len(b))])
		}
	}
}

// allocated is what fn allocated, in bytes.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Probe allocates no more than the file holds, however large the sizes the file declares.
func TestProbeMemoryBounded(t *testing.T) {
	// A 100-byte MP4 whose moov declares 4 MB.
	cut := make([]byte, 100)
	binary.BigEndian.PutUint32(cut, maxProbeHeader)
	copy(cut[4:], "moov")
	if n := allocated(func() { Probe(bytes.NewReader(cut), int64(len(cut))) }); n > 1<<20 {
		t.Errorf("a 100-byte MP4 made the probe allocate %d kB", n>>10)
	}
}
