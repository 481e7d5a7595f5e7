package mp4

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// BenchmarkClose measures finishing a recording (Close: last fragment, mfra index, duration
// patches, fsync) after 1 minute and after 1 hour of 30 fps video + 44.1 kHz AAC, fragments
// cut every second as the recorder's flush does. Frames are tiny so that the file is small and
// the page cache clean: what differs between the two is the length of the recording, i.e. the
// number of fragments (3600 for an hour), which is all Close's work depends on. Each op
// writes a new file (outside the timer) and closes it.
func BenchmarkClose(b *testing.B) {
	for _, minutes := range []int{1, 60} {
		b.Run(strconv.Itoa(minutes)+"min", func(b *testing.B) {
			dir := b.TempDir()
			video, audio := avcAU(true, 16), make([]byte, 8)
			var size int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				path := filepath.Join(dir, "close.mp4")
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				w, err := Create(f, []media.Track{videoTrack(), audioTrack(44100)})
				if err != nil {
					b.Fatal(err)
				}
				end := time.Duration(minutes) * time.Minute
				av := synthAV{video: video, audio: audio}
				next := time.Second
				for fr := av.next(); fr.DTS < end; fr = av.next() {
					if err := w.WriteFrame(fr); err != nil {
						b.Fatal(err)
					}
					if fr.DTS >= next {
						next += time.Second
						if err := w.Flush(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := f.Sync(); err != nil { // what the kernel writes back on its own anyway
					b.Fatal(err)
				}
				b.StartTimer()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				size = w.Size()
				f.Close()
				os.Remove(path)
			}
			b.ReportMetric(float64(size)/1e6, "MB-file")
		})
	}
}
