package admin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// The probes read files from the records folder, which may be cut (a killed recording), corrupt
// or hostile (a file copied in). Whatever the bytes, a probe returns, within a bounded memory,
// a MediaInfo the library can send as JSON.

func FuzzProbeMP4(f *testing.F) {
	addSeeds(f, "fragmented.mp4", "moov-at-end.mp4")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzProbe(t, data, probeMP4)
	})
}

func FuzzProbeWebM(f *testing.F) {
	addSeeds(f, "recording.webm")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzProbe(t, data, probeWebM)
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

func fuzzProbe(t *testing.T, data []byte, probe func(io.ReaderAt, int64, *MediaInfo) error) {
	fuzzmem.Check(t, func() {
		var info MediaInfo
		if err := probe(bytes.NewReader(data), int64(len(data)), &info); err != nil {
			info.Problem = err.Error()
		}
		if math.IsNaN(info.Duration) || math.IsInf(info.Duration, 0) || info.Duration < 0 {
			t.Fatalf("duration %v", info.Duration)
		}
		if _, err := json.Marshal(info); err != nil {
			t.Fatalf("the library cannot send %+v: %v", info, err)
		}
	})
}

// allocated is what fn allocated, in bytes.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A probe allocates no more than the file holds, and no more than maxHeader in all, however
// large the sizes the file declares.
func TestProbeMemoryBounded(t *testing.T) {
	// A 100-byte MP4 whose moov declares 4 MB.
	cut := make([]byte, 100)
	binary.BigEndian.PutUint32(cut, maxHeader)
	copy(cut[4:], "moov")
	var info MediaInfo
	if n := allocated(func() { probeMP4(bytes.NewReader(cut), int64(len(cut)), &info) }); n > 1<<20 {
		t.Errorf("a 100-byte MP4 made the probe allocate %d kB", n>>10)
	}

	// A WebM whose Segment holds 40 Info elements of 1 MB each: 40 MB of "headers".
	webm := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	for range 40 {
		webm = append(webm, 0x15, 0x49, 0xA9, 0x66, 0x10, 0x10, 0x00, 0x00) // size 1 MB
		webm = append(webm, make([]byte, 1<<20)...)
	}
	n := allocated(func() { probeWebM(bytes.NewReader(webm), int64(len(webm)), &info) })
	if n > maxHeader+1<<20 {
		t.Errorf("40 MB of WebM header elements made the probe allocate %d MB (limit %d MB)", n>>20, maxHeader>>20)
	}
}
