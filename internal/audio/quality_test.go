package audio

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// AUDIO_AAC_OPTIONS replaces the AAC encoder's options for a run of this package's tests and
// benchmarks (e.g. AUDIO_AAC_OPTIONS=aac_coder=twoloop), to measure another setting's cost
// and judge its quality with the same tests.
func init() {
	if v, ok := os.LookupEnv("AUDIO_AAC_OPTIONS"); ok {
		aacOptions = v
	}
}

// Quality signals, 5 s at 48 kHz as a WebRTC publisher's Opus would carry them.
var signals = map[string]string{
	// lavfi's sine: amplitude 1/8 (-18 dBFS peak).
	"tone": "sine=frequency=440:sample_rate=48000:duration=5",
	// Speech-like: pink noise band-limited to the voice's 100 Hz-4 kHz (2-pole filters, so
	// the octaves above still carry energy), its level modulated at a syllable rate of 4 Hz
	// by 80 %.
	"speech": "anoisesrc=color=pink:amplitude=0.5:sample_rate=48000:duration=5:seed=7," +
		"highpass=f=100,lowpass=f=4000,tremolo=f=4:d=0.8",
	// Voiced speech, steady: a 150 Hz pitch with its harmonics up to 4 kHz at 1/k amplitude
	// (-23 dBFS RMS): what lies between the harmonics is the coder's noise.
	"vowel": vowel(),
}

const vowelHz = 150

func vowel() string {
	e := "aevalsrc=exprs='0.05*("
	for k := 1; k*vowelHz <= 4000; k++ {
		if k > 1 {
			e += "+"
		}
		e += fmt.Sprintf("sin(2*PI*%d*t)/%d", k*vowelHz, k)
	}
	return e + ")':s=48000:d=5"
}

// offHarmonics is the energy of p farther than 20 Hz from every multiple of f0, relative to
// the whole, in dB.
func offHarmonics(p []float64, rate int, f0 float64) float64 {
	var off, all float64
	for i, v := range p {
		f := float64(i) * float64(rate) / fftSize
		all += v
		k := math.Round(f / f0)
		if k < 1 || math.Abs(f-k*f0) > 20 {
			off += v
		}
	}
	return 10 * math.Log10(off/all+1e-30)
}

// opusBitrate is what a browser spends: Chrome's default is 32 kbit/s for mono, and a
// stereo sender about twice that.
func opusBitrate(channels int) string { return strconv.Itoa(32*channels) + "k" }

// opusSignal encodes signals[name] with libopus in 20 ms frames, like a browser; its file
// is the reference the transcoder's output is judged by.
func opusSignal(tb testing.TB, name string, channels int) input {
	tb.Helper()
	return cached(tb, fmt.Sprintf("opus-%s-%d", name, channels), func(tb testing.TB) input {
		return encodeOpus(tb, []string{"-f", "lavfi", "-i", signals[name], "-ac", strconv.Itoa(channels)},
			opusBitrate(channels), channels)
	})
}

// decodeF32 decodes a file with ffmpeg to mono (a downmix) float samples at rate.
func decodeF32(tb testing.TB, path string, rate int) []float64 {
	tb.Helper()
	raw := mediatest.FFmpeg(tb, "-i", path, "-ac", "1", "-ar", strconv.Itoa(rate), "-f", "f32le", "-")
	s := make([]float64, len(raw)/4)
	for i := range s {
		s[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	return s
}

// align returns ref and out trimmed to where they carry the same audio: the transcoder's
// output starts earlier by the AAC priming and the Opus pre-skip, which the lag of the best
// cross-correlation (searched up to 100 ms, over 1 s from the middle) finds.
func align(ref, out []float64, rate int) ([]float64, []float64, int) {
	maxLag := rate / 10
	mid, n := len(ref)/2, rate
	best, lag := math.Inf(-1), 0
	for l := 0; l <= maxLag; l++ {
		if mid+l+n > len(out) || mid+n > len(ref) {
			break
		}
		var c float64
		for i := mid; i < mid+n; i++ {
			c += ref[i] * out[i+l]
		}
		if c > best {
			best, lag = c, l
		}
	}
	out = out[lag:]
	m := min(len(ref), len(out))
	return ref[:m], out[:m], lag
}

func rmsDB(s []float64) float64 {
	var sum float64
	for _, v := range s {
		sum += v * v
	}
	return 10 * math.Log10(sum/float64(max(len(s), 1))+1e-20)
}

// fft is an in-place radix-2 FFT; len(a) is a power of two.
func fft(a []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := 0; k < size/2; k++ {
				u, v := a[start+k], a[start+k+size/2]*wk
				a[start+k], a[start+k+size/2] = u+v, u-v
				wk *= w
			}
		}
	}
}

const fftSize = 8192

