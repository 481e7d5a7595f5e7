package audio

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// Inputs are made once per test binary run (ffmpeg takes a moment) and shared read-only.
var (
	inputsMu sync.Mutex
	inputs   = map[string]input{}
)

func cached(tb testing.TB, key string, make func(testing.TB) input) input {
	tb.Helper()
	inputsMu.Lock()
	defer inputsMu.Unlock()
	if in, ok := inputs[key]; ok {
		return in
	}
	in := make(tb)
	inputs[key] = in
	return in
}

func aac48(tb testing.TB) input {
	return cached(tb, "aac48", func(tb testing.TB) input { return makeAAC(tb, 48000, 2) })
}
func opus(tb testing.TB) input {
	return cached(tb, "opus", func(tb testing.TB) input { return makeOpus(tb, 2) })
}
func pcma(tb testing.TB) input {
	return cached(tb, "pcma", func(tb testing.TB) input { return makeG711(tb, media.PCMA) })
}
func pcmu(tb testing.TB) input {
	return cached(tb, "pcmu", func(tb testing.TB) input { return makeG711(tb, media.PCMU) })
}

// writeOutput writes transcoded frames to a file ffprobe reads: ADTS for AAC, Ogg for Vorbis.
func writeOutput(tb testing.TB, dir string, tr *Transcoder, anchor time.Duration, frames []media.Frame) string {
	tb.Helper()
	track := tr.Track()
	if track.Codec == media.AAC {
		path := filepath.Join(dir, "out.aac")
		writeADTS(tb, path, track.Config, frames)
		return path
	}
	hdrs := splitXiph(tb, track.Config)
	if len(hdrs) != 3 {
		tb.Fatalf("Vorbis config has %d packets, want 3", len(hdrs))
	}
	for i, h := range hdrs {
		if len(h) < 7 || h[0] != byte(2*i+1) || string(h[1:7]) != "vorbis" {
			tb.Fatalf("Vorbis header %d is not a Vorbis header: % x", i, h[:min(len(h), 8)])
		}
	}
	var w oggWriter
	w.page(hdrs[0], 0, 2)
	w.page(hdrs[1], 0, 0)
	w.page(hdrs[2], 0, 0)
	rate := int64(track.SampleRate)
	for i, f := range frames {
		// A page's granule is the sample position where its packet's output ends, which is
		// where the next packet starts. The last packet is given an upper bound (a Vorbis
		// packet yields at most 1024 samples), so no audio is trimmed and the decoded length
		// is what the encoder produced.
		var end int64
		flags := byte(0)
		if i+1 < len(frames) {
			end = durationToSamples(frames[i+1].PTS-anchor, rate)
		} else {
			end = durationToSamples(f.PTS-anchor, rate) + 1024
			flags = 4
		}
		w.page(f.Data, end, flags)
	}
	path := filepath.Join(dir, "out.ogg")
	if err := os.WriteFile(path, w.b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// checkFrames asserts the per-frame contract: track 0, key, DTS == PTS, increasing.
func checkFrames(t *testing.T, frames []media.Frame) {
	t.Helper()
	for i, f := range frames {
		if f.Track != 0 || !f.Key || f.DTS != f.PTS || len(f.Data) == 0 {
			t.Fatalf("frame %d: track %d key %v dts %v pts %v %d bytes", i, f.Track, f.Key, f.DTS, f.PTS, len(f.Data))
		}
		if i > 0 && f.DTS <= frames[i-1].DTS {
			t.Fatalf("frame %d: DTS %v not after %v", i, f.DTS, frames[i-1].DTS)
		}
	}
}

// TestTranscodeFiles transcodes real AAC, Opus and G.711 streams and lets ffprobe/ffmpeg
// judge the result: codec, exact sample rate, channels, packet count, duration within 30 ms
// of the input, and the 440 Hz tone still there.
func TestTranscodeFiles(t *testing.T) {
	cases := []struct {
		name   string
		in     func(testing.TB) input
		out    media.Codec
		rate   int
		ch     int
		wantCh int
	}{
		{"AAC48k-AAC44k", aac48, media.AAC, 44100, 2, 2},
		{"AAC48k-AAC48k", aac48, media.AAC, 48000, 0, 2},
		{"AAC48k-Vorbis48k", aac48, media.Vorbis, 48000, 2, 2},
		{"Opus-AAC48k", opus, media.AAC, 48000, 2, 2},
		{"Opus-AAC44k-mono", opus, media.AAC, 44100, 1, 1},
		{"Opus-Vorbis48k", opus, media.Vorbis, 48000, 2, 2},
		{"PCMA-AAC44k", pcma, media.AAC, 44100, 0, 1},
		{"PCMA-AAC48k-stereo", pcma, media.AAC, 48000, 2, 2},
		{"PCMU-Vorbis48k", pcmu, media.Vorbis, 48000, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in(t).shifted(3*time.Second + 7*time.Millisecond) // any origin works
			anchor := in.frames[0].DTS
			tr := newTranscoder(t, in.track, c.out, c.rate, c.ch)
			track := tr.Track()
			if track.Kind != media.Audio || track.Codec != c.out || track.SampleRate != c.rate || track.Channels != c.wantCh || len(track.Config) == 0 {
				t.Fatalf("output track %+v", track)
			}
			frames := transcodeAll(t, tr, in.frames)
			checkFrames(t, frames)
			if first := frames[0].DTS; first != anchor-tr.Delay() {
				t.Errorf("first output DTS %v, want anchor %v - delay %v", first, anchor, tr.Delay())
			}

			path := writeOutput(t, t.TempDir(), tr, anchor, frames)
			p := mediatest.ProbeFile(t, path, "-count_packets", "-select_streams", "a:0",
				"-show_entries", "stream=codec_type,codec_name,sample_rate,channels,duration,nb_read_packets").Audio(t)
			wantCodec := map[media.Codec]string{media.AAC: "aac", media.Vorbis: "vorbis"}[c.out]
			if p.CodecName != wantCodec || p.SampleRate != strconv.Itoa(c.rate) || p.Channels != c.wantCh || p.Packets != strconv.Itoa(len(frames)) {
				t.Errorf("ffprobe: %+v; want %s %d Hz %d ch %d packets", p, wantCodec, c.rate, c.wantCh, len(frames))
			}

			s := decodeMono(t, path)
			if c.out == media.AAC {
				// ADTS has no edit list: the decoder outputs the encoder's priming too.
				s = s[durationToSamples(tr.Delay(), int64(c.rate)):]
			}
			got := samplesToDuration(int64(len(s)), int64(c.rate))
			if d := got - in.total(); d < -30*time.Millisecond || d > 30*time.Millisecond {
				t.Errorf("decoded duration %v, input %v", got, in.total())
			}
			checkTone(t, s, c.rate, 0.1, 1)
			checkTone(t, s, c.rate, 1, toneSec-0.1)
		})
	}
}

// TestTimestamps checks that output time is computed from the sample count: every AAC
// packet is exactly 1024 samples after the previous one, the first is the anchor minus the
// encoder delay, and input jitter (millisecond-rounded, ±5 ms) changes nothing.
func TestTimestamps(t *testing.T) {
	for _, c := range []struct {
		name string
		in   func(testing.TB) input
		rate int
	}{
		{"AAC48k-AAC44k", aac48, 44100},
		{"Opus-AAC48k", opus, 48000},
		{"PCMA-AAC44k", pcma, 44100},
	} {
		t.Run(c.name, func(t *testing.T) {
			clean := c.in(t).shifted(time.Hour + 123456789)
			anchor := clean.frames[0].DTS
			jittery := clean.shifted(0)
			rnd := rand.New(rand.NewPCG(1, 2))
			for i := range jittery.frames {
				if i == 0 {
					continue // the anchor is the first frame's DTS, exactly
				}
				d := jittery.frames[i].DTS.Truncate(time.Millisecond) + time.Duration(rnd.IntN(11)-5)*time.Millisecond
				if d <= jittery.frames[i-1].DTS {
					d = jittery.frames[i-1].DTS + time.Millisecond
				}
				jittery.frames[i].DTS, jittery.frames[i].PTS = d, d
			}
			var runs [2][]media.Frame
			for k, in := range []input{clean, jittery} {
				tr, err := NewTranscoder(in.track, media.AAC, c.rate, 2)
				if err != nil {
					t.Fatal(err)
				}
				runs[k] = transcodeAll(t, tr, in.frames)
				checkFrames(t, runs[k])
				delay := durationToSamples(tr.Delay(), int64(c.rate))
				if delay != 1024 {
					t.Errorf("AAC encoder delay %d samples, want 1024", delay)
				}
				for i, f := range runs[k] {
					want := anchor + samplesToDuration(int64(i)*1024-delay, int64(c.rate))
					if f.DTS != want {
						t.Fatalf("run %d frame %d: DTS %v, want %v (anchor + (%d*1024 - %d)/%d)", k, i, f.DTS, want, i, delay, c.rate)
					}
				}
				tr.Close()
			}
			if len(runs[0]) != len(runs[1]) {
				t.Errorf("jitter changed the output: %d vs %d frames", len(runs[0]), len(runs[1]))
			}
			// The output covers the input: (frames-1)*1024 samples after priming, to within a frame.
			covered := samplesToDuration(int64(len(runs[0])-1)*1024, int64(c.rate))
			if d := covered - clean.total(); d < 0 || d > samplesToDuration(1024, int64(c.rate)) {
				t.Errorf("output covers %v for input %v", covered, clean.total())
			}
		})
	}
	t.Run("Opus-Vorbis48k", func(t *testing.T) {
		in := opus(t).shifted(42 * time.Second)
		tr := newTranscoder(t, in.track, media.Vorbis, 48000, 2)
		frames := transcodeAll(t, tr, in.frames)
		checkFrames(t, frames)
		if frames[0].DTS != in.frames[0].DTS-tr.Delay() || tr.Delay() <= 0 || tr.Delay() > 25*time.Millisecond {
			t.Errorf("first DTS %v, anchor %v, delay %v", frames[0].DTS, in.frames[0].DTS, tr.Delay())
		}
		for i, f := range frames {
			n := durationToSamples(f.DTS-in.frames[0].DTS, 48000)
			if samplesToDuration(n, 48000) != f.DTS-in.frames[0].DTS {
				t.Fatalf("frame %d at %v is not on the 48 kHz sample grid", i, f.DTS)
			}
			if i > 0 && n-durationToSamples(frames[i-1].DTS-in.frames[0].DTS, 48000) > 1024 {
				t.Fatalf("frame %d: %v after the previous, more than a Vorbis packet", i, f.DTS-frames[i-1].DTS)
			}
		}
	})
}

// withHole returns in without the frames in [from, to) and with the frames after it moved
// by shift.
func withHole(in input, from, to, shift time.Duration) input {
	out := input{track: in.track}
	t0 := in.frames[0].DTS
	for i, f := range in.frames {
		rel := f.DTS - t0
		if rel >= from && rel < to {
			continue
		}
		if rel >= to {
			f.DTS += shift
			f.PTS += shift
		}
		out.frames = append(out.frames, f)
		out.durs = append(out.durs, in.durs[i])
	}
	return out
}

// TestGapFilledWithSilence: a 500 ms hole in the input is filled with encoded silence; the
// output stays continuous and the audio after the hole starts 500 ms later, on time.
func TestGapFilledWithSilence(t *testing.T) {
	in := withHole(opus(t), 2*time.Second, 2500*time.Millisecond, 0)
	anchor := in.frames[0].DTS
	tr := newTranscoder(t, in.track, media.AAC, 48000, 2)
	frames := transcodeAll(t, tr, in.frames)
	checkFrames(t, frames)
	for i, f := range frames {
		if want := anchor + samplesToDuration(int64(i-1)*1024, 48000); f.DTS != want {
			t.Fatalf("frame %d: DTS %v, want %v: the output must stay continuous", i, f.DTS, want)
		}
	}
	// The packet that carries 2.5 s is where the input resumed.
	if end := frames[len(frames)-1].DTS; end < anchor+toneSec*time.Second-30*time.Millisecond {
		t.Errorf("output ends at %v: the hole was not filled", end-anchor)
	}

	path := writeOutput(t, t.TempDir(), tr, anchor, frames)
	s := decodeMono(t, path)[1024:] // drop the priming: s[0] is the anchor
	checkTone(t, s, 48000, 0.2, 1.98)
	if r := rms(s[int(2.03*48000):int(2.47*48000)]); r > 30 {
		t.Errorf("hole: RMS %.0f, want silence", r)
	}
	onset := -1
	for i := int(2.2 * 48000); i < len(s); i++ {
		if s[i] > 1000 || s[i] < -1000 {
			onset = i
			break
		}
	}
	if at := float64(onset) / 48000; onset < 0 || at < 2.495 || at > 2.51 {
		t.Errorf("tone resumes at %.4f s, want 2.500 s", at)
	}
	checkTone(t, s, 48000, 2.53, toneSec-0.1)
}

// TestGapReanchors: a hole longer than MaxSilence makes the output timestamps jump with the
// input instead of encoding all that silence.
func TestGapReanchors(t *testing.T) {
	hole := 12 * time.Second
	in := withHole(opus(t), 2*time.Second, 2500*time.Millisecond, hole)
	anchor := in.frames[0].DTS
	var resume time.Duration
	for _, f := range in.frames {
		if f.DTS-anchor > 2*time.Second {
			resume = f.DTS
			break
		}
	}
	tr := newTranscoder(t, in.track, media.AAC, 48000, 2)
	frames := transcodeAll(t, tr, in.frames)
	checkFrames(t, frames)
	step := samplesToDuration(1024, 48000)
	jumps, landed := 0, false
	for i := 1; i < len(frames); i++ {
		d := frames[i].DTS - frames[i-1].DTS
		if d < step-time.Nanosecond || d > step+time.Nanosecond {
			jumps++
			if d < hole {
				t.Errorf("frame %d: jump of %v, want > %v", i, d, hole)
			}
		}
		if frames[i].DTS == resume {
			landed = true
		}
	}
	if jumps != 1 || !landed {
		t.Errorf("%d jumps; a packet at the resume time %v: %v", jumps, resume-anchor, landed)
	}
	// About 4.5 s of audio (plus priming and padding), not 16.5 s.
	if n := len(frames); n < 210 || n > 216 {
		t.Errorf("%d packets for 4.5 s of audio", n)
	}
	s := decodeMono(t, writeOutput(t, t.TempDir(), tr, anchor, frames))
	checkTone(t, s, 48000, 0.2, 1.9)
	checkTone(t, s, 48000, 2.2, 4.4)
}

// TestSilenceBoundedByWallClock: a publisher whose timestamps step 900 ms ahead at each
// 20 ms frame (just under the stream timeline's threshold), all arriving at the same instant:
// the transcoder encodes at most MaxSilence of silence beyond the wall-clock time that passed,
// then re-anchors instead of filling.
func TestSilenceBoundedByWallClock(t *testing.T) {
	src := opus(t)
	var in []media.Frame
	for i, f := range src.frames[:100] {
		f.DTS = time.Duration(i) * (900*time.Millisecond + src.durs[i])
		f.PTS = f.DTS
		in = append(in, f)
	}
	tr := newTranscoder(t, src.track, media.AAC, 48000, 2)
	frozen := time.Now()
	tr.now = func() time.Time { return frozen } // no wall-clock time passes
	frames := transcodeAll(t, tr, in)
	checkFrames(t, frames)
	encoded := samplesToDuration(int64(len(frames))*1024, 48000)
	audio := time.Duration(len(in)) * 20 * time.Millisecond
	// 2 s of audio and 10 s of silence (plus an AAC frame of padding at each re-anchoring),
	// not the 90 s the timestamps ask for.
	if encoded > audio+MaxSilence+time.Duration(len(in))*22*time.Millisecond {
		t.Errorf("%v encoded for %v of audio: the silence is not bounded by the wall clock", encoded, audio)
	}
	if end := frames[len(frames)-1].DTS; end < in[len(in)-1].DTS {
		t.Errorf("output ends at %v, before the last input frame (%v): it must follow the input's time", end, in[len(in)-1].DTS)
	}
}

// TestFollowsInputClock: when the input's timestamps run faster or slower than its sample
// count (21 or 19 ms per 20 ms packet), the output keeps to the input's clock within
// ResyncThreshold (silence is added, or late frames dropped) instead of drifting 250 ms.
func TestFollowsInputClock(t *testing.T) {
	for _, step := range []time.Duration{21 * time.Millisecond, 19 * time.Millisecond} {
		t.Run(step.String(), func(t *testing.T) {
			in := opus(t)
			frames := make([]media.Frame, len(in.frames))
			for i, f := range in.frames {
				f.DTS = time.Duration(i) * step
				f.PTS = f.DTS
				frames[i] = f
			}
			tr := newTranscoder(t, in.track, media.AAC, 48000, 2)
			out := transcodeAll(t, tr, frames)
			checkFrames(t, out)
			inEnd := frames[len(frames)-1].DTS + 20*time.Millisecond
			// The last packet is the encoder's flush (up to a frame past the audio).
			outEnd := out[len(out)-1].DTS
			if d := outEnd - inEnd; d < -ResyncThreshold-25*time.Millisecond || d > ResyncThreshold+25*time.Millisecond {
				t.Errorf("input ends at %v, output at %v", inEnd, outEnd)
			}
		})
	}
}

// TestOutOfOrderSkipped: repeated and backward timestamps are dropped without error and
// leave the output exactly as without them.
func TestOutOfOrderSkipped(t *testing.T) {
	clean := opus(t)
	var messy []media.Frame
	for i, f := range clean.frames {
		messy = append(messy, f)
		if i%10 == 5 {
			messy = append(messy, f) // repeated
		}
		if i%17 == 16 {
			old := clean.frames[i-3] // late and out of order
			messy = append(messy, old)
		}
	}
	var runs [2][]media.Frame
	for k, frames := range [][]media.Frame{clean.frames, messy} {
		tr, err := NewTranscoder(clean.track, media.AAC, 48000, 2)
		if err != nil {
			t.Fatal(err)
		}
		runs[k] = transcodeAll(t, tr, frames)
		tr.Close()
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("%d frames with out-of-order input, %d without", len(runs[1]), len(runs[0]))
	}
	for i := range runs[0] {
		if runs[0][i].DTS != runs[1][i].DTS || !bytes.Equal(runs[0][i].Data, runs[1][i].Data) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// TestGarbage: corrupt packets return errors with context, never crash, and the transcoder
// keeps working with the audio on time.
func TestGarbage(t *testing.T) {
	bad := map[media.Codec][][]byte{
		media.AAC:  {bytes.Repeat([]byte{0xFF}, 300), {0x00}, []byte("this is not an AAC frame at all, just some text")},
		media.Opus: {{0x03, 0x00}, {0xFF, 0xFF, 0xFF}, {0x7B, 0x83, 0xFF, 0xFF}},
	}
	for _, c := range []struct {
		name string
		in   func(testing.TB) input
	}{{"AAC", aac48}, {"Opus", opus}, {"PCMA", pcma}} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in(t)
			tr := newTranscoder(t, in.track, media.AAC, 48000, 2)
			if _, err := tr.Transcode(media.Frame{DTS: -time.Second}); err == nil || !strings.Contains(err.Error(), "empty") {
				t.Errorf("empty frame: %v", err)
			}
			var frames []media.Frame
			nerr := 0
			for i, f := range in.frames {
				o, err := tr.Transcode(f)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				frames = append(frames, o...)
				if i == 60 { // garbage between two good frames, not taking any time
					for j, g := range bad[in.track.Codec] {
						o, err := tr.Transcode(media.Frame{DTS: f.DTS + time.Duration(j+1)*time.Microsecond, Data: g})
						frames = append(frames, o...)
						if err != nil {
							nerr++
							if !strings.Contains(err.Error(), "decode") || !strings.Contains(err.Error(), string(in.track.Codec)) {
								t.Errorf("error without context: %v", err)
							}
						}
					}
				}
			}
			if nerr != len(bad[in.track.Codec]) {
				t.Errorf("%d of %d corrupt packets reported", nerr, len(bad[in.track.Codec]))
			}
			o, err := tr.Flush()
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, o...)
			checkFrames(t, frames)
			for i, f := range frames {
				if want := in.frames[0].DTS + samplesToDuration(int64(i-1)*1024, 48000); f.DTS != want {
					t.Fatalf("frame %d: DTS %v, want %v", i, f.DTS, want)
				}
			}
			s := decodeMono(t, writeOutput(t, t.TempDir(), tr, in.frames[0].DTS, frames))[1024:]
			checkTone(t, s, 48000, 0.2, 1.2)
			checkTone(t, s, 48000, 1.5, toneSec-0.1)
		})
	}

	t.Run("Random", func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(3, 4))
		for _, mk := range []func(testing.TB) input{aac48, opus, pcma, pcmu} {
			in := mk(t)
			tr, err := NewTranscoder(in.track, media.AAC, 44100, 2)
			if err != nil {
				t.Fatal(err)
			}
			var ts time.Duration
			for range 300 {
				p := make([]byte, 1+rnd.IntN(1500))
				for k := range p {
					p[k] = byte(rnd.Uint32())
				}
				ts += 20 * time.Millisecond
				_, _ = tr.Transcode(media.Frame{DTS: ts, PTS: ts, Data: p}) // errors expected
			}
			frames := transcodeAll(t, tr, in.shifted(ts+time.Second).frames) // good input still works
			checkFrames(t, frames)
			s := decodeMono(t, writeOutput(t, t.TempDir(), tr, 0, frames))
			checkTone(t, s, 44100, float64(len(s))/44100-3, float64(len(s))/44100-0.2)
			tr.Close()
		}
	})
}

