package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// Test inputs are made by ffmpeg from a 440 Hz sine (lavfi's default amplitude 1/8).
const (
	toneHz  = 440
	toneSec = 5
)

// input is one encoded test stream: its track, frames and the duration each frame covers.
type input struct {
	track  media.Track
	frames []media.Frame
	durs   []time.Duration
	file   []byte // the encoded file the frames were taken from (Opus: Ogg)
}

// total is the input's timeline: from the first frame's DTS to the end of the last frame.
func (in input) total() time.Duration {
	last := len(in.frames) - 1
	return in.frames[last].DTS + in.durs[last] - in.frames[0].DTS
}

// shifted returns a copy with every timestamp moved by d.
func (in input) shifted(d time.Duration) input {
	out := input{track: in.track, durs: in.durs}
	for _, f := range in.frames {
		f.DTS += d
		f.PTS += d
		out.frames = append(out.frames, f)
	}
	return out
}

func sineSource(rate, channels int) []string {
	return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=%d:duration=%d", toneHz, rate, toneSec),
		"-ac", strconv.Itoa(channels)}
}

// makeAAC encodes the tone to AAC-LC in ADTS and splits it into raw frames with the
// AudioSpecificConfig taken from the first ADTS header. Frame i has DTS i*1024/rate.
func makeAAC(tb testing.TB, rate, channels int) input {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "in.aac")
	mediatest.FFmpeg(tb, append(sineSource(rate, channels), "-c:a", "aac", "-b:a", "128k", "-f", "adts", f)...)
	data, err := os.ReadFile(f)
	if err != nil {
		tb.Fatal(err)
	}
	var in input
	for len(data) > 0 {
		if len(data) < 7 || data[0] != 0xFF || data[1]&0xF0 != 0xF0 {
			tb.Fatalf("bad ADTS header at frame %d", len(in.frames))
		}
		hdr := 7
		if data[1]&1 == 0 {
			hdr = 9
		}
		size := int(data[3]&3)<<11 | int(data[4])<<3 | int(data[5])>>5
		if size < hdr || size > len(data) {
			tb.Fatalf("bad ADTS frame length %d", size)
		}
		if in.frames == nil {
			profile, sfi, ch := data[2]>>6, (data[2]>>2)&0xF, (data[2]&1)<<2|data[3]>>6
			aot := profile + 1
			in.track = media.Track{Kind: media.Audio, Codec: media.AAC, SampleRate: rate, Channels: int(ch),
				Config: []byte{aot<<3 | sfi>>1, (sfi&1)<<7 | ch<<3}}
		}
		d := samplesToDuration(int64(len(in.frames))*1024, int64(rate))
		in.frames = append(in.frames, media.Frame{DTS: d, PTS: d, Key: true, Data: bytes.Clone(data[hdr:size])})
		in.durs = append(in.durs, samplesToDuration(1024, int64(rate)))
		data = data[size:]
	}
	return in
}

// makeOpus encodes the tone with libopus (20 ms frames) into Ogg and takes the packets out.
// Durations come from each packet's TOC byte, as an RTP depacketizer's timestamps would.
func makeOpus(tb testing.TB, channels int) input {
	return encodeOpus(tb, sineSource(48000, channels), "64k", channels)
}

// encodeOpus encodes what the ffmpeg arguments src give with libopus (20 ms frames) at
// bitrate into Ogg and takes the packets out.
func encodeOpus(tb testing.TB, src []string, bitrate string, channels int) input {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "in.ogg")
	mediatest.FFmpeg(tb, append(src, "-c:a", "libopus", "-b:a", bitrate, "-frame_duration", "20", "-f", "ogg", f)...)
	pkts := readOgg(tb, f)
	if len(pkts) < 3 || !bytes.HasPrefix(pkts[0], []byte("OpusHead")) {
		tb.Fatalf("not an Ogg Opus file")
	}
	file, err := os.ReadFile(f)
	if err != nil {
		tb.Fatal(err)
	}
	in := input{track: media.Track{Kind: media.Audio, Codec: media.Opus, SampleRate: 48000, Channels: channels}, file: file}
	var ts time.Duration
	for _, p := range pkts[2:] { // skip OpusHead and OpusTags
		d := opusDuration(p)
		in.frames = append(in.frames, media.Frame{DTS: ts, PTS: ts, Key: true, Data: p})
		in.durs = append(in.durs, d)
		ts += d
	}
	return in
}

