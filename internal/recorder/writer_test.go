package recorder

import (
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/ingest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mp4"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
)

// fakeContainer keeps what a part received.
type fakeContainer struct {
	tracks  []media.Track // as created
	frames  []media.Frame
	closeAt time.Duration // -1: closed with Close
	closed  bool
}

func (c *fakeContainer) WriteFrame(f media.Frame) error {
	c.frames = append(c.frames, f)
	return nil
}
func (c *fakeContainer) Flush() error                    { return nil }
func (c *fakeContainer) Close() error                    { c.closed, c.closeAt = true, -1; return nil }
func (c *fakeContainer) CloseAt(end time.Duration) error { c.closed, c.closeAt = true, end; return nil }
func (c *fakeContainer) Size() int64                     { return 0 }
func (c *fakeContainer) Duration() time.Duration         { return 0 }

// rotatingWriter returns a writer recording a video+AAC stream in parts of 2 s into fake
// containers, and the containers in part order.
func rotatingWriter(t *testing.T) (*writer, *[]*fakeContainer) {
	t.Helper()
	return fakeWriter(t, 2)
}

// fakeWriter returns a writer recording a video+AAC stream into fake containers, in parts of
// rotation seconds (0: rotation off), and the containers in part order.
func fakeWriter(t *testing.T, rotation int) (*writer, *[]*fakeContainer) {
	t.Helper()
	return fakeWriterOf(t, rotation, 44100, media.Track{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2})
}

// fakeWriterOf is fakeWriter for a video stream with that audio track, recorded at rate Hz.
func fakeWriterOf(t *testing.T, rotation, rate int, audio media.Track) (*writer, *[]*fakeContainer) {
	t.Helper()
	var parts []*fakeContainer
	w := testWriter(t, rotation, rate, audio, func(_ *os.File, tracks []media.Track) (container, error) {
		c := &fakeContainer{tracks: tracks}
		parts = append(parts, c)
		return c, nil
	})
	return w, &parts
}

