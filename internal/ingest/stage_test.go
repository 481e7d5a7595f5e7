package ingest

import (
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// sink keeps what the stage handed on.
type sink struct {
	tracks    []media.Track
	published int
	frames    []media.Frame
}

func (s *sink) Publish(t []media.Track) { s.tracks = t; s.published++ }
func (s *sink) WriteFrame(f media.Frame) {
	if f.Buf != nil && f.Buf.Refs() < 1 {
		panic("a frame handed on after its payload was released")
	}
	s.frames = append(s.frames, f)
}

var (
	t0       = time.Unix(1e9, 0)
	avTracks = []media.Track{{Kind: media.Video, Codec: media.H264}, {Kind: media.Audio, Codec: media.AAC, SampleRate: 48000}}
)

func newStage(cfg Config) (*Stage, *sink, *strings.Builder) {
	var log strings.Builder
	k := &sink{}
	return New(k, slog.New(slog.NewTextHandler(&log, nil)), cfg), k, &log
}

// in is a frame as an ingest sends it: its kind, DTS, keyframe flag and arrival time.
type in struct {
	kind media.Kind
	dts  time.Duration
	key  bool
	at   time.Duration
}

func (s *Stage) feed(frames []in) {
	for _, f := range frames {
		s.Write(f.kind, media.Frame{DTS: f.dts, PTS: f.dts, Key: f.key, Data: []byte{1}}, t0.Add(f.at))
	}
}

// skewed is 3 s of 30 fps video (a keyframe a second) and 20 ms audio from 10 ms on, each
// arriving at its DTS, audio shifted by skew, sorted by arrival.
func skewed(skew time.Duration) []in {
	var fs []in
	for i := 0; i < 90; i++ {
		d := time.Duration(i) * time.Second / 30
		fs = append(fs, in{media.Video, d, i%30 == 0, d})
	}
	for d := 10 * ms; d < 3*time.Second; d += 20 * ms {
		fs = append(fs, in{media.Audio, d, true, max(0, d+skew)})
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].at < fs[j].at })
	return fs
}

func dtsOrdered(t *testing.T, frames []media.Frame) {
	t.Helper()
	for i := 1; i < len(frames); i++ {
		if frames[i].DTS < frames[i-1].DTS {
			t.Fatalf("frame %d (track %d) at %v after %v", i, frames[i].Track, frames[i].DTS, frames[i-1].DTS)
		}
	}
}

// Whichever track a publisher sends ahead, the frames leave in DTS order, every one once.
func TestStageOrdersTracks(t *testing.T) {
	for name, skew := range map[string]time.Duration{"audio late": 150 * ms, "audio early": -150 * ms, "in step": 0} {
		t.Run(name, func(t *testing.T) {
			s, k, _ := newStage(Config{})
			s.Publish(avTracks, t0)
			in := skewed(skew)
			s.feed(in)
			s.Flush()
			dtsOrdered(t, k.frames)
			if len(k.frames) != len(in) || !k.frames[0].Key || k.frames[0].Track != 0 {
				t.Fatalf("%d frames of %d, first %+v", len(k.frames), len(in), k.frames[0])
			}
		})
	}
}

// The output begins at the first keyframe: video before it and audio older than it go.
func TestStageStartsAtKeyframe(t *testing.T) {
	s, k, _ := newStage(Config{})
	s.feed([]in{{media.Audio, 0, true, 0}, {media.Video, 20 * ms, false, 20 * ms}, {media.Audio, 40 * ms, true, 40 * ms}})
	if k.published != 0 || len(k.frames) != 0 {
		t.Fatal("frames or tracks handed on before Publish")
	}
	s.Publish(avTracks, t0.Add(50*ms))
	s.feed([]in{{media.Audio, 80 * ms, true, 80 * ms}, {media.Video, 60 * ms, true, 90 * ms}, {media.Video, 93 * ms, false, 93 * ms}})
	s.Flush()
	var got []time.Duration
	for _, f := range k.frames {
		got = append(got, f.DTS)
	}
	if len(got) != 3 || got[0] != 60*ms || got[1] != 80*ms || got[2] != 93*ms || !k.frames[0].Key {
		t.Errorf("frames at %v, want the keyframe at 60ms, then audio at 80ms and video at 93ms", got)
	}
	if k.published != 1 || len(k.tracks) != 2 {
		t.Errorf("published %d times, tracks %v", k.published, k.tracks)
	}
}

// A track that stalls holds the other back InterleaveWait at most.
func TestStageInterleaveWaitBounded(t *testing.T) {
	s, k, _ := newStage(Config{})
	s.Publish(avTracks, t0)
	s.feed([]in{{media.Video, 0, true, 0}, {media.Audio, 0, true, 0}})
	for i := 1; i < 30; i++ { // audio stalls
		d := time.Duration(i) * 33 * ms
		s.feed([]in{{media.Video, d, false, d}})
	}
	if n := len(k.frames); n < 30-int(InterleaveWait/(33*ms))-2 || n >= 30 {
		t.Errorf("%d frames out while audio stalled, want all but the last %v of video", n, InterleaveWait)
	}
	s.Tick(t0.Add(2 * time.Second))
	if len(k.frames) != 31 {
		t.Errorf("%d frames out after the wait, want 31", len(k.frames))
	}
}