func TestNewTranscoderErrors(t *testing.T) {
	cases := []struct {
		name string
		in   media.Track
		out  media.Codec
		rate int
		ch   int
		want string
	}{
		{"video codec", media.Track{Codec: media.H264}, media.AAC, 48000, 2, "cannot decode"},
		{"AAC without config", media.Track{Codec: media.AAC}, media.AAC, 48000, 2, "config"},
		{"garbage AAC config", media.Track{Codec: media.AAC, Config: []byte{0xFF, 0xFF, 0xFF}}, media.AAC, 48000, 2, "aac decoder"},
		{"garbage Vorbis config", media.Track{Codec: media.Vorbis, Config: []byte{2, 1, 1, 1, 2, 3}}, media.AAC, 48000, 2, "vorbis decoder"},
		{"output codec", media.Track{Codec: media.Opus}, media.Opus, 48000, 2, "cannot encode"},
		{"AAC rate", media.Track{Codec: media.Opus}, media.AAC, 12345, 2, "12345 Hz"},
		{"channels", media.Track{Codec: media.Opus}, media.AAC, 48000, 9, "bad output"},
	}
	for _, c := range cases {
		tr, err := NewTranscoder(c.in, c.out, c.rate, c.ch)
		if err == nil {
			tr.Close()
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.want)
		}
	}
	for _, c := range []media.Codec{media.AAC, media.Opus, media.PCMA, media.PCMU, media.Vorbis, media.MP3, media.Nellymoser, media.Speex} {
		if !Supported(c) {
			t.Errorf("Supported(%s) = false", c)
		}
	}
	for _, c := range []media.Codec{media.H264, media.VP8, "G722"} {
		if Supported(c) {
			t.Errorf("Supported(%s) = true", c)
		}
	}
	// An encoder option FFmpeg does not know is an error, not silently ignored.
	for opts, want := range map[string]string{"aac_coder=fast:no_such_option=1": "no option no_such_option", "aac_coder=nonsense": "aac encoder"} {
		saved := aacOptions
		aacOptions = opts
		tr, err := NewTranscoder(media.Track{Codec: media.Opus}, media.AAC, 48000, 2)
		aacOptions = saved
		if err == nil {
			tr.Close()
			t.Errorf("options %q: no error", opts)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("options %q: %v, want it to mention %q", opts, err, want)
		}
	}
}

