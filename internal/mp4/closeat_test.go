package mp4

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// A part cut at 1 s whose last audio frame reaches past the cut ends at exactly 1 s.
func TestCloseAtEndsEveryTrackAtTheCut(t *testing.T) {
	w, f := createWriter(t, filepath.Join(t.TempDir(), "part.mp4"), []media.Track{videoTrack(), audioTrack(44100)})
	aframe := 1024 * time.Second / 44100
	for i := 0; i < 30; i++ {
		ts := time.Duration(i) * time.Second / 30
		if err := w.WriteFrame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i == 0, Data: avcAU(i == 0, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	for ts := time.Duration(0); ts < time.Second; ts += aframe {
		if err := w.WriteFrame(media.Frame{Track: 1, DTS: ts, PTS: ts, Key: true, Data: []byte{0x21, 0x10}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := w.Duration(); d <= time.Second {
		t.Fatalf("the test's last audio frame should reach past 1 s: Duration() = %v", d)
	}
	if err := w.CloseAt(time.Second); err != nil {
		t.Fatal(err)
	}
	if d := w.Duration(); d != time.Second {
		t.Errorf("Duration() after CloseAt(1s) = %v", d)
	}
	p := mediatest.ProbeFile(t, f.Name(), "-show_format")
	if s := mediatest.Seconds(p.Format.Duration); s != 1 {
		t.Errorf("ffprobe duration %v, want 1", s)
	}
}
