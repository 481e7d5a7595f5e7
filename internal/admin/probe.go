package admin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// MediaInfo is what the library shows of a recording file, read from its container headers
// (MP4: mvhd, tkhd, mdhd, hdlr, stsd; WebM: Info and Tracks) without reading any media.
type MediaInfo struct {
	Duration float64   `json:"duration"`          // seconds; 0 when the file does not say (never finished)
	Created  time.Time `json:"created,omitzero"`  // the container's creation time, when it has one
	Video    *Track    `json:"video,omitempty"`   // the first video track
	Audio    *Track    `json:"audio,omitempty"`   // the first audio track
	Problem  string    `json:"problem,omitempty"` // why the headers could not be read
}

// Track is one track's codec and format.
type Track struct {
	Codec      string `json:"codec"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	SampleRate int    `json:"sampleRate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
}

// maxHeader bounds what probing reads, in all: a moov or the WebM headers above the first
// Cluster are not media. Probing never allocates more than the file holds either, so a cut or
// hostile file costs at most this much memory, and a bounded number of reads (64 top-level
// boxes or elements).
const maxHeader = 4 << 20

// Probe reads the container headers of a recording file.
func Probe(path string) MediaInfo {
	f, err := os.Open(path)
	if err != nil {
		return MediaInfo{Problem: err.Error()}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return MediaInfo{Problem: err.Error()}
	}
	var info MediaInfo
	switch strings.ToLower(path[strings.LastIndexByte(path, '.')+1:]) {
	case "mp4":
		err = probeMP4(f, st.Size(), &info)
	case "webm":
		err = probeWebM(f, st.Size(), &info)
	default:
		err = errors.New("not a recording")
	}
	if err != nil {
		info.Problem = err.Error()
	}
	return info
}

// --- MP4 ---

var mp4Epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// probeMP4 walks the top-level boxes of a file of fileSize bytes to moov (fragmented
// recordings have it up front) and reads it.
func probeMP4(r io.ReaderAt, fileSize int64, info *MediaInfo) error {
	var off int64
	for range 64 {
		var h [16]byte
		if _, err := r.ReadAt(h[:8], off); err != nil {
			return errors.New("mp4: no moov box")
		}
		size := int64(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		hdr := int64(8)
		if size == 1 {
			if _, err := r.ReadAt(h[8:16], off+8); err != nil {
				return errors.New("mp4: truncated box")
			}
			size, hdr = int64(binary.BigEndian.Uint64(h[8:16])), 16
		}
		if size == 0 && typ != "moov" {
			return errors.New("mp4: no moov box")
		}
		if size != 0 && size < hdr {
			return fmt.Errorf("mp4: bad %q box size", typ)
		}
		if typ == "moov" {
			if size == 0 || size > maxHeader {
				return errors.New("mp4: moov box too large")
			}
			if size > fileSize-off {
				return errors.New("mp4: truncated moov box")
			}
			moov := make([]byte, size-hdr)
			if _, err := r.ReadAt(moov, off+hdr); err != nil {
				return errors.New("mp4: truncated moov box")
			}
			return readMoov(moov, info)
		}
		off += size
	}
	return errors.New("mp4: no moov box near the start")
}

// boxes iterates the child boxes in b, calling fn with each type and payload.
func boxes(b []byte, fn func(typ string, payload []byte)) {
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b[:4]))
		hdr := uint64(8)
		if size == 1 && len(b) >= 16 {
			size, hdr = binary.BigEndian.Uint64(b[8:16]), 16
		} else if size == 0 {
			size = uint64(len(b))
		}
		if size < hdr || size > uint64(len(b)) {
			return
		}
		fn(string(b[4:8]), b[hdr:size])
		b = b[size:]
	}
}

func readMoov(moov []byte, info *MediaInfo) error {
	var timescale uint32
	var movieDur, fragDur uint64
	seenMvhd := false
	boxes(moov, func(typ string, p []byte) {
		switch typ {
		case "mvhd":
			created, ts, dur, ok := fullTimes(p)
			if ok {
				seenMvhd, timescale, movieDur = true, ts, dur
				if created > 0 {
					info.Created = mp4Epoch.Add(time.Duration(created) * time.Second)
				}
			}
		case "mvex":
			if p := firstBox(p, "mehd"); len(p) >= 8 {
				if p[0] == 1 && len(p) >= 12 {
					fragDur = binary.BigEndian.Uint64(p[4:12])
				} else {
					fragDur = uint64(binary.BigEndian.Uint32(p[4:8]))
				}
			}
		case "trak":
			readTrak(p, info)
		}
	})
	if !seenMvhd {
		return errors.New("mp4: moov lacks mvhd")
	}
	if movieDur == 0 || movieDur == math.MaxUint64 {
		movieDur = fragDur
	}
	if timescale > 0 && movieDur != math.MaxUint64 {
		info.Duration = float64(movieDur) / float64(timescale)
	}
	return nil
}

