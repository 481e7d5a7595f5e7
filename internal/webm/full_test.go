package webm

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// checkRepaired judges a file ended by a write error: ffmpeg reads and decodes it without a
// warning (no "File ended prematurely"), the Segment size and Duration are patched to what the
// file holds, every cluster is whole, and the Cues are there or not as wanted.
func checkRepaired(t *testing.T, w *Writer, path string, wantCues bool) {
	t.Helper()
	if msg := mediatest.DecodeErrors(t, path, "-v", "warning"); msg != "" {
		t.Errorf("ffmpeg decoding the repaired file:\n%s", msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	children, segData, segSize := walkSegment(t, b)
	if segSize != int64(len(b))-segData {
		t.Errorf("Segment size %d, the file holds %d bytes of it", segSize, int64(len(b))-segData)
	}
	cues := false
	for _, c := range children {
		if c.size < 0 || segData+c.end > int64(len(b)) {
			t.Errorf("element %x at %d is cut off", c.id, c.pos)
		}
		cues = cues || c.id == idCues
	}
	if cues != wantCues {
		t.Errorf("Cues present: %v, want %v", cues, wantCues)
	}
	d := w.Duration()
	inFile := math.Float64frombits(binary.BigEndian.Uint64(b[w.durOff:]))
	if d < time.Second || inFile != float64(d.Milliseconds()) {
		t.Errorf("Duration in the file %.0f ms, writer's %v; want equal and more than 1 s", inFile, d)
	}
	if p := mediatest.CountFrames(t, path); (duration(p) - d).Abs() > 50*time.Millisecond {
		t.Errorf("ffprobe duration %v, want %v", duration(p), d)
	}
	t.Logf("repaired: %d elements, %v, %d bytes, Cues %v", len(children), d, len(b), cues)
}

// TestFullDiskLeavesPlayableFile: the disk fills up in the middle of a cluster. Close cuts the
// torn cluster off, patches the header and appends the Cues in the space that freed, and still
// returns the write error.
func TestFullDiskLeavesPlayableFile(t *testing.T) {
	tracks, frames := loadSource(t)
	dir := tmpfs.Mount(t, "", 256<<10)
	path := filepath.Join(dir, "full.webm")
	w, _ := createWriter(t, path, tracks)
	var err error
	for _, fr := range frames {
		if err = w.WriteFrame(fr); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error %v, want ENOSPC", err)
	}
	if cerr := w.Close(); !errors.Is(cerr, syscall.ENOSPC) {
		t.Fatalf("Close returned %v, want the write error", cerr)
	}
	checkRepaired(t, w, path, true)
}

// TestFullDiskNoRoomForCues: the disk is full to the last page when the cluster tears, and the
// Cues (over a page: a cluster per frame) do not fit: the file ends at its last complete cluster
// and plays without them.
func TestFullDiskNoRoomForCues(t *testing.T) {
	tracks, frames := loadSource(t)
	dir := tmpfs.Mount(t, "", 4<<20)
	path := filepath.Join(dir, "full.webm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := Create(f, tracks[1:]) // audio only: one CuePoint per cluster
	if err != nil {
		t.Fatal(err)
	}
	var audio []int
	for i := range frames {
		if frames[i].Track == 1 {
			audio = append(audio, i)
		}
	}
	n := 0
	write := func(i int) error {
		fr := frames[i]
		fr.Track = 0
		if err := w.WriteFrame(fr); err != nil {
			return err
		}
		return w.Flush() // a cluster per frame: Cues of several kilobytes
	}
	for ; n < len(audio)/2; n++ {
		if err := write(audio[n]); err != nil {
			t.Fatal(err)
		}
	}
	tmpfs.Fill(t, dir, 0)
	for ; n < len(audio) && err == nil; n++ {
		err = write(audio[n])
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error %v, want ENOSPC", err)
	}
	if cerr := w.Close(); !errors.Is(cerr, syscall.ENOSPC) {
		t.Fatalf("Close returned %v, want the write error", cerr)
	}
	checkRepaired(t, w, path, false)
}
