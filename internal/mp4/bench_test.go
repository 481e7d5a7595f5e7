package mp4

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// BenchmarkWriteFrame writes a 30 fps ~10 Mbit/s H.264 + 44.1 kHz AAC stream (one op = one
// frame of either track). "file" writes to a temporary file, starting a new file every 1 GiB
// (each new file regrows the fragment buffers), and so mostly measures the kernel's page cache;
// "devnull" writes one endless file to /dev/null and isolates the writer's own steady-state cost.
func BenchmarkWriteFrame(b *testing.B) {
	b.Run("file", func(b *testing.B) { benchmarkWriteFrame(b, "") })
	b.Run("devnull", func(b *testing.B) { benchmarkWriteFrame(b, os.DevNull) })
}

func benchmarkWriteFrame(b *testing.B, target string) {
	tracks := []media.Track{videoTrack(), audioTrack(44100)}
	const gop = 2 * time.Second
	var cycle []media.Frame // one GOP of interleaved frames, timestamps relative to its start
	var cycleBytes int
	for vi, ai := 0, 0; ; {
		vd := time.Duration(vi) * time.Second / 30
		ad := time.Duration(ai) * 1024 * time.Second / 44100
		if vd >= gop && ad >= gop {
			break
		}
		var fr media.Frame
		if vd <= ad && vd < gop {
			size := 35_000
			if vi == 0 {
				size = 200_000
			}
			fr = media.Frame{Track: 0, DTS: vd, PTS: vd, Key: vi == 0, Data: avcAU(vi == 0, size)}
			vi++
		} else {
			fr = media.Frame{Track: 1, DTS: ad, PTS: ad, Key: true, Data: make([]byte, 372)}
			ai++
		}
		cycle = append(cycle, fr)
		cycleBytes += len(fr.Data)
	}
	b.SetBytes(int64(cycleBytes / len(cycle)))

	if target == "" {
		target = filepath.Join(b.TempDir(), "bench.mp4")
	}
	var f *os.File
	var w *Writer
	open := func() {
		var err error
		if f, err = os.OpenFile(target, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			b.Fatal(err)
		}
		if w, err = Create(f, tracks); err != nil {
			b.Fatal(err)
		}
	}
	finish := func() {
		err := w.Close()
		if target == os.DevNull {
			err = nil // fsync of /dev/null may fail
		}
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		if target != os.DevNull {
			os.Remove(target)
		}
	}
	open()
	var base time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(cycle)
		if j == 0 && i > 0 {
			base += gop
			if target != os.DevNull && w.Size() > 1<<30 {
				b.StopTimer()
				finish()
				open()
				base = 0
				b.StartTimer()
			}
		}
		fr := cycle[j]
		fr.DTS += base
		fr.PTS += base
		if err := w.WriteFrame(fr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	finish()
}

// TestSteadyStateAllocs: once the fragment buffers have grown, writing frames allocates nothing
// (the seek index grows by one entry per fragment, amortised to zero per frame).
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	w, _, _ := newTestWriter(t, videoTrack(), audioTrack(44100))
	av := synthAV{video: avcAU(true, 5000), audio: make([]byte, 300)}
	next := func() {
		if err := w.WriteFrame(av.next()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2000; i++ { // warm up: ~13 s of media
		next()
	}
	if n := testing.AllocsPerRun(5000, next); n != 0 {
		t.Errorf("%v allocations per frame in steady state", n)
	}
}