// spectrum is the mean power spectrum of s (Hann windows of fftSize, half overlapping).
func spectrum(s []float64) []float64 {
	p := make([]float64, fftSize/2+1)
	buf := make([]complex128, fftSize)
	frames := 0
	for at := 0; at+fftSize <= len(s); at += fftSize / 2 {
		for i := range buf {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/fftSize)
			buf[i] = complex(s[at+i]*w, 0)
		}
		fft(buf)
		for i := range p {
			p[i] += real(buf[i])*real(buf[i]) + imag(buf[i])*imag(buf[i])
		}
		frames++
	}
	for i := range p {
		p[i] /= float64(max(frames, 1))
	}
	return p
}

// bandDB is the energy of spectrum p (at rate) between lo and hi Hz, in dB.
func bandDB(p []float64, rate int, lo, hi float64) float64 {
	var e float64
	for i, v := range p {
		if f := float64(i) * float64(rate) / fftSize; f >= lo && f < hi {
			e += v
		}
	}
	return 10 * math.Log10(e+1e-20)
}

// peakHz is the strongest frequency of p, refined by a parabola through its neighbours.
func peakHz(p []float64, rate int) float64 {
	k := 1
	for i := 1; i < len(p)-1; i++ {
		if p[i] > p[k] {
			k = i
		}
	}
	a, b, c := math.Log(p[k-1]+1e-30), math.Log(p[k]+1e-30), math.Log(p[k+1]+1e-30)
	d := 0.5 * (a - c) / (a - 2*b + c)
	return (float64(k) + d) * float64(rate) / fftSize
}

// envelope is the level in dB of consecutive 10 ms blocks.
func envelope(s []float64, rate int) []float64 {
	n := rate / 100
	var out []float64
	for at := 0; at+n <= len(s); at += n {
		out = append(out, rmsDB(s[at:at+n]))
	}
	return out
}

