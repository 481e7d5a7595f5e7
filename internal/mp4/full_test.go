package mp4

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// writeUntilFull writes frames to a new file in dir, flushing every flushEvery frames, until a
// write fails; it returns the writer, the file and the error.
func writeUntilFull(t *testing.T, dir string, tracks []media.Track, frames []media.Frame, flushEvery int) (*Writer, *os.File, error) {
	t.Helper()
	w, f := createWriter(t, filepath.Join(dir, "full.mp4"), tracks)
	for i, fr := range frames {
		err := w.WriteFrame(fr)
		if err == nil && flushEvery > 0 && i%flushEvery == 0 {
			err = w.Flush()
		}
		if err != nil {
			return w, f, err
		}
	}
	t.Fatal("the file system never filled up")
	return nil, nil, nil
}

// checkRepaired judges a file repaired after a write error: ffmpeg decodes it clean, its header
// duration is the writer's Duration and not 0, every fragment on disk is whole, and the mfra is
// there or not as wanted.
func checkRepaired(t *testing.T, w *Writer, f *os.File, wantMfra bool) {
	t.Helper()
	path := f.Name()
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decoding the repaired file printed:\n%s", msg)
	}
	file, samples, nFrag := readBack(t, path)
	d := w.Duration().Seconds()
	mvhd := float64(file.Moov.Mvhd.Duration) / float64(file.Moov.Mvhd.Timescale)
	if d < 1 || math.Abs(mvhd-d) > 0.001 {
		t.Errorf("header duration %.3f s, writer's %.3f s; want equal and more than 1 s", mvhd, d)
	}
	if probe := mediatest.ProbeFile(t, path, "-show_format"); math.Abs(mediatest.Seconds(probe.Format.Duration)-d) > 0.05 {
		t.Errorf("ffprobe duration %s s, want %.3f", probe.Format.Duration, d)
	}
	if (file.Mfra != nil) != wantMfra {
		t.Errorf("mfra present: %v, want %v", file.Mfra != nil, wantMfra)
	}
	st, _ := f.Stat()
	if st.Size() != w.Size() {
		t.Errorf("file has %d bytes, Size() says %d", st.Size(), w.Size())
	}
	t.Logf("repaired: %d fragments, %d video samples, %.2f s, %d bytes, mfra %v", nFrag, len(samples[1]), d, st.Size(), file.Mfra != nil)
}

// TestFullDiskLeavesPlayableFile: the disk fills up in the middle of a fragment. Close cuts the
// torn fragment off, patches the durations and appends the mfra in the space that freed, and
// still returns the write error.
func TestFullDiskLeavesPlayableFile(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	tracks, frames := demux(t, makeSource(t, sourceOpts{video: true, audio: true, seconds: 10}))
	dir := tmpfs.Mount(t, "", 256<<10)
	w, f, err := writeUntilFull(t, dir, tracks, frames, 0)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error %v, want ENOSPC", err)
	}
	cerr := w.Close()
	if !errors.Is(cerr, syscall.ENOSPC) {
		t.Fatalf("Close returned %v, want the write error", cerr)
	}
	checkRepaired(t, w, f, true)
}

// TestFullDiskNoRoomForIndex: the disk is full to the last page when the fragment tears, and
// the mfra (over a page: many fragments) does not fit: the file is cut back to its last complete
// fragment and plays without a seek index.
func TestFullDiskNoRoomForIndex(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	tracks, frames := demux(t, makeSource(t, sourceOpts{video: true, audio: true, seconds: 10}))
	dir := tmpfs.Mount(t, "", 4<<20)
	w, f := createWriter(t, filepath.Join(dir, "full.mp4"), tracks)
	i := 0
	for ; i < len(frames)/2; i++ {
		if err := w.WriteFrame(frames[i]); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // a fragment every other frame: an mfra of several kilobytes
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	tmpfs.Fill(t, dir, 0)
	var err error
	for ; i < len(frames) && err == nil; i++ {
		if err = w.WriteFrame(frames[i]); err == nil {
			err = w.Flush()
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write error %v, want ENOSPC", err)
	}
	if cerr := w.Close(); !errors.Is(cerr, syscall.ENOSPC) {
		t.Fatalf("Close returned %v, want the write error", cerr)
	}
	checkRepaired(t, w, f, false)
}
