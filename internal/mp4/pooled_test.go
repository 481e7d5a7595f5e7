package mp4

import (
	"bytes"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// TestPooledPayloads: pooled payloads are referenced until their fragment is on disk, then
// released; copied payloads may be reused by the caller at once; both land in the file intact.
func TestPooledPayloads(t *testing.T) {
	w, path, _ := newTestWriter(t, videoTrack(), audioTrack(44100))
	var bufs []*media.Buffer
	var wantVideo, wantAudio [][]byte
	scratch := make([]byte, 300) // the caller's reused audio buffer
	vi, ai := 0, 0
	for vi < 150 {
		vd := time.Duration(vi) * time.Second / 30
		ad := time.Duration(ai) * 1024 * time.Second / 44100
		var err error
		if vd <= ad {
			au := avcAU(vi%60 == 0, 2000+vi)
			for k := 5; k < len(au); k++ {
				au[k] = byte(vi + k)
			}
			b := media.NewBuffer(len(au))
			copy(b.Bytes(), au)
			bufs = append(bufs, b)
			wantVideo = append(wantVideo, au)
			err = w.WriteFrame(media.Frame{Track: 0, DTS: vd, PTS: vd, Key: vi%60 == 0, Data: b.Bytes(), Buf: b})
			if b.Refs() != 2 {
				t.Fatalf("video frame %d: %d references while pending, want 2 (ours and the writer's)", vi, b.Refs())
			}
			vi++
		} else {
			for k := range scratch {
				scratch[k] = byte(ai * 3)
			}
			wantAudio = append(wantAudio, append([]byte(nil), scratch...))
			err = w.WriteFrame(media.Frame{Track: 1, DTS: ad, PTS: ad, Key: true, Data: scratch})
			ai++
		}
		if err != nil {
			t.Fatal(err)
		}
		if vi%45 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, b := range bufs {
		if b.Refs() != 1 {
			t.Errorf("video frame %d: %d references after Close, want 1 (ours)", i, b.Refs())
		}
	}
	_, samples, _ := readBack(t, path)
	if len(samples[1]) != len(wantVideo) || len(samples[2]) != len(wantAudio) {
		t.Fatalf("%d video and %d audio samples, want %d and %d", len(samples[1]), len(samples[2]), len(wantVideo), len(wantAudio))
	}
	for i, s := range samples[1] {
		if !bytes.Equal(s.data, wantVideo[i]) {
			t.Fatalf("video sample %d differs", i)
		}
	}
	for i, s := range samples[2] {
		if !bytes.Equal(s.data, wantAudio[i]) {
			t.Fatalf("audio sample %d differs", i)
		}
	}
}

// TestPooledReleasedOnError: a writer that cannot write still gives the references back at Close.
func TestPooledReleasedOnError(t *testing.T) {
	w, _, f := newTestWriter(t, videoTrack())
	b := media.NewBuffer(100)
	copy(b.Bytes(), avcAU(true, 96))
	if err := w.WriteFrame(media.Frame{Track: 0, Key: true, Data: b.Bytes(), Buf: b}); err != nil {
		t.Fatal(err)
	}
	f.Close() // every write fails from now on
	c := media.NewBuffer(100)
	copy(c.Bytes(), avcAU(false, 96))
	w.WriteFrame(media.Frame{Track: 0, DTS: time.Second / 30, Data: c.Bytes(), Buf: c})
	w.Flush()
	if err := w.Close(); err == nil {
		t.Fatal("Close on a closed file succeeded")
	}
	if b.Refs() != 1 || c.Refs() != 1 {
		t.Errorf("references after Close: %d, %d; want 1, 1", b.Refs(), c.Refs())
	}
}
