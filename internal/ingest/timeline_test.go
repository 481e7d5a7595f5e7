package ingest

import (
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

const ms = time.Millisecond

// feed is a publisher's frames: track, DTS as sent, and when each arrives (from the start).
type feed struct {
	track int
	dts   time.Duration
	at    time.Duration
}

// run fixes the frames and returns their output DTS and the jumps removed.
func run(frames []feed) (out []time.Duration, cuts []time.Duration) {
	var tl Timeline
	t0 := time.Unix(1e9, 0)
	for _, f := range frames {
		fixed, cut := tl.Fix(media.Frame{Track: f.track, DTS: f.dts, PTS: f.dts + 40*ms}, t0.Add(f.at))
		if fixed.PTS-fixed.DTS != 40*ms {
			panic("PTS not shifted with DTS")
		}
		out = append(out, fixed.DTS)
		cuts = append(cuts, cut)
	}
	return out, cuts
}

// av is an honest stream: video every 40 ms, audio every 20 ms, arriving on time plus lateness.
func av(seconds int, lateness func(i int) time.Duration) []feed {
	var fs []feed
	for i := 0; i < seconds*50; i++ {
		d := time.Duration(i) * 20 * ms
		if i%2 == 0 {
			fs = append(fs, feed{0, d, d + lateness(i)})
		}
		fs = append(fs, feed{1, d, d + lateness(i)})
	}
	return fs
}

func same(t *testing.T, in []feed, out []time.Duration) {
	t.Helper()
	for i, f := range in {
		if out[i] != f.dts {
			t.Fatalf("frame %d (track %d, %v) moved to %v", i, f.track, f.dts, out[i])
		}
	}
}

func TestTimelineKeepsHonestTimestamps(t *testing.T) {
	for name, late := range map[string]func(int) time.Duration{
		"real time":  func(int) time.Duration { return 0 },
		"jitter":     func(i int) time.Duration { return time.Duration(i*7919%300) * ms },
		"burst":      func(i int) time.Duration { return -time.Duration(i) * 20 * ms }, // 10 s at once
		"GOP burst":  func(i int) time.Duration { return max(0, 2*time.Second-time.Duration(i)*20*ms) - 2*time.Second },
		"stall 5 s":  func(i int) time.Duration { return time.Duration(min(i, 100)/100) * 5 * time.Second },
		"faster 20%": func(i int) time.Duration { return -time.Duration(i) * 4 * ms },
	} {
		t.Run(name, func(t *testing.T) {
			in := av(10, late)
			out, _ := run(in)
			same(t, in, out)
		})
	}
}

// A publisher pausing (no frames for a while, timestamps following the wall clock) is honest.
func TestTimelineKeepsPause(t *testing.T) {
	in := []feed{{0, 0, 0}, {1, 0, 0}, {0, 30 * time.Second, 30 * time.Second}, {1, 30 * time.Second, 30 * time.Second}}
	out, _ := run(in)
	same(t, in, out)
}

// Issue 10 case 3: each audio frame jumps 9.9 s. The audio keeps the wall clock's pace and
// the video is untouched.
func TestTimelineEveryAudioFrameJumps(t *testing.T) {
	var in []feed
	for i := 0; i < 100; i++ {
		in = append(in, feed{0, time.Duration(i) * 40 * ms, time.Duration(i) * 40 * ms})
		in = append(in, feed{1, time.Duration(i) * (40*ms + 9900*ms), time.Duration(i) * 40 * ms})
	}
	out, cuts := run(in)
	for i, f := range in {
		if f.track == 0 && out[i] != f.dts {
			t.Fatalf("video frame %d moved: %v -> %v", i, f.dts, out[i])
		}
		if f.track == 1 && (out[i] != f.at || (i > 1 && cuts[i] != 9900*ms)) {
			t.Fatalf("audio frame %d: %v (cut %v), want %v (cut 9.9 s)", i, out[i], cuts[i], f.at)
		}
	}
}

// An encoder restart: both tracks jump an hour, the audio first, the video three frames
// later, and from then on 150 ms late (by the wall clock alone, its jump would look 150 ms
// shorter). Both take the same cut, so they stay in sync.
func TestTimelineJumpOnBothTracksKeepsSync(t *testing.T) {
	in := av(4, func(int) time.Duration { return 0 })
	for i := range in {
		switch {
		case in[i].track == 1 && in[i].at >= 2*time.Second:
			in[i].dts += time.Hour
		case in[i].track == 0 && in[i].at >= 2*time.Second+100*ms:
			in[i].dts += time.Hour
			in[i].at += 150 * ms
		}
	}
	out, cuts := run(in)
	var n int
	for i, f := range in {
		want := f.dts
		if want >= time.Hour {
			want -= time.Hour
			n++
		}
		if out[i] != want {
			t.Fatalf("frame %d (track %d, sent %v): %v, want %v (cut %v)", i, f.track, f.dts, out[i], want, cuts[i])
		}
	}
	if n == 0 {
		t.Fatal("no frame jumped")
	}
}

// A jump on the audio only: the video's frames keep their times (nothing pushed before its
// predecessor), the audio continues on the wall clock's pace.
func TestTimelineJumpOnOneTrack(t *testing.T) {
	in := av(4, func(int) time.Duration { return 0 })
	for i := range in {
		if in[i].track == 1 && in[i].at >= 2*time.Second {
			in[i].dts += 10 * time.Minute
		}
	}
	out, _ := run(in)
	for i, f := range in {
		want := f.dts
		if f.track == 1 && f.at >= 2*time.Second {
			want = f.at
		}
		if out[i] != want {
			t.Fatalf("frame %d (track %d, sent %v): %v, want %v", i, f.track, f.dts, out[i], want)
		}
	}
}

// A track that begins far ahead of the other is brought to the stream's time.
func TestTimelineTrackStartingAhead(t *testing.T) {
	in := []feed{{0, 0, 0}, {0, 40 * ms, 40 * ms}, {1, time.Hour, 50 * ms}, {1, time.Hour + 20*ms, 70 * ms}}
	out, cuts := run(in)
	if out[2] != 50*ms || out[3] != 70*ms || cuts[2] == 0 || cuts[3] != 0 {
		t.Fatalf("audio at %v %v (cuts %v), want 50ms 70ms", out[2], out[3], cuts)
	}
}

// Gaps just within MaxJump of the wall clock are kept; one just beyond is cut.
func TestTimelineThreshold(t *testing.T) {
	in := []feed{{0, 0, 0}, {0, 1040 * ms, 40 * ms}, {0, 2081 * ms, 80 * ms}}
	out, cuts := run(in)
	if out[1] != 1040*ms || cuts[1] != 0 || out[2] != 1080*ms || cuts[2] != 1001*ms {
		t.Fatalf("got %v cuts %v", out, cuts)
	}
}

// A publisher that sends 3 s ahead at start (a burst), then in real time, and whose audio
// jumps 9.9 s at each frame from 1 s on, in the burst already: the audio stays beside the video
// (within a video frame, two audio frames may get the same time), not at the wall clock's time,
// 3 s behind.
func TestTimelineJumpsInBurstStayWithStream(t *testing.T) {
	in := av(8, func(i int) time.Duration { return -min(time.Duration(i)*20*ms, 3*time.Second) })
	honest := make([]time.Duration, len(in))
	n := 0
	for i := range in {
		honest[i] = in[i].dts
		if in[i].track == 1 && in[i].dts >= time.Second {
			n++
			in[i].dts += time.Duration(n) * 9900 * ms
		}
	}
	out, cuts := run(in)
	for i, f := range in {
		if d := out[i] - honest[i]; d < -40*ms || d > 40*ms {
			t.Fatalf("frame %d (track %d, sent %v): %v, want %v within a video frame (cut %v)", i, f.track, f.dts, out[i], honest[i], cuts[i])
		}
	}
}