func firstBox(b []byte, want string) []byte {
	var out []byte
	boxes(b, func(typ string, p []byte) {
		if typ == want && out == nil {
			out = p
		}
	})
	return out
}

// fullTimes reads creation time, timescale and duration of an mvhd or mdhd payload.
func fullTimes(p []byte) (created uint64, timescale uint32, duration uint64, ok bool) {
	if len(p) < 4 {
		return
	}
	if p[0] == 1 {
		if len(p) < 32 {
			return
		}
		return binary.BigEndian.Uint64(p[4:12]), binary.BigEndian.Uint32(p[20:24]), binary.BigEndian.Uint64(p[24:32]), true
	}
	if len(p) < 20 {
		return
	}
	d := uint64(binary.BigEndian.Uint32(p[16:20]))
	if d == math.MaxUint32 {
		d = 0
	}
	return uint64(binary.BigEndian.Uint32(p[4:8])), binary.BigEndian.Uint32(p[12:16]), d, true
}

func readTrak(trak []byte, info *MediaInfo) {
	mdia := firstBox(trak, "mdia")
	var handler string
	if h := firstBox(mdia, "hdlr"); len(h) >= 12 {
		handler = string(h[8:12])
	}
	stsd := firstBox(firstBox(firstBox(mdia, "minf"), "stbl"), "stsd")
	if len(stsd) < 16 {
		return
	}
	entry := stsd[8:] // version/flags, entry count
	if len(entry) < 8 {
		return
	}
	size := int(binary.BigEndian.Uint32(entry[:4]))
	format := string(entry[4:8])
	if size < 8 || size > len(entry) {
		return
	}
	body := entry[8:size]
	switch handler {
	case "vide":
		if info.Video != nil {
			return
		}
		t := &Track{Codec: codecName(format)}
		if len(body) >= 28 {
			t.Width = int(binary.BigEndian.Uint16(body[24:26]))
			t.Height = int(binary.BigEndian.Uint16(body[26:28]))
		}
		info.Video = t
	case "soun":
		if info.Audio != nil {
			return
		}
		t := &Track{Codec: codecName(format)}
		if len(body) >= 28 {
			t.Channels = int(binary.BigEndian.Uint16(body[16:18]))
			t.SampleRate = int(binary.BigEndian.Uint16(body[24:26])) // 16.16 fixed point
		}
		if _, ts, _, ok := fullTimes(firstBox(mdia, "mdhd")); ok && t.SampleRate == 0 {
			t.SampleRate = int(ts)
		}
		info.Audio = t
	}
}

func codecName(fourcc string) string {
	switch fourcc {
	case "avc1", "avc3":
		return "H264"
	case "hvc1", "hev1":
		return "H265"
	case "mp4a":
		return "AAC"
	case "vp08":
		return "VP8"
	case "vp09":
		return "VP9"
	case "Opus":
		return "opus"
	}
	return strings.TrimSpace(fourcc)
}

// --- WebM ---

const (
	ebmlHeader    = 0x1A45DFA3
	ebmlSegment   = 0x18538067
	ebmlInfo      = 0x1549A966
	ebmlTracks    = 0x1654AE6B
	ebmlCluster   = 0x1F43B675
	ebmlTimescale = 0x2AD7B1
	ebmlDuration  = 0x4489
	ebmlDateUTC   = 0x4461
	ebmlTrack     = 0xAE
	ebmlTrackType = 0x83
	ebmlCodecID   = 0x86
	ebmlVideo     = 0xE0
	ebmlAudio     = 0xE1
	ebmlWidth     = 0xB0
	ebmlHeight    = 0xBA
	ebmlRate      = 0xB5
	ebmlChannels  = 0x9F
)

var webmEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// probeWebM reads the EBML header and the Segment's children up to the first Cluster, of a
// file of fileSize bytes.
func probeWebM(r io.ReaderAt, fileSize int64, info *MediaInfo) error {
	head := make([]byte, 64<<10)
	n, err := r.ReadAt(head, 0)
	if n == 0 {
		return fmt.Errorf("webm: %v", err)
	}
	head = head[:n]
	id, size, hl, ok := ebmlElement(head)
	if !ok || id != ebmlHeader {
		return errors.New("webm: not an EBML file")
	}
	off := int64(hl) + int64(size)
	var h [12]byte
	n, _ = r.ReadAt(h[:], off)
	id, _, hl, ok = ebmlElement(h[:n])
	if !ok || id != ebmlSegment {
		return errors.New("webm: no Segment")
	}
	off += int64(hl)
	timescale := uint64(1000000)
	var rawDur float64
	budget := uint64(maxHeader) // header bytes left to read
	for range 64 {
		n, _ := r.ReadAt(h[:], off)
		id, size, hl, ok := ebmlElement(h[:n])
		if !ok || id == ebmlCluster {
			break
		}
		if size == unknownSize {
			break
		}
		switch id {
		case ebmlInfo, ebmlTracks:
			if size > budget {
				return errors.New("webm: header elements too large")
			}
			if size > uint64(max(0, fileSize-off-int64(hl))) {
				return errors.New("webm: truncated header")
			}
			budget -= size
			body := make([]byte, size)
			if _, err := r.ReadAt(body, off+int64(hl)); err != nil {
				return errors.New("webm: truncated header")
			}
			if id == ebmlInfo {
				ebmlChildren(body, func(id uint64, p []byte) {
					switch id {
					case ebmlTimescale:
						if v := ebmlUint(p); v > 0 {
							timescale = v
						}
					case ebmlDuration:
						rawDur = ebmlFloat(p)
					case ebmlDateUTC:
						if len(p) == 8 {
							info.Created = webmEpoch.Add(time.Duration(int64(binary.BigEndian.Uint64(p))))
						}
					}
				})
			} else {
				readWebMTracks(body, info)
			}
		}
		off += int64(hl) + int64(size)
	}
	if d := rawDur * float64(timescale) / 1e9; d > 0 && !math.IsInf(d, 0) { // NaN is not > 0
		info.Duration = d
	}
	return nil
}

func readWebMTracks(b []byte, info *MediaInfo) {
	ebmlChildren(b, func(id uint64, p []byte) {
		if id != ebmlTrack {
			return
		}
		var typ uint64
		t := &Track{}
		ebmlChildren(p, func(id uint64, p []byte) {
			switch id {
			case ebmlTrackType:
				typ = ebmlUint(p)
			case ebmlCodecID:
				t.Codec = webmCodec(string(bytes.TrimRight(p, "\x00")))
			case ebmlVideo:
				ebmlChildren(p, func(id uint64, p []byte) {
					switch id {
					case ebmlWidth:
						t.Width = int(ebmlUint(p))
					case ebmlHeight:
						t.Height = int(ebmlUint(p))
					}
				})
			case ebmlAudio:
				ebmlChildren(p, func(id uint64, p []byte) {
					switch id {
					case ebmlRate:
						t.SampleRate = int(ebmlFloat(p))
					case ebmlChannels:
						t.Channels = int(ebmlUint(p))
					}
				})
			}
		})
		switch {
		case typ == 1 && info.Video == nil:
			info.Video = t
		case typ == 2 && info.Audio == nil:
			info.Audio = t
		}
	})
}

func webmCodec(id string) string {
	switch id {
	case "V_VP8":
		return "VP8"
	case "V_VP9":
		return "VP9"
	case "V_MPEG4/ISO/AVC":
		return "H264"
	case "A_VORBIS":
		return "vorbis"
	case "A_OPUS":
		return "opus"
	case "A_AAC":
		return "AAC"
	}
	return id
}

const unknownSize = math.MaxUint64

// ebmlElement reads an element's ID, data size and header length from b.
func ebmlElement(b []byte) (id, size uint64, hdr int, ok bool) {
	id, n := ebmlVint(b, true)
	if n == 0 {
		return 0, 0, 0, false
	}
	size, m := ebmlVint(b[n:], false)
	if m == 0 {
		return 0, 0, 0, false
	}
	return id, size, n + m, true
}

// ebmlVint reads a variable-length integer; an ID keeps its length marker. Returns its length, 0 if bad.
func ebmlVint(b []byte, keepMarker bool) (uint64, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n := 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 8 || len(b) < n {
		return 0, 0
	}
	v := uint64(b[0])
	if !keepMarker {
		v &= uint64(0xFF >> n)
	}
	allOnes := v == uint64(0xFF>>n)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
		allOnes = allOnes && b[i] == 0xFF
	}
	if !keepMarker && allOnes {
		return unknownSize, n
	}
	return v, n
}

func ebmlChildren(b []byte, fn func(id uint64, p []byte)) {
	for len(b) > 0 {
		id, size, hl, ok := ebmlElement(b)
		if !ok || size == unknownSize || uint64(len(b)-hl) < size {
			return
		}
		fn(id, b[hl:hl+int(size)])
		b = b[hl+int(size):]
	}
}

func ebmlUint(p []byte) uint64 {
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v
}

func ebmlFloat(p []byte) float64 {
	switch len(p) {
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(p))
	}
	return 0
}