// TestVorbisRoundTrip decodes our Vorbis output with a second Transcoder (Vorbis input uses
// the same Xiph-laced Config) and checks the tone survives.
func TestVorbisRoundTrip(t *testing.T) {
	in := aac48(t)
	enc := newTranscoder(t, in.track, media.Vorbis, 48000, 2)
	vorbis := transcodeAll(t, enc, in.frames)
	dec := newTranscoder(t, enc.Track(), media.AAC, 44100, 2)
	frames := transcodeAll(t, dec, vorbis)
	checkFrames(t, frames)
	s := decodeMono(t, writeOutput(t, t.TempDir(), dec, 0, frames))[1024:]
	if d := samplesToDuration(int64(len(s)), 44100) - in.total(); d < -30*time.Millisecond || d > 45*time.Millisecond {
		t.Errorf("round trip changed the duration by %v", d)
	}
	checkTone(t, s, 44100, 0.2, toneSec-0.2)
}

func TestCloseAndUseAfter(t *testing.T) {
	in := opus(t)
	tr, err := NewTranscoder(in.track, media.AAC, 48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transcode(in.frames[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transcode(in.frames[1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Transcode after Flush: %v", err)
	}
	tr.Close()
	tr.Close()
	if _, err := tr.Transcode(in.frames[1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Transcode after Close: %v", err)
	}
	if _, err := tr.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if tr.Delay() != 1024*time.Second/48000+1 || tr.Track().Codec != media.AAC {
		t.Errorf("accessors after Close")
	}
}

// rssBytes is the process's resident set size.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestNoLeaks opens, uses and closes many transcoders (flushed or not, with errors or not);
// every one holds over a hundred kilobytes of C memory, so a leak shows in the RSS.
func TestNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	in := opus(t)
	cycle := func(i int) {
		out := media.AAC
		if i%3 == 0 {
			out = media.Vorbis
		}
		tr, err := NewTranscoder(in.track, out, 44100, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range in.frames[:10] {
			if _, err := tr.Transcode(f); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = tr.Transcode(media.Frame{DTS: time.Hour, Data: []byte{0x03, 0x00}})
		if i%2 == 0 {
			if _, err := tr.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		tr.Close()
		if _, err := NewTranscoder(media.Track{Codec: media.AAC, Config: []byte{0xFF, 0xFF}}, media.AAC, 48000, 2); err == nil {
			t.Fatal("garbage config accepted")
		}
	}
	for i := range 50 {
		cycle(i)
	}
	before := rssBytes(t)
	for i := range 200 {
		cycle(i)
	}
	// A leaked encoder alone is ~900 KiB: 200 of them would be ~180 MiB.
	if grew := rssBytes(t) - before; grew > 16<<20 {
		t.Errorf("RSS grew by %d MiB over 200 transcoders", grew>>20)
	}
}

// benchTranscode feeds the input round and round and reports the share of one core a
// real-time stream needs: CPU time per input frame / the frame's duration.
func benchTranscode(b *testing.B, in input, out media.Codec, rate int) {
	benchTranscodeCh(b, in, out, rate, 2)
}

func benchTranscodeCh(b *testing.B, in input, out media.Codec, rate, channels int) {
	tr, err := NewTranscoder(in.track, out, rate, channels)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	n := len(in.frames)
	total := in.total() + in.durs[n-1]
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		f := in.frames[i%n]
		f.DTS += time.Duration(i/n) * total
		f.PTS = f.DTS
		if _, err := tr.Transcode(f); err != nil {
			b.Fatal(err)
		}
		i++
	}
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	share := perFrame / float64(in.durs[0].Nanoseconds())
	b.ReportMetric(share, "core/stream")
	b.ReportMetric(1/share, "streams/core")
}

// BenchmarkTranscodeOpusToAAC is a WebRTC publisher's Opus (20 ms packets, 32 kbit/s per
// channel as Chrome sends) to AAC at the recorder's default 44.1 kHz: the signals of
// TestOpusToAACQuality, mono (what browsers send unless they signal sprop-stereo), stereo,
// and mono packets taken as stereo (what the WebRTC ingest declared for every Opus track
// before it read sprop-stereo); each with aacOptions and with FFmpeg's defaults (twoloop,
// M/S auto), so that before and after are measured in one run.
func BenchmarkTranscodeOpusToAAC(b *testing.B) {
	for _, name := range []string{"tone", "speech"} {
		for _, v := range []struct {
			name        string
			src, in, ch int
		}{{"1ch", 1, 1, 1}, {"2ch", 2, 2, 2}, {"1ch-as-2ch", 1, 2, 2}} {
			for _, opts := range []struct{ name, opts string }{{"ours", aacOptions}, {"ffmpeg-default", ""}} {
				b.Run(fmt.Sprintf("%s-%s/%s", name, v.name, opts.name), func(b *testing.B) {
					in := opusSignal(b, name, v.src)
					in.track.Channels = v.in
					saved := aacOptions
					aacOptions = opts.opts
					defer func() { aacOptions = saved }()
					benchTranscodeCh(b, in, media.AAC, 44100, v.ch)
				})
			}
		}
	}
}

// BenchmarkTranscodeOpus48kToAAC48k is the former BenchmarkTranscodeOpusToAAC: a stereo
// 64 kbit/s Opus tone to AAC at 48 kHz (no resampling).
func BenchmarkTranscodeOpus48kToAAC48k(b *testing.B) { benchTranscode(b, opus(b), media.AAC, 48000) }

func BenchmarkTranscodeAAC48kToAAC44k(b *testing.B) { benchTranscode(b, aac48(b), media.AAC, 44100) }

func BenchmarkTranscodeOpusToVorbis(b *testing.B) { benchTranscode(b, opus(b), media.Vorbis, 48000) }

func BenchmarkTranscodePCMAToAAC(b *testing.B) { benchTranscode(b, pcma(b), media.AAC, 44100) }