// Before the ingest knows its tracks, Full says when the held frames reach a limit; frames
// held before the first keyframe are trimmed to the limits.
func TestStageLimits(t *testing.T) {
	s, _, _ := newStage(Config{Limits: Limits{Frames: 10, Media: 5 * time.Second}})
	for i := 0; i < 9; i++ {
		s.feed([]in{{media.Audio, time.Duration(i) * 20 * ms, true, 0}})
	}
	if s.Full() {
		t.Fatal("full at 9 frames of 10")
	}
	s.feed([]in{{media.Audio, 180 * ms, true, 0}})
	if !s.Full() {
		t.Fatal("not full at 10 frames of 10")
	}
	w, k, _ := newStage(Config{Limits: Limits{Media: 3 * time.Second}})
	w.Publish(avTracks, t0)
	for d := time.Duration(0); d < 10*time.Second; d += 20 * ms {
		w.feed([]in{{media.Audio, d, true, d}})
	}
	if n := len(w.held); n > 3*50+1 {
		t.Errorf("%d audio frames held waiting for a keyframe, want 3 s of them", n)
	}
	w.feed([]in{{media.Video, 9 * time.Second, true, 10 * time.Second}})
	w.Flush()
	if len(k.frames) == 0 || k.frames[0].Track != 0 {
		t.Errorf("frames %v, want the keyframe first", k.frames)
	}
}

// Timestamps going back are dropped and logged once; a jump ahead is re-anchored, logged once.
func TestStageTimestampSanity(t *testing.T) {
	s, k, log := newStage(Config{})
	s.Publish(avTracks[:1], t0)
	s.feed([]in{{media.Video, 0, true, 0}, {media.Video, 40 * ms, false, 40 * ms}, {media.Video, 20 * ms, false, 80 * ms},
		{media.Video, 10 * ms, false, 120 * ms}, {media.Video, time.Hour, false, 160 * ms}, {media.Video, time.Hour + 40*ms, false, 200 * ms}})
	s.Flush()
	var got []time.Duration
	for _, f := range k.frames {
		got = append(got, f.DTS)
	}
	if len(got) != 4 || got[2] > time.Second || got[3]-got[2] != 40*ms {
		t.Errorf("frames at %v, want 0, 40ms, then the jump re-anchored", got)
	}
	if n := strings.Count(log.String(), "timestamps went backwards"); n != 1 {
		t.Errorf("logged %d times that timestamps went back, want once", n)
	}
	if n := strings.Count(log.String(), "timestamps jumped ahead"); n != 1 {
		t.Errorf("logged %d times that timestamps jumped, want once", n)
	}
}

// Aligned once (RTSP): the output waits for both tracks' reports, then audio moves by what they
// say; an offset beyond MaxOffset is distrusted.
func TestStageSyncOnce(t *testing.T) {
	for name, c := range map[string]struct {
		audioNTP time.Duration // NTP time of audio DTS 0
		want     time.Duration // first audio DTS
	}{
		"aligned":    {audioNTP: 100 * ms, want: 90 * ms}, // audio DTS 0 was captured 100 ms after video DTS 0
		"distrusted": {audioNTP: 10 * time.Second, want: -10 * ms},
	} {
		t.Run(name, func(t *testing.T) {
			s, k, _ := newStage(Config{SyncWait: 1500 * ms, MaxOffset: 5 * time.Second})
			s.Publish(avTracks, t0)
			s.feed([]in{{media.Video, 0, true, 0}, {media.Audio, -10 * ms, true, 0}, {media.Video, 33 * ms, false, 33 * ms}})
			if len(k.frames) != 0 {
				t.Fatal("output before the sender reports")
			}
			s.Sync(media.Video, time.Hour, 0)
			s.Sync(media.Audio, time.Hour+c.audioNTP, 0)
			s.feed([]in{{media.Video, 66 * ms, false, 66 * ms}}) // the output begins
			s.Sync(media.Audio, 0, 0)                            // ignored once aligned
			s.feed([]in{{media.Audio, 200 * ms, true, 200 * ms}})
			s.Flush()
			var audio []time.Duration
			for _, f := range k.frames {
				if f.Track == 1 {
					audio = append(audio, f.DTS)
				}
			}
			if c.want < 0 {
				if len(audio) != 1 || audio[0] != 200*ms {
					t.Errorf("audio at %v: want the first (older than the first keyframe) dropped, the next at 200ms", audio)
				}
				return
			}
			if len(audio) != 2 || audio[0] != c.want || audio[1] != 300*ms {
				t.Errorf("audio at %v, want %v", audio, c.want)
			}
		})
	}
}