func correlation(a, b []float64) float64 {
	n := min(len(a), len(b))
	var ma, mb float64
	for i := range n {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/float64(n), mb/float64(n)
	var ab, aa, bb float64
	for i := range n {
		ab += (a[i] - ma) * (b[i] - mb)
		aa += (a[i] - ma) * (a[i] - ma)
		bb += (b[i] - mb) * (b[i] - mb)
	}
	return ab / math.Sqrt(aa*bb)
}

// Octave bands judged, up to the AAC encoder's 16 kHz cutoff at 64 kbit/s per channel.
var octaves = []float64{62.5, 125, 250, 500, 1000, 2000, 4000, 8000, 16000}

// Tolerances of TestOpusToAACQuality: the AAC output against the decoded Opus source.
const (
	maxLevelDiff = 1.0 // dB, RMS level
	maxBandDiff  = 2.0 // dB, energy of each octave band the source fills (within bandRange of its strongest)
	bandRange    = 40  // dB below the strongest band, beyond which a band is noise floor, not judged
	maxPeakShift = 0.5 // Hz, the tone's spectral peak
	minEnvCorr   = 0.98
)

// maxAddedNoise is, for the tonal signals, how much noise the AAC encoder may add between the
// harmonics (more than 20 Hz from a multiple of the fundamental), relative to the signal.
// The source's own noise there (Opus's, -30 dB for the mono vowel at 32 kbit/s) is taken off.
var maxAddedNoise = map[string]float64{"tone": -40, "vowel": -30}

// fundamental is the pitch of the tonal signals.
var fundamental = map[string]float64{"tone": toneHz, "vowel": vowelHz}

type qualityReport struct {
	levelDiff   float64   // output - source RMS, dB
	bandDiff    []float64 // per octave band, output - source, dB (NaN: not judged)
	peakHz      float64   // the output's strongest frequency
	offHarm     float64   // tonal signals: output's energy between the harmonics, dB relative to the whole
	refOffHarm  float64   // the same for the source
	addedNoise  float64   // what the AAC encoder added there: dB relative to the whole (-Inf: nothing)
	envCorr     float64   // correlation of the 10 ms level envelopes
	lag         int       // output samples before the source's first (priming, pre-skip)
	outChannels int
}

// judge transcodes the signal's Opus to AAC at rate with ch channels, decodes output and
// source to mono at rate and compares them.
func judge(tb testing.TB, name string, ch, rate int) qualityReport {
	tb.Helper()
	in := opusSignal(tb, name, ch)
	dir := tb.TempDir()
	src := filepath.Join(dir, "src.ogg")
	if err := os.WriteFile(src, in.file, 0o644); err != nil {
		tb.Fatal(err)
	}
	tr := newTranscoder(tb, in.track, media.AAC, rate, ch)
	frames := transcodeAll(tb, tr, in.frames)
	out := decodeF32(tb, writeOutput(tb, dir, tr, in.frames[0].DTS, frames), rate)
	ref := decodeF32(tb, src, rate)
	ref, out, lag := align(ref, out, rate)
	edge := rate / 4 // the ends: the encoder's start, the source's fade
	ref, out = ref[edge:len(ref)-edge], out[edge:len(out)-edge]

	r := qualityReport{levelDiff: rmsDB(out) - rmsDB(ref), lag: lag, outChannels: tr.Track().Channels}
	ps, po := spectrum(ref), spectrum(out)
	strongest := math.Inf(-1)
	for i := 0; i+1 < len(octaves); i++ {
		strongest = math.Max(strongest, bandDB(ps, rate, octaves[i], octaves[i+1]))
	}
	for i := 0; i+1 < len(octaves); i++ {
		s, o := bandDB(ps, rate, octaves[i], octaves[i+1]), bandDB(po, rate, octaves[i], octaves[i+1])
		if s < strongest-bandRange {
			r.bandDiff = append(r.bandDiff, math.NaN())
		} else {
			r.bandDiff = append(r.bandDiff, o-s)
		}
	}
	r.peakHz = peakHz(po, rate)
	if f0, ok := fundamental[name]; ok {
		r.offHarm, r.refOffHarm = offHarmonics(po, rate, f0), offHarmonics(ps, rate, f0)
		r.addedNoise = 10 * math.Log10(math.Pow(10, r.offHarm/10)-math.Pow(10, r.refOffHarm/10)) // NaN if less
		if math.IsNaN(r.addedNoise) {
			r.addedNoise = math.Inf(-1)
		}
	}
	r.envCorr = correlation(envelope(ref, rate), envelope(out, rate))
	return r
}

// TestOpusToAACQuality judges what the transcoder makes of a WebRTC publisher's Opus (mono
// and stereo) for three signals: a pure tone, speech-like modulated noise and a steady vowel
// (a 150 Hz pitch with harmonics). The AAC output, decoded, is compared with the decoded Opus
// source, both at 44.1 kHz (the recorder's default rate): RMS level within maxLevelDiff, each
// octave band up to the 16 kHz cutoff within maxBandDiff; for the speech-like noise the 10 ms
// level envelope (syllables) follows the source's; for the tone its frequency is kept; for
// the tone and the vowel the noise the encoder adds between the harmonics stays under
// maxAddedNoise. So the encoder's settings (aacOptions, channels) are judged on quality, not
// only on cost. (FFmpeg's default twoloop coder fails the mono vowel: it adds noise at -25 dB.)
func TestOpusToAACQuality(t *testing.T) {
	const rate = 44100
	for _, name := range []string{"tone", "speech", "vowel"} {
		for _, ch := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s-%dch", name, ch), func(t *testing.T) {
				r := judge(t, name, ch, rate)
				t.Logf("aacOptions %q: level %+.2f dB, octaves %s dB, peak %.2f Hz, between harmonics %.1f dB (source %.1f: added %.1f), envelope r=%.4f",
					aacOptions, r.levelDiff, fmtBands(r.bandDiff), r.peakHz, r.offHarm, r.refOffHarm, r.addedNoise, r.envCorr)
				if r.outChannels != ch {
					t.Errorf("output has %d channels, want %d", r.outChannels, ch)
				}
				if math.Abs(r.levelDiff) > maxLevelDiff {
					t.Errorf("RMS level %+.2f dB off the source's (tolerance %.1f)", r.levelDiff, maxLevelDiff)
				}
				for i, d := range r.bandDiff {
					if !math.IsNaN(d) && math.Abs(d) > maxBandDiff {
						t.Errorf("octave %g-%g Hz: %+.2f dB off the source's (tolerance %.1f)", octaves[i], octaves[i+1], d, maxBandDiff)
					}
				}
				if name == "tone" && math.Abs(r.peakHz-toneHz) > maxPeakShift {
					t.Errorf("tone peak at %.2f Hz, want %d", r.peakHz, toneHz)
				}
				if max, ok := maxAddedNoise[name]; ok && r.addedNoise > max {
					t.Errorf("the encoder adds noise at %.1f dB between the harmonics (%.1f dB there, source %.1f), want at most %.0f",
						r.addedNoise, r.offHarm, r.refOffHarm, max)
				}
				if name == "speech" && r.envCorr < minEnvCorr {
					t.Errorf("level envelope correlates %.4f with the source's, want %.2f", r.envCorr, minEnvCorr)
				}
			})
		}
	}
}

func fmtBands(d []float64) string {
	s := "["
	for i, v := range d {
		if i > 0 {
			s += " "
		}
		if math.IsNaN(v) {
			s += "-"
		} else {
			s += fmt.Sprintf("%+.1f", v)
		}
	}
	return s + "]"
}