// testWriter returns a writer recording an H.264 stream with that audio track (at rate Hz) in
// parts of rotation seconds, its first part opened, into the containers create makes.
func testWriter(t *testing.T, rotation, rate int, audio media.Track, create func(*os.File, []media.Track) (container, error)) *writer {
	t.Helper()
	o := Options{
		Settings: &conf.Settings{Policy: "streamName", SampleRate: rate, RotationSeconds: rotation},
		Values:   naming.Values{StreamName: "u"},
		Tracks:   []media.Track{{Kind: media.Video, Codec: media.H264}, audio},
		Files:    records.New(t.TempDir(), nil),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	p, err := newPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	p.create = create
	w := newWriter(&Recorder{opts: o, plan: p})
	if err := w.openPart(nil, 0); err != nil {
		t.Fatal(err)
	}
	return w
}

// writerSink feeds a writer the way the stream does: from the ingest stage, in DTS order.
type writerSink struct{ w *writer }

func (writerSink) Publish([]media.Track)      {}
func (s writerSink) WriteFrame(f media.Frame) { s.w.frame(f) }

// staged returns an ingest stage publishing the writer's tracks to it, and a function writing a
// frame of a track that arrived at time at (from an arbitrary origin).
func staged(w *writer) (*ingest.Stage, func(f media.Frame, at time.Duration)) {
	st := ingest.New(writerSink{w}, w.r.opts.Log, ingest.Config{})
	t0 := time.Unix(1e9, 0)
	st.Publish(w.r.opts.Tracks, t0)
	return st, func(f media.Frame, at time.Duration) {
		st.Write(w.r.opts.Tracks[f.Track].Kind, f, t0.Add(at))
	}
}

// Audio is routed by its DTS whatever the interleaving the publisher sent: audio arriving after
// the cutting keyframe but older than it goes to the previous part, audio arriving before the
// keyframe but newer than it to the next part (the ingest stage puts them in DTS order). Every
// frame lands once, at its own time.
func TestRotationRoutesAudioByDTS(t *testing.T) {
	const ms = time.Millisecond
	aframe := 1024 * time.Second / 44100
	for name, skew := range map[string]time.Duration{"audio late": 150 * ms, "audio early": -150 * ms, "in step": 0} {
		t.Run(name, func(t *testing.T) {
			w, parts := rotatingWriter(t)
			// 7 s at 30 fps with a keyframe every second, and AAC frames from 10 ms on; each
			// frame arrives at its DTS, audio shifted by skew.
			type arrival struct {
				at time.Duration
				f  media.Frame
			}
			var in []arrival
			for i := 0; i < 210; i++ {
				ts := time.Duration(i) * time.Second / 30
				in = append(in, arrival{ts, media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i%30 == 0, Data: []byte{1}}})
			}
			var audio []time.Duration
			for ts := 10 * ms; ts < 7*time.Second; ts += aframe {
				audio = append(audio, ts)
				in = append(in, arrival{ts + skew, media.Frame{Track: 1, DTS: ts, PTS: ts, Key: true, Data: []byte{2}}})
			}
			sort.SliceStable(in, func(i, j int) bool { return in[i].at < in[j].at })
			st, write := staged(w)
			for _, a := range in {
				write(a.f, a.at)
			}
			st.Flush()
			w.finish()
			if w.err != nil {
				t.Fatal(w.err)
			}
			if len(*parts) != 4 {
				t.Fatalf("%d parts, want 4", len(*parts))
			}
			var got []time.Duration
			for k, c := range *parts {
				origin := time.Duration(2*k) * time.Second
				span := 2 * time.Second
				if !c.closed || (k < 3 && c.closeAt != span) || (k == 3 && c.closeAt != -1) {
					t.Errorf("part %d: closed %v at %v, want closed at its span %v (the last with Close)", k+1, c.closed, c.closeAt, span)
				}
				var video int
				for _, f := range c.frames {
					if f.Track == 0 {
						if video == 0 && (!f.Key || f.DTS != 0) {
							t.Errorf("part %d begins with video %+v, want a keyframe at 0", k+1, f)
						}
						video++
						continue
					}
					if f.DTS < 0 || (k < 3 && f.DTS >= span) {
						t.Errorf("part %d holds audio at %v, outside its span", k+1, f.DTS)
					}
					got = append(got, origin+f.DTS)
				}
				if want := []int{60, 60, 60, 30}[k]; video != want {
					t.Errorf("part %d: %d video frames, want %d", k+1, video, want)
				}
			}
			if len(got) != len(audio) {
				t.Fatalf("%d audio frames written, %d sent", len(got), len(audio))
			}
			for i := range got {
				if got[i] != audio[i] {
					t.Fatalf("audio frame %d written at %v, sent at %v", i, got[i], audio[i])
				}
			}
		})
	}
}

// Transcoded audio lags its input (the encoder's frame and delay): audio older than a cut comes
// out of the encoder after the cutting keyframe, though the frames come in DTS order. The
// previous part stays open for it, so each part's audio runs up to its cut and none is dropped.
func TestRotationTranscodedAudioReachesCut(t *testing.T) {
	w, partsp := fakeWriterOf(t, 2, 8000, media.Track{Kind: media.Audio, Codec: media.PCMA, SampleRate: 8000, Channels: 1})
	if w.p.transcode == nil {
		t.Fatal("PCMA is not transcoded")
	}
	// 5 s in DTS order: 25 fps video with a keyframe a second, 20 ms PCMA packets.
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xd5
	}
	for ms := 0; ms < 5000; ms += 20 {
		ts := time.Duration(ms) * time.Millisecond
		if ms%40 == 0 {
			w.frame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: ms%1000 == 0, Data: []byte{1}})
		}
		w.frame(media.Frame{Track: 1, DTS: ts, PTS: ts, Key: true, Data: silence})
	}
	w.finish()
	parts := *partsp
	if w.err != nil || len(parts) != 3 {
		t.Fatalf("err %v, %d parts, want 3", w.err, len(parts))
	}
	aac := 1024 * time.Second / 8000
	for k, c := range parts[:2] {
		var last time.Duration = -1
		for _, f := range c.frames {
			if f.Track == 1 {
				if f.DTS < 0 || f.DTS >= 2*time.Second {
					t.Errorf("part %d: audio at %v, outside its span", k+1, f.DTS)
				}
				last = f.DTS
			}
		}
		if last < 2*time.Second-2*aac {
			t.Errorf("part %d: audio ends at %v, want it to reach the cut at 2s (within an AAC frame)", k+1, last+aac)
		}
	}
	if w.lateAudio {
		t.Error("audio dropped as late")
	}
}