// PublishAtStart describes the tracks to the sink only when the output begins.
func TestStagePublishAtStart(t *testing.T) {
	s, k, _ := newStage(Config{SyncWait: time.Second})
	described := 0
	s.PublishAtStart([]media.Track{{Kind: media.Video}, {Kind: media.Audio}}, func() []media.Track { described++; return avTracks }, t0)
	s.feed([]in{{media.Video, 0, true, 0}, {media.Audio, 0, true, 0}, {media.Video, 40 * ms, false, 500 * ms}})
	if k.published != 0 || described != 0 || len(k.frames) != 0 {
		t.Fatalf("published %d, described %d, %d frames while the output waits for sender reports", k.published, described, len(k.frames))
	}
	s.feed([]in{{media.Video, 80 * ms, false, 1100 * ms}})
	if k.published != 1 || described != 1 || len(k.tracks) != 2 || k.tracks[0].Codec != media.H264 || len(k.frames) == 0 {
		t.Errorf("published %d (%v), described %d, %d frames: want the described tracks published as the output begins", k.published, k.tracks, described, len(k.frames))
	}
}

// Without sender reports, the output begins SyncWait after the first keyframe.
func TestStageSyncWaitBounded(t *testing.T) {
	s, k, _ := newStage(Config{SyncWait: time.Second, Resync: 15 * ms})
	s.Publish(avTracks, t0)
	for i := 0; i < 40; i++ {
		d := time.Duration(i) * 33 * ms
		s.feed([]in{{media.Video, d, i == 0, d}, {media.Audio, d, true, d}})
		if d < time.Second && len(k.frames) > 0 {
			t.Fatalf("output at %v, before the sync wait is over", d)
		}
	}
	if len(k.frames) == 0 {
		t.Fatal("no output after the sync wait")
	}
}

// Pooled frames: each is retained while held and released once handed on or dropped.
func TestStagePooledReferences(t *testing.T) {
	s, k, _ := newStage(Config{Limits: Limits{Media: time.Second}})
	var bufs []*media.Buffer
	send := func(kind media.Kind, dts time.Duration, key bool) {
		b := media.NewBuffer(8)
		bufs = append(bufs, b)
		f := media.Frame{DTS: dts, PTS: dts, Key: key, Data: b.Bytes(), Buf: b}
		s.Write(kind, f, t0.Add(dts))
		f.Release()
	}
	for d := time.Duration(0); d < 3*time.Second; d += 20 * ms {
		send(media.Audio, d, true) // trimmed while no keyframe
	}
	send(media.Video, 3*time.Second, false) // dropped: no keyframe yet
	s.Publish(avTracks, t0.Add(3*time.Second))
	for i := 0; i < 60; i++ {
		d := 3*time.Second + time.Duration(i)*20*ms
		send(media.Video, d, i%30 == 0)
		send(media.Audio, d+10*ms, true)
		send(media.Audio, d-5*time.Second, true) // goes back: dropped
	}
	s.Flush()
	if len(k.frames) < 100 {
		t.Fatalf("only %d frames out", len(k.frames))
	}
	for i, b := range bufs {
		if b.Refs() != 0 {
			t.Fatalf("frame %d: %d references left", i, b.Refs())
		}
	}
}

func TestNTPDuration(t *testing.T) {
	if d := NTP(5<<32 | 1<<31); d != 5500*time.Millisecond {
		t.Errorf("ntp 5.5 s = %v", d)
	}
}

func TestNTPTime(t *testing.T) {
	// 2024-01-01T00:00:00.5Z: 3913056000 s since 1900, half a second.
	got := time.Unix(0, 0).Add(NTP(3913056000<<32|1<<31) - 2208988800*time.Second)
	if want := time.Date(2024, 1, 1, 0, 0, 0, 5e8, time.UTC); !got.Equal(want) {
		t.Errorf("NTP time = %v, want %v", got, want)
	}
}

// A publisher that stops sending but stays published: with Config.Timer the frames waiting for
// the other track leave once they waited InterleaveWait, though nothing else arrives; without
// it they wait for the next frame, a Tick or Flush.
func TestStageTimerReleasesWaitingFrames(t *testing.T) {
	for _, timer := range []bool{true, false} {
		s, k, _ := newStage(Config{Timer: timer})
		now := time.Now()
		s.Publish(avTracks, now)
		s.Write(media.Video, media.Frame{Key: true, Data: []byte{1}}, now)
		s.Write(media.Video, media.Frame{DTS: 33 * ms, Data: []byte{1}}, now)
		time.Sleep(InterleaveWait + 200*ms)
		s.mu.Lock() // the sink is called with the stage's lock held
		got := len(k.frames)
		s.mu.Unlock()
		if want := map[bool]int{true: 2, false: 0}[timer]; got != want {
			t.Errorf("Timer %v: %d frames handed on after %v without arrivals, want %d", timer, got, InterleaveWait+200*ms, want)
		}
		s.Flush()
		if len(k.frames) != 2 {
			t.Errorf("Timer %v: %d frames after Flush, want 2", timer, len(k.frames))
		}
	}
}