// opusDuration reads a packet's duration from its TOC byte (RFC 6716, 3.1).
func opusDuration(p []byte) time.Duration {
	cfg := p[0] >> 3
	var frame time.Duration
	switch {
	case cfg < 12:
		frame = []time.Duration{10, 20, 40, 60}[cfg%4] * time.Millisecond
	case cfg < 16:
		frame = []time.Duration{10, 20}[cfg%2] * time.Millisecond
	default:
		frame = []time.Duration{2500, 5000, 10000, 20000}[cfg%4] * time.Microsecond
	}
	n := 1
	switch p[0] & 3 {
	case 1, 2:
		n = 2
	case 3:
		n = int(p[1] & 0x3F)
	}
	return frame * time.Duration(n)
}

// makeG711 encodes the tone to 8 kHz mono A-law or µ-law in 20 ms packets.
func makeG711(tb testing.TB, codec media.Codec) input {
	tb.Helper()
	format := map[media.Codec]string{media.PCMA: "alaw", media.PCMU: "mulaw"}[codec]
	data := mediatest.FFmpeg(tb, append(sineSource(8000, 1), "-f", format, "-")...)
	in := input{track: media.Track{Kind: media.Audio, Codec: codec, SampleRate: 8000, Channels: 1}}
	for i := 0; i < len(data); i += 160 {
		p := data[i:min(i+160, len(data))]
		d := time.Duration(i) * time.Second / 8000
		in.frames = append(in.frames, media.Frame{DTS: d, PTS: d, Key: true, Data: p})
		in.durs = append(in.durs, time.Duration(len(p))*time.Second/8000)
	}
	return in
}

// newTranscoder makes a Transcoder from in to out at rate and ch, closed when the test ends.
func newTranscoder(tb testing.TB, in media.Track, out media.Codec, rate, ch int) *Transcoder {
	tb.Helper()
	tr, err := NewTranscoder(in, out, rate, ch)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tr.Close)
	return tr
}

// transcodeAll runs every frame through tr and flushes it.
func transcodeAll(tb testing.TB, tr *Transcoder, frames []media.Frame) []media.Frame {
	tb.Helper()
	var out []media.Frame
	for i, f := range frames {
		o, err := tr.Transcode(f)
		if err != nil {
			tb.Fatalf("frame %d: %v", i, err)
		}
		out = append(out, o...)
	}
	o, err := tr.Flush()
	if err != nil {
		tb.Fatal(err)
	}
	return append(out, o...)
}