// A room stream is never rotated, and the log says so once.
func TestRoomStreamNotRotatedAndLoggedOnce(t *testing.T) {
	var log strings.Builder
	o := Options{
		Settings:   &conf.Settings{Policy: "streamName", SampleRate: 44100, RotationSeconds: 2},
		Values:     naming.Values{StreamName: "room"},
		Tracks:     []media.Track{{Kind: media.Video, Codec: media.H264}},
		Files:      records.New(t.TempDir(), nil),
		Log:        slog.New(slog.NewTextHandler(&log, nil)),
		NoRotation: true,
	}
	p, err := newPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	var parts int
	p.create = func(*os.File, []media.Track) (container, error) { parts++; return &fakeContainer{}, nil }
	w := newWriter(&Recorder{opts: o, plan: p})
	if err := w.openPart(nil, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		ts := time.Duration(i) * time.Second / 30
		w.frame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i%30 == 0, Data: []byte{1}})
	}
	w.finish()
	if parts != 1 || w.r.Finished()[0].Name != "room.mp4" {
		t.Errorf("%d parts, first %+v: want one unnumbered file", parts, w.r.Finished())
	}
	if n := strings.Count(log.String(), "rotation is off for this stream"); n != 1 {
		t.Errorf("the log says %d times that rotation is off:\n%s", n, log.String())
	}
}

// refusingContainer refuses frames whose DTS steps back, as the MP4 writer does.
type refusingContainer struct {
	fakeContainer
	last time.Duration
}

func (c *refusingContainer) WriteFrame(f media.Frame) error {
	if f.DTS < c.last {
		return mp4.ErrDTSBackwards
	}
	c.last = f.DTS
	return c.fakeContainer.WriteFrame(f)
}

// A frame the container refuses (a timestamp stepping back) is skipped, logged once, and the
// recording goes on; only other write errors end it.
func TestRefusedFrameDoesNotEndRecording(t *testing.T) {
	var log strings.Builder
	o := Options{
		Settings: &conf.Settings{Policy: "streamName", SampleRate: 44100},
		Values:   naming.Values{StreamName: "odd"},
		Tracks:   []media.Track{{Kind: media.Video, Codec: media.H264}},
		Files:    records.New(t.TempDir(), nil),
		Log:      slog.New(slog.NewTextHandler(&log, nil)),
	}
	p, err := newPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &refusingContainer{}
	p.create = func(*os.File, []media.Track) (container, error) { return c, nil }
	w := newWriter(&Recorder{opts: o, plan: p})
	if err := w.openPart(nil, 0); err != nil {
		t.Fatal(err)
	}
	for i, ms := range []int{0, 33, 66, 50, 40, 100, 133} { // 50 and 40 step back
		ts := time.Duration(ms) * time.Millisecond
		w.frame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i == 0, Data: []byte{1}})
	}
	w.finish()
	if w.err != nil || len(c.frames) != 5 {
		t.Fatalf("err %v, %d frames written; want the recording to go on with the 5 in-order frames", w.err, len(c.frames))
	}
	if n := strings.Count(log.String(), "frame skipped"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, log.String())
	}
}

