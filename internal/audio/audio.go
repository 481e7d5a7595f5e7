// Package audio transcodes one audio track (AAC, Opus, G.711, Vorbis) to AAC or Vorbis with
// FFmpeg's libavcodec and libswresample. It is the only cgo package of the recorder; all C is
// behind this small API.
//
// # Timestamps
//
// Output timestamps are computed from sample counts, never copied from the input: the
// encoder is fed a continuous sample timeline starting at 0, anchored at the DTS of the first
// input frame that decodes. An output packet's time is anchor + packet pts / rate, where the
// pts is the encoder's own, so the encoder's priming puts the first packet before the anchor
// (AAC: one 1024-sample frame; see Delay). DTS == PTS, and consecutive AAC packets are exactly 1024
// samples apart, with no rounding drift however long the stream.
//
// The input's clock is still watched: the transcoder knows where the next input frame should
// start (anchor + decoded duration). When a frame starts later than that:
//
//   - up to ResyncThreshold (100 ms): accepted as jitter; nothing changes;
//   - up to MaxSilence (10 s): the source dropped audio; that much silence is encoded first, so
//     the output stays continuous (every packet 1024 samples apart) and the new audio lands at
//     its input time. Players and muxers need no gap handling, and Opus DTX pauses work;
//   - longer: the transcoder re-anchors: the encoder is padded with silence to a frame
//     boundary and the output timestamps jump to the new input time (encoding minutes of
//     silence in one call would stall the recorder).
//
// Silence costs CPU without costing the publisher a byte, so it is also bounded by the wall
// clock: in all, a transcoder encodes at most MaxSilence more silence than the real time that
// passed since its first frame. A gap past that budget re-anchors too. (The stream's
// timeline already replaces jumps by the wall-clock time between frames; this bounds what a
// publisher stepping just under that threshold at each frame could still cost.)
//
// A frame whose DTS is not after the previous frame's, or that starts more than
// ResyncThreshold before its expected time (its audio would overlap what was already
// produced), is skipped without error.
package audio

