package webm

import (
	"bytes"
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

// addSeeds adds a real recording (ffmpeg-made, testdata/probe/recording.webm) and cuts of it.
func addSeeds(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "probe", "recording.webm"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{len(b), len(b) / 2, 1200, 100, 40} {
		f.Add(b[:min(n, len(b))])
	}
}

func FuzzProbeWebM(f *testing.F) {
	addSeeds(f)
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

// Probe allocates no more than maxProbeHeader in all, however large the head the file declares.
func TestProbeMemoryBounded(t *testing.T) {
	// A WebM whose Segment holds 40 Info elements of 1 MB each: 40 MB of "headers".
	webm := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	for range 40 {
		webm = append(webm, 0x15, 0x49, 0xA9, 0x66, 0x10, 0x10, 0x00, 0x00) // size 1 MB
		webm = append(webm, make([]byte, 1<<20)...)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	Probe(bytes.NewReader(webm), int64(len(webm)))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > maxProbeHeader+1<<20 {
		t.Errorf("40 MB of WebM header elements made the probe allocate %d MB (limit %d MB)", n>>20, maxProbeHeader>>20)
	}
}