// writeADTS writes raw AAC frames as an ADTS stream, with headers built from the
// AudioSpecificConfig, the way a player's input would look.
func writeADTS(tb testing.TB, path string, asc []byte, frames []media.Frame) {
	tb.Helper()
	if len(asc) < 2 {
		tb.Fatalf("AudioSpecificConfig %x too short", asc)
	}
	aot, sfi, ch := asc[0]>>3, (asc[0]&7)<<1|asc[1]>>7, (asc[1]>>3)&0xF
	if aot < 1 || aot > 4 || sfi > 12 {
		tb.Fatalf("AudioSpecificConfig %x cannot go in ADTS", asc)
	}
	var b bytes.Buffer
	for _, f := range frames {
		n := len(f.Data) + 7
		b.Write([]byte{0xFF, 0xF1, (aot-1)<<6 | sfi<<2 | ch>>2, (ch&3)<<6 | byte(n>>11), byte(n >> 3), byte(n&7)<<5 | 0x1F, 0xFC})
		b.Write(f.Data)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// splitXiph splits a Xiph-laced CodecPrivate into its packets.
func splitXiph(tb testing.TB, b []byte) [][]byte {
	tb.Helper()
	if len(b) < 1 {
		tb.Fatal("empty Xiph lacing")
	}
	n := int(b[0]) + 1
	b = b[1:]
	sizes := make([]int, n)
	rest := 0
	for i := 0; i < n-1; i++ {
		for {
			if len(b) == 0 {
				tb.Fatal("truncated Xiph lacing")
			}
			v := int(b[0])
			b = b[1:]
			sizes[i] += v
			if v < 255 {
				break
			}
		}
		rest += sizes[i]
	}
	if rest > len(b) {
		tb.Fatal("Xiph lacing sizes exceed the data")
	}
	sizes[n-1] = len(b) - rest
	out := make([][]byte, n)
	for i, s := range sizes {
		out[i], b = b[:s], b[s:]
	}
	return out
}

var oggCRC = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return
}()

// oggWriter writes one logical stream, one packet per page.
type oggWriter struct {
	b   bytes.Buffer
	seq uint32
}

func (w *oggWriter) page(p []byte, granule int64, flags byte) {
	var h [27]byte
	copy(h[:], "OggS")
	h[5] = flags
	binary.LittleEndian.PutUint64(h[6:], uint64(granule))
	binary.LittleEndian.PutUint32(h[14:], 0x5EC0DE)
	binary.LittleEndian.PutUint32(h[18:], w.seq)
	w.seq++
	var lacing []byte
	n := len(p)
	for ; n >= 255; n -= 255 {
		lacing = append(lacing, 255)
	}
	lacing = append(lacing, byte(n))
	h[26] = byte(len(lacing))
	page := append(append(append([]byte{}, h[:]...), lacing...), p...)
	var crc uint32
	for _, c := range page {
		crc = crc<<8 ^ oggCRC[byte(crc>>24)^c]
	}
	binary.LittleEndian.PutUint32(page[22:], crc)
	w.b.Write(page)
}

// readOgg returns the packets of the (single) logical stream of an Ogg file.
func readOgg(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var pkts [][]byte
	var cur []byte
	for len(data) > 0 {
		if len(data) < 27 || string(data[:4]) != "OggS" {
			tb.Fatal("bad Ogg page")
		}
		nseg := int(data[26])
		lacing := data[27 : 27+nseg]
		body := data[27+nseg:]
		off := 0
		for _, l := range lacing {
			cur = append(cur, body[off:off+int(l)]...)
			off += int(l)
			if l < 255 {
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		data = body[off:]
	}
	return pkts
}

// decodeMono decodes a file with ffmpeg to mono 16-bit samples at its own rate.
func decodeMono(tb testing.TB, path string) []int16 {
	tb.Helper()
	raw := mediatest.FFmpeg(tb, "-i", path, "-ac", "1", "-f", "s16le", "-")
	s := make([]int16, len(raw)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return s
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

// toneFreq estimates the frequency of s (at rate) from its rising zero crossings.
func toneFreq(s []int16, rate int) float64 {
	first, last, n := -1, -1, 0
	for i := 1; i < len(s); i++ {
		if s[i-1] < 0 && s[i] >= 0 {
			if first < 0 {
				first = i
			} else {
				n++
			}
			last = i
		}
	}
	if n == 0 {
		return 0
	}
	return float64(n) * float64(rate) / float64(last-first)
}

// checkTone asserts that s[from:to] (seconds) carries the test tone.
func checkTone(tb testing.TB, s []int16, rate int, from, to float64) {
	tb.Helper()
	a, b := int(from*float64(rate)), int(to*float64(rate))
	if a < 0 || b > len(s) || a >= b {
		tb.Fatalf("window %.2f-%.2f s outside %d samples", from, to, len(s))
	}
	w := s[a:b]
	if r := rms(w); r < 1500 { // the input's RMS is 32768/8/sqrt2 ≈ 2900
		tb.Errorf("%.2f-%.2f s: RMS %.0f, want the tone (~2900)", from, to, r)
	}
	if f := toneFreq(w, rate); math.Abs(f-toneHz) > 2 {
		tb.Errorf("%.2f-%.2f s: %.1f Hz, want %d", from, to, f, toneHz)
	}
}