/*
#cgo pkg-config: libavcodec libswresample libavutil
#include <stdlib.h>
#include "transcode.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/streamrec/streamrec/internal/media"
)

const (
	// ResyncThreshold is how far an input frame may start after (or before) its expected
	// time before the transcoder corrects for it.
	ResyncThreshold = 100 * time.Millisecond
	// MaxSilence is the longest input gap filled with encoded silence; longer gaps re-anchor.
	MaxSilence = 10 * time.Second
)

// ErrClosed is returned by calls on a closed (or flushed, for Transcode) transcoder.
var ErrClosed = errors.New("audio: transcoder closed")

// Supported reports whether NewTranscoder can decode an input track of codec c: the
// libavcodec linked in must have a decoder for it (Speex needs one built with it).
func Supported(c media.Codec) bool {
	id, ok := decoderID(c)
	return ok && C.avcodec_find_decoder(uint32(id)) != nil
}

func decoderID(c media.Codec) (C.int, bool) {
	switch c {
	case media.AAC:
		return C.AV_CODEC_ID_AAC, true
	case media.Opus:
		return C.AV_CODEC_ID_OPUS, true
	case media.PCMA:
		return C.AV_CODEC_ID_PCM_ALAW, true
	case media.PCMU:
		return C.AV_CODEC_ID_PCM_MULAW, true
	case media.Vorbis:
		return C.AV_CODEC_ID_VORBIS, true
	case media.MP3:
		return C.AV_CODEC_ID_MP3, true
	case media.Speex:
		return C.AV_CODEC_ID_SPEEX, true
	case media.Nellymoser:
		return C.AV_CODEC_ID_NELLYMOSER, true
	}
	return 0, false
}

var quietOnce sync.Once

// aacOptions are the AAC encoder's options (as FFmpeg's -aac_coder and the like, in
// key=value:key=value). FFmpeg's default coder, twoloop, costs twice as much CPU as fast
// (callgrind, 20 ms Opus frames to AAC 44.1 kHz: mono 1.9 M instructions per frame against
// 0.95 M; stereo speech 4.0 M against 1.6 M), and TestOpusToAACQuality finds fast as good on
// its signals (level, octave bands, envelope) and cleaner on tonal ones: twoloop adds noise
// between a mono vowel's harmonics at -25 dB (fast: -36 dB), beside a mono tone at -37 dB
// (fast: none measurable).
// M/S stereo is off: with fast, a stereo signal whose channels are equal (a mono source sent
// as stereo) costs 8.6 M instructions per frame with it and 1.7 M without, and at 64 kbit/s
// per channel M/S gains nothing the tests see. A variable so that tests can measure and judge
// other settings (AUDIO_AAC_OPTIONS, see quality_test.go).
var aacOptions = "aac_coder=fast:aac_ms=0"

// Transcoder converts one audio track. It is not safe for concurrent use; its owner must
// call Close (it holds C memory that the garbage collector does not see).
type Transcoder struct {
	c     *C.st_transcoder
	in    media.Track
	out   media.Track
	rate  int64         // output sample rate
	ended bool          // Flush was called
	delay time.Duration // Delay, kept by Close
	cpu   time.Duration // CPU, kept by Close

	// Input clock: the expected DTS of the next input frame is
	// inBase + inSamples/inRate (sample counts kept exact until the rate changes).
	anchored  bool
	seen      bool
	lastDTS   time.Duration
	inBase    time.Duration
	inSamples int64
	inRate    int64

	// Silence budget: silenced is the silence encoded since wallStart (the first frame).
	now       func() time.Time
	wallStart time.Time
	silenced  time.Duration

	// Output clock: encoder positions (output samples) from segs[i].pos on are at
	// segs[i].at + (pos - segs[i].pos)/rate. A new segment starts at each re-anchoring.
	segs []segment
}

type segment struct {
	pos int64
	at  time.Duration
}

// NewTranscoder decodes `in` (AAC with Config=AudioSpecificConfig, Opus 48 kHz, PCMA/PCMU
// 8 kHz mono, or Vorbis with Config=Xiph-laced headers), resamples to outRate/outChannels and
// encodes to `out` (media.AAC or media.Vorbis). outRate 0 or outChannels 0 keep the input's.
func NewTranscoder(in media.Track, out media.Codec, outRate, outChannels int) (*Transcoder, error) {
	id, ok := decoderID(in.Codec)
	if !ok {
		return nil, fmt.Errorf("audio: cannot decode %q", in.Codec)
	}
	if outRate < 0 || outRate > 384000 || outChannels < 0 || outChannels > 8 {
		return nil, fmt.Errorf("audio: bad output %d Hz %d ch", outRate, outChannels)
	}
	inRate, inCh := in.SampleRate, in.Channels
	switch in.Codec {
	case media.AAC, media.Vorbis:
		if len(in.Config) == 0 {
			return nil, fmt.Errorf("audio: %s input needs its decoder config", in.Codec)
		}
	case media.Opus:
		inRate = 48000 // RTP Opus is always 48 kHz; the decoder outputs 48 kHz
		if inCh != 1 {
			inCh = 2
		}
	case media.PCMA, media.PCMU:
		if inRate <= 0 {
			inRate = 8000
		}
		if inCh <= 0 {
			inCh = 1
		}
	}
	if inCh > 8 {
		return nil, fmt.Errorf("audio: %d input channels", inCh)
	}

	var enc, opts string
	var bitRate int64
	var quality C.int
	switch out {
	case media.AAC:
		enc, opts = "aac", aacOptions
	case media.Vorbis:
		enc = "libvorbis"
		quality = 3 // VBR q3: ~110 kbit/s stereo at 44.1/48 kHz; valid at every rate
	default:
		return nil, fmt.Errorf("audio: cannot encode %q", out)
	}
	quietOnce.Do(func() { C.st_quiet() }) // errors are returned, not printed

	cEnc, cOpts := C.CString(enc), C.CString(opts)
	defer C.free(unsafe.Pointer(cEnc))
	defer C.free(unsafe.Pointer(cOpts))
	var extra *C.uint8_t
	if len(in.Config) > 0 {
		extra = (*C.uint8_t)(unsafe.Pointer(&in.Config[0]))
	}
	if out == media.AAC {
		// 64 kbit/s per channel at 32 kHz and up, less at low rates (AAC's ceiling is
		// 6144 bits per 1024-sample frame and channel).
		ch := outChannels
		if ch == 0 {
			ch = inCh
			if ch <= 0 {
				ch = 2
			}
		}
		r := outRate
		if r == 0 {
			r = inRate
		}
		per := int64(64000)
		if r > 0 && r < 32000 {
			per = int64(r) * 2
		}
		bitRate = per * int64(ch)
	}
	var errBuf [256]C.char
	c := C.st_open(C.int(id), C.int(inRate), C.int(inCh), extra, C.int(len(in.Config)), cEnc, cOpts,
		C.int(outRate), C.int(outChannels), C.int64_t(bitRate), quality, &errBuf[0], C.int(len(errBuf)))
	if c == nil {
		return nil, fmt.Errorf("audio: %s to %s: %s", in.Codec, out, C.GoString(&errBuf[0]))
	}
	t := &Transcoder{
		c:  c,
		in: in,
		out: media.Track{
			Kind:       media.Audio,
			Codec:      out,
			SampleRate: int(c.enc.sample_rate),
			Channels:   int(c.enc.ch_layout.nb_channels),
		},
		rate: int64(c.enc.sample_rate),
		now:  time.Now,
	}
	if n := int(c.enc.extradata_size); n > 0 {
		t.out.Config = C.GoBytes(unsafe.Pointer(c.enc.extradata), C.int(n))
	}
	return t, nil
}

// Track returns the output track: codec, rate, channels and Config (AAC: the
// AudioSpecificConfig; Vorbis: the three header packets in Xiph lacing, as Matroska's
// CodecPrivate expects).
func (t *Transcoder) Track() media.Track {
	tr := t.out
	tr.Config = append([]byte(nil), t.out.Config...)
	return tr
}

// Delay is the encoder's priming: the first output packet's timestamp is the anchor (the
// first input frame's DTS) minus Delay. AAC: 1024 samples that decoders output, so an MP4
// writer should skip them (edit list media_time = 1024). Vorbis: the first packet's short
// block (128 samples), for which Vorbis decoders output nothing, so there is nothing to trim;
// it is known only once that packet is out (0 before).
func (t *Transcoder) Delay() time.Duration {
	if t.c == nil {
		return t.delay
	}
	return -samplesToDuration(-int64(t.c.enc.initial_padding), t.rate) // exactly anchor - first DTS
}

// Transcode takes one input frame and returns zero or more encoded output frames (Track 0,
// Key true, DTS == PTS). A frame that cannot be decoded returns an error and leaves the
// transcoder usable. Frames out of order are skipped (see the package comment).
func (t *Transcoder) Transcode(in media.Frame) ([]media.Frame, error) {
	if t.c == nil || t.ended {
		return nil, ErrClosed
	}
	if len(in.Data) == 0 {
		return nil, fmt.Errorf("audio: empty %s frame at %v", t.in.Codec, in.DTS)
	}
	if len(in.Data) > 1<<24 {
		return nil, fmt.Errorf("audio: %d-byte %s frame at %v", len(in.Data), t.in.Codec, in.DTS)
	}
	if t.seen && in.DTS <= t.lastDTS {
		return nil, nil // timestamps went backwards (or repeated): drop
	}

	var silence int64
	align := false
	gap := time.Duration(0)
	if t.anchored {
		gap = in.DTS - t.expected()
		switch {
		case gap < -ResyncThreshold:
			return nil, nil // overlaps audio already produced: drop
		case gap > MaxSilence:
			align = true
		case gap > ResyncThreshold && !t.silenceAllowed(gap):
			align = true // beyond the wall clock's budget
		case gap > ResyncThreshold:
			silence = durationToSamples(gap, t.rate)
		}
	}

	t.c.out_len, t.c.npkts = 0, 0
	ret := C.st_decode(t.c, (*C.uint8_t)(unsafe.Pointer(&in.Data[0])), C.int(len(in.Data)), C.int64_t(silence), boolInt(align))
	t.seen, t.lastDTS = true, in.DTS
	if t.c.gap_done != 0 {
		if align {
			t.segs = append(t.segs, segment{pos: int64(t.c.gap_pos), at: in.DTS})
			t.inBase, t.inSamples = in.DTS, 0
		} else {
			t.addInput(silence, t.rate)
			t.silenced += gap
		}
	}
	if t.c.decoded > 0 {
		if !t.anchored {
			t.anchored = true
			t.segs = append(t.segs[:0], segment{pos: 0, at: in.DTS})
			t.inBase, t.inSamples, t.inRate = in.DTS, 0, int64(t.c.decoded_rate)
			t.wallStart = t.now()
		}
		t.addInput(int64(t.c.decoded), int64(t.c.decoded_rate))
	}
	frames := t.collect()
	if ret < 0 {
		return frames, fmt.Errorf("audio: decode %s frame at %v (%d bytes): %w", t.in.Codec, in.DTS, len(in.Data), averror(ret))
	}
	return frames, nil
}

// Flush drains the resampler and the encoder at the end of the stream. After it only Close
// is useful.
func (t *Transcoder) Flush() ([]media.Frame, error) {
	if t.c == nil || t.ended {
		return nil, ErrClosed
	}
	t.ended = true
	if !t.anchored {
		return nil, nil // the encoder never saw a sample
	}
	t.c.out_len, t.c.npkts = 0, 0
	ret := C.st_flush(t.c)
	frames := t.collect()
	if ret < 0 {
		return frames, fmt.Errorf("audio: flush %s encoder: %w", t.out.Codec, averror(ret))
	}
	return frames, nil
}

// CPU returns the CPU time spent decoding, resampling and encoding so far (measured on the
// thread of each call, in C). After Close it is what it was at Close.
func (t *Transcoder) CPU() time.Duration {
	if t.c != nil {
		t.cpu = time.Duration(t.c.cpu_ns)
	}
	return t.cpu
}

// Close frees all C memory. It is safe to call more than once.
func (t *Transcoder) Close() {
	if t.c != nil {
		t.delay = t.Delay()
		t.CPU()
		C.st_close(t.c)
		t.c = nil
	}
}

// collect copies the packets of the last C call into Go frames with their output times.
func (t *Transcoder) collect() []media.Frame {
	n := int(t.c.npkts)
	if n == 0 {
		return nil
	}
	pkts := unsafe.Slice(t.c.pkts, n)
	buf := C.GoBytes(unsafe.Pointer(t.c.out), C.int(t.c.out_len))
	frames := make([]media.Frame, n)
	for i, p := range pkts {
		ts := t.timeOf(int64(p.pts))
		frames[i] = media.Frame{
			Track: 0, DTS: ts, PTS: ts, Key: true,
			Data: buf[p.offset : p.offset+p.size : p.offset+p.size],
		}
	}
	// Segments wholly before the last packet are no longer needed.
	last := int64(pkts[n-1].pts)
	k := 0
	for k+1 < len(t.segs) && t.segs[k+1].pos <= last {
		k++
	}
	t.segs = t.segs[k:]
	return frames
}

// timeOf maps an encoder position to output time.
func (t *Transcoder) timeOf(pos int64) time.Duration {
	s := t.segs[0]
	for _, seg := range t.segs[1:] {
		if seg.pos > pos {
			break
		}
		s = seg
	}
	return s.at + samplesToDuration(pos-s.pos, t.rate)
}

// silenceAllowed tells whether filling a gap with silence keeps the silence encoded within
// MaxSilence of the wall-clock time since the first frame.
func (t *Transcoder) silenceAllowed(gap time.Duration) bool {
	return t.silenced+gap <= t.now().Sub(t.wallStart)+MaxSilence
}

// expected is where the next input frame should start by the input's sample count.
func (t *Transcoder) expected() time.Duration {
	return t.inBase + samplesToDuration(t.inSamples, t.inRate)
}

// addInput advances the input clock by n samples at rate, exactly while the rate stays.
func (t *Transcoder) addInput(n, rate int64) {
	if rate != t.inRate {
		t.inBase = t.expected()
		t.inSamples, t.inRate = 0, rate
	}
	t.inSamples += n
}

func samplesToDuration(n, rate int64) time.Duration {
	if rate <= 0 {
		return 0
	}
	// Split to avoid overflow on long streams; floor for negative n too.
	q, r := n/rate, n%rate
	if r < 0 {
		q, r = q-1, r+rate
	}
	return time.Duration(q)*time.Second + time.Duration(r*int64(time.Second)/rate)
}

// durationToSamples rounds d to the nearest sample (halves away from zero).
func durationToSamples(d time.Duration, rate int64) int64 {
	if d < 0 {
		return -durationToSamples(-d, rate)
	}
	sec, frac := int64(d/time.Second), int64(d%time.Second)
	return sec*rate + (frac*rate+int64(time.Second)/2)/int64(time.Second)
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func averror(code C.int) error {
	var buf [128]C.char
	C.av_strerror(code, &buf[0], C.size_t(len(buf)))
	return errors.New(C.GoString(&buf[0]))
}
