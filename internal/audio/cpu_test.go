package audio

import (
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// CPU counts the CPU time of the transcoder's calls: it grows with the audio transcoded, is
// far below the audio's duration (5 s of 48 kHz stereo AAC to 44.1 kHz), and stays at its
// last value after Close.
func TestCPUCounted(t *testing.T) {
	in := makeAAC(t, 48000, 2)
	tr := newTranscoder(t, in.track, media.AAC, 44100, 2)
	if tr.CPU() != 0 {
		t.Fatalf("CPU %v before any call", tr.CPU())
	}
	half := len(in.frames) / 2
	for i, f := range in.frames[:half] {
		if _, err := tr.Transcode(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	first := tr.CPU()
	transcodeAll(t, tr, in.frames[half:])
	all := tr.CPU()
	if first <= 0 || all <= first || all > in.total() {
		t.Errorf("CPU %v after half of %v of audio, %v after all of it", first, in.total(), all)
	}
	tr.Close()
	if tr.CPU() != all {
		t.Errorf("CPU %v after Close, was %v", tr.CPU(), all)
	}
	t.Logf("%v of CPU for %v of audio", all.Round(time.Microsecond), in.total())
}