// A keyframe with new video parameters begins a new part, with rotation off too: the parts are
// NAME.mp4 and NAME-2.mp4, each with its own description, and the audio is routed by DTS.
// Params the part already has (repeated on a later keyframe) change nothing.
func TestParamsChangeStartsNewPart(t *testing.T) {
	w, parts := fakeWriter(t, 0)
	small := media.Track{Kind: media.Video, Codec: media.H264, SPS: [][]byte{{0x67, 1}}, PPS: [][]byte{{0x68}}, Width: 640, Height: 360}
	large := media.Track{Kind: media.Video, Codec: media.H264, SPS: [][]byte{{0x67, 2}}, PPS: [][]byte{{0x68}}, Width: 1280, Height: 720}
	aframe := 1024 * time.Second / 44100
	next := time.Duration(0) // next audio DTS
	st, write := staged(w)
	for i := 0; i < 90; i++ {
		ts := time.Duration(i) * time.Second / 30
		f := media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i%30 == 0, Data: []byte{1}}
		switch i {
		case 0:
			f.Params = &small // the part was opened without parameter sets: started over
		case 30:
			f.Params = &large
		case 60:
			f.Params = &large
		}
		write(f, ts)
		for ; next < ts+50*time.Millisecond; next += aframe { // audio slightly ahead
			write(media.Frame{Track: 1, DTS: next, PTS: next, Key: true, Data: []byte{2}}, ts)
		}
	}
	st.Flush()
	w.finish()
	if w.err != nil {
		t.Fatal(w.err)
	}
	// The first container was started over at the first keyframe: 3 created, the first unused.
	if len(*parts) != 3 || len((*parts)[0].frames) != 0 {
		t.Fatalf("%d containers, want 3 (the first started over)", len(*parts))
	}
	files := w.r.Finished()
	if len(files) != 2 || files[0].Name != "u.mp4" || files[1].Name != "u-2.mp4" {
		t.Fatalf("files %+v, want u.mp4 and u-2.mp4", files)
	}
	for k, want := range []media.Track{small, large} {
		c := (*parts)[k+1]
		if got := c.tracks[0]; got.Width != want.Width || string(got.SPS[0]) != string(want.SPS[0]) {
			t.Errorf("part %d video track %v, want %v", k+1, got, want)
		}
		var video, audio int
		for _, f := range c.frames {
			if f.Track == 0 {
				video++
				continue
			}
			audio++
			if f.DTS < 0 || (k == 0 && f.DTS >= time.Second) {
				t.Errorf("part %d: audio at %v is outside it", k+1, f.DTS)
			}
		}
		if wantVideo := []int{30, 60}[k]; video != wantVideo {
			t.Errorf("part %d: %d video frames, want %d", k+1, video, wantVideo)
		}
		if audio == 0 {
			t.Errorf("part %d: no audio", k+1)
		}
	}
	if c := (*parts)[1]; c.closeAt != time.Second {
		t.Errorf("first part closed at %v, want at the cut (1s)", c.closeAt)
	}
}

// A publisher changing its parameters at every keyframe (3 a second) gets a new file at most
// once a second: the cut waits for a keyframe a second into the part.
func TestParamsChangesBounded(t *testing.T) {
	w, parts := fakeWriter(t, 0)
	sizes := []media.Track{
		{Kind: media.Video, Codec: media.H264, SPS: [][]byte{{0x67, 1}}, PPS: [][]byte{{0x68}}, Width: 640, Height: 360},
		{Kind: media.Video, Codec: media.H264, SPS: [][]byte{{0x67, 2}}, PPS: [][]byte{{0x68}}, Width: 1280, Height: 720},
	}
	for i := 0; i < 300; i++ { // 10 s at 30 fps
		ts := time.Duration(i) * time.Second / 30
		f := media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i%10 == 0, Data: []byte{1}}
		if f.Key {
			f.Params = &sizes[i/10%2]
		}
		w.frame(f)
	}
	w.finish()
	if w.err != nil {
		t.Fatal(w.err)
	}
	files := w.r.Finished()
	t.Logf("%d files", len(files))
	if len(files) < 5 || len(files) > 11 {
		t.Errorf("%d files for 10 s of changes at every keyframe, want about one a second", len(files))
	}
	for _, c := range (*parts)[1:] {
		if video := len(c.frames); video < 30 && c != (*parts)[len(*parts)-1] {
			t.Errorf("a part of %d frames: shorter than a second", len(c.frames))
		}
	}
}
