package mp4

import (
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

// crashedFile writes seconds of synthetic 30 fps video (a keyframe a second, B-frame offsets)
// and AAC audio, flushing every 10 video frames as the recorder's ticker would, and returns the
// bytes on disk without Close (a kill -9), the checkpoints, and the bytes Close would have made.
func crashedFile(t testing.TB, seconds int) (crashed []byte, cps []containertest.Checkpoint, closed []byte) {
	t.Helper()
	w, path, f := newTestWriter(t, videoTrack(), audioTrack(44100))
	cps = []containertest.Checkpoint{{Good: w.good}}
	audio := time.Duration(0)
	for i := range seconds * 30 {
		dts := time.Duration(i) * time.Second / 30
		for ; audio <= dts; audio += 1024 * time.Second / 44100 {
			if err := w.WriteFrame(media.Frame{Track: 1, DTS: audio, PTS: audio, Data: make([]byte, 200)}); err != nil {
				t.Fatal(err)
			}
		}
		fr := media.Frame{Track: 0, DTS: dts, PTS: dts + time.Second/15, Key: i%30 == 0, Data: avcAU(i%30 == 0, 300+i%7)}
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			var d time.Duration
			for j := range w.tracks {
				d = max(d, fromTicks(w.tracks[j].doneEnd, w.tracks[j].timescale))
			}
			cps = append(cps, containertest.Checkpoint{Good: w.good, Duration: d})
		}
	}
	crashed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if closed, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	return crashed, cps, closed
}

// boxBoundaries lists every box start and end in data (descending into moov, trak, mdia, minf,
// stbl, mvex, moof and traf), and the middle of every box, sorted and unique.
func boxBoundaries(data []byte) []int {
	seen := map[int]bool{}
	var walk func(start, end int)
	walk = func(start, end int) {
		for pos := start; pos+8 <= end; {
			size := int(binary.BigEndian.Uint32(data[pos:]))
			if size < 8 || pos+size > end {
				return
			}
			seen[pos], seen[pos+size], seen[pos+size/2] = true, true, true
			seen[pos+4] = true // inside the header
			switch string(data[pos+4 : pos+8]) {
			case "moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf":
				walk(pos+8, pos+size)
			}
			pos += size
		}
	}
	walk(0, len(data))
	return slices.Sorted(maps.Keys(seen))
}

// TestRecoverCutEverywhere cuts a crashed recording at every box boundary, inside every box
// header and in the middle of every box: Recover keeps exactly the complete fragments before
// the cut, with their duration in the header and an mfra that indexes them.
func TestRecoverCutEverywhere(t *testing.T) {
	crashed, cps, _ := crashedFile(t, 4)
	path := filepath.Join(t.TempDir(), "cut.mp4")
	containertest.RecoverCutEverywhere(t, path, crashed, cps, boxBoundaries(crashed), Recover, func(c int, want containertest.Checkpoint, after []byte) {
		mvhd := binary.BigEndian.Uint64(after[mvhdDurOffset(t, after):])
		if time.Duration(mvhd)*time.Millisecond != want.Duration.Round(time.Millisecond) {
			t.Fatalf("cut at %d: mvhd duration %d ms, want %v", c, mvhd, want.Duration)
		}
		if want.Good > cps[0].Good && string(after[want.Good+4:want.Good+8]) != "mfra" {
			t.Fatalf("cut at %d: no mfra after the last fragment", c)
		}
	})
}

// mvhdDurOffset finds the mvhd duration in a file's init segment.
func mvhdDurOffset(t testing.TB, data []byte) int {
	seg := &initSegment{}
	ftyp := int(binary.BigEndian.Uint32(data))
	moov := int(binary.BigEndian.Uint32(data[ftyp:]))
	seg.data = data[:ftyp+moov]
	if err := seg.locateDurations(2); err != nil {
		t.Fatal(err)
	}
	return seg.mvhdDur
}

// A file finished cleanly before the crash (the journal still listed it) is finished again,
// byte for byte the same.
func TestRecoverFinishedFileUnchanged(t *testing.T) {
	_, _, closed := crashedFile(t, 3)
	containertest.RecoverUnchanged(t, filepath.Join(t.TempDir(), "cut.mp4"), closed, Recover)
}

// TestRecoverPlays: a real recording (ffmpeg's H.264 + AAC) killed mid-fragment and recovered
// decodes clean and has its real duration in the header, as ffprobe reads it.
func TestRecoverPlays(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	tracks, frames := demux(t, makeSource(t, sourceOpts{video: true, audio: true, seconds: 6}))
	w, path, f := newTestWriter(t, tracks...)
	for i, fr := range frames {
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			w.Flush()
		}
	}
	good := w.good
	var want time.Duration
	for j := range w.tracks {
		want = max(want, fromTicks(w.tracks[j].doneEnd, w.tracks[j].timescale))
	}
	// The kill tore a fragment: half of one is on disk.
	f.Write(make([]byte, 500))
	f.Close()
	tear := filepath.Join(t.TempDir(), "torn.mp4")
	data, _ := os.ReadFile(path)
	copy(data[good:], []byte{0, 0, 0x10, 0, 'm', 'o', 'o', 'f'})
	os.WriteFile(tear, data, 0o644)
	rf, err := os.OpenFile(tear, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	r, err := Recover(rf)
	if err != nil {
		t.Fatal(err)
	}
	if r.Duration != want || r.Cut != 500 || want < 5*time.Second {
		t.Errorf("recovered %+v, want duration %v and 500 bytes cut", r, want)
	}
	if msg := mediatest.DecodeErrors(t, tear); msg != "" {
		t.Errorf("ffmpeg decoding the recovered file printed:\n%s", msg)
	}
	if p := mediatest.ProbeFile(t, tear, "-show_format"); math.Abs(mediatest.Seconds(p.Format.Duration)-want.Seconds()) > 0.05 {
		t.Errorf("ffprobe duration %s s, want %.3f", p.Format.Duration, want.Seconds())
	}
}

// FuzzRecover: whatever a file holds, Recover neither panics nor allocates past its bounds, and
// a file it repaired repairs again to the same thing.
func FuzzRecover(f *testing.F) {
	crashed, cps, closed := crashedFile(f, 2)
	containertest.FuzzRecover(f, "cut.mp4", crashed, cps, closed, Recover)
}
