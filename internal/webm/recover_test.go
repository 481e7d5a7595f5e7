package webm

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/containertest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// crashedFile writes frames (a Flush every 20, as the recorder's ticker would), noting every
// point where a cluster was completed; it returns the bytes on disk without Close (a kill -9),
// the checkpoints, and the bytes Close would have made.
func crashedFile(t testing.TB, tracks []media.Track, frames []media.Frame) (crashed []byte, cps []containertest.Checkpoint, closed []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crash.webm")
	w, _ := createWriter(t, path, tracks)
	cps = []containertest.Checkpoint{{Good: w.good}}
	for i, fr := range frames {
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if w.good != cps[len(cps)-1].Good {
			cps = append(cps, containertest.Checkpoint{Good: w.good, Duration: time.Duration(w.done) * time.Millisecond})
		}
	}
	crashed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if closed, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	return crashed, cps, closed
}

// cutPoints lists every element start and end in the Segment and in each cluster, a byte into
// each element and the middle of each, sorted and unique.
func cutPoints(t testing.TB, data []byte) []int {
	seen := map[int]bool{}
	r := bytesReaderAt(data)
	var walk func(start, end int64, descend bool)
	walk = func(start, end int64, descend bool) {
		for pos := start; pos < end; {
			e, err := elementAt(r, pos, end)
			if err != nil {
				t.Fatalf("element at %d: %v", pos, err)
			}
			if e.unknownLen {
				e.end = end
			}
			seen[int(pos)], seen[int(pos)+1], seen[int(e.end)], seen[int(pos+e.end)/2] = true, true, true, true
			if descend && (e.id == idSegment || e.id == idCluster) {
				walk(e.data, e.end, e.id == idSegment)
			}
			pos = e.end
		}
	}
	walk(0, int64(len(data)), true)
	return slices.Sorted(maps.Keys(seen))
}

// TestRecoverCutEverywhere cuts a crashed recording at every element boundary, a byte into
// every element and in the middle of each: Recover keeps exactly the whole clusters before the
// cut, with their duration patched in and Cues indexing them.
func TestRecoverCutEverywhere(t *testing.T) {
	tracks, frames := loadSource(t)
	crashed, cps, _ := crashedFile(t, tracks, frames[:300])
	cuts := cutPoints(t, crashed)
	path := filepath.Join(t.TempDir(), "cut.webm")
	containertest.RecoverCutEverywhere(t, path, crashed, cps, cuts, Recover, func(c int, want containertest.Checkpoint, after []byte) {
		children, segData, segSize := walkSegment(t, after)
		if segSize != int64(len(after))-segData {
			t.Fatalf("cut at %d: Segment size %d, holds %d", c, segSize, int64(len(after))-segData)
		}
		if last := children[len(children)-1]; want.Good > cps[0].Good && last.id != idCues {
			t.Fatalf("cut at %d: the file ends with %x, not Cues", c, last.id)
		}
	})
	t.Logf("%d cuts, %d checkpoints", len(cuts), len(cps))
}

// A file finished cleanly before the crash is finished again, byte for byte the same.
func TestRecoverFinishedFileUnchanged(t *testing.T) {
	tracks, frames := loadSource(t)
	_, _, closed := crashedFile(t, tracks, frames[:200])
	containertest.RecoverUnchanged(t, filepath.Join(t.TempDir(), "cut.webm"), closed, Recover)
}

// TestRecoverPlays: a VP8 + Vorbis recording torn mid-cluster and recovered reads and decodes
// without a warning (no "File ended prematurely") and has its real duration in the header.
func TestRecoverPlays(t *testing.T) {
	tracks, frames := loadSource(t)
	crashed, cps, _ := crashedFile(t, tracks, frames)
	last := cps[len(cps)-1]
	torn := crashed[:last.Good]
	torn = append(torn, crashed[cps[len(cps)-2].Good:cps[len(cps)-1].Good][:100]...) // half a cluster
	path := filepath.Join(t.TempDir(), "cut.webm")
	r, _, err := containertest.RecoverBytes(t, path, torn, Recover)
	if err != nil {
		t.Fatal(err)
	}
	want := last.Duration
	if r.Duration != want || r.Cut != 100 || want < 9*time.Second {
		t.Errorf("recovered %+v, want %v and 100 bytes cut", r, want)
	}
	if msg := mediatest.DecodeErrors(t, path, "-v", "warning"); msg != "" {
		t.Errorf("ffmpeg decoding the recovered file:\n%s", msg)
	}
	if p := mediatest.CountFrames(t, path); (duration(p) - want).Abs() > 50*time.Millisecond {
		t.Errorf("ffprobe duration %v, want %v", duration(p), want)
	}
	b, _ := os.ReadFile(path)
	_, segData, _ := walkSegment(t, b)
	if d := math.Float64frombits(binary.BigEndian.Uint64(b[durOffset(t, b, segData):])); d != float64(want.Milliseconds()) {
		t.Errorf("Duration %v ms in the file, want %v", d, want)
	}
}

// durOffset finds Info's Duration in a file.
func durOffset(t testing.TB, b []byte, segData int64) int64 {
	info, err := elementAt(bytesReaderAt(b), segData+seekHeadLen, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := findDuration(b, info)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// FuzzRecover: whatever a file holds, Recover neither panics nor allocates past its bounds, and
// a file it repaired repairs again to the same thing.
func FuzzRecover(f *testing.F) {
	// Seeds from synthetic VP8 (the writer does not decode frames): no ffmpeg run per worker.
	tracks := []media.Track{{Kind: media.Video, Codec: media.VP8, Width: 320, Height: 240}}
	var frames []media.Frame
	for i := range 90 {
		ts := time.Duration(i) * time.Second / 30
		frames = append(frames, media.Frame{DTS: ts, PTS: ts, Key: i%30 == 0, Data: bytes.Repeat([]byte{byte(i)}, 100+i)})
	}
	crashed, cps, closed := crashedFile(f, tracks, frames)
	containertest.FuzzRecover(f, "cut.webm", crashed, cps, closed, Recover)
}
