package mp4

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Bounds on what Probe reads of a file that may be cut (a killed recording), corrupt or hostile
// (a file copied into the records folder).
const (
	// maxProbeHeader bounds the moov, read whole: it holds no media. Probe never allocates more
	// than the file holds either.
	maxProbeHeader = 4 << 20
	// maxProbeBoxes bounds the top-level boxes looked at for the moov (one small read each).
	maxProbeBoxes = 64
)

var epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// Probe reads what a file of size bytes says of itself in its moov: duration, creation time,
// and the first video and first audio track's codec and format. It walks the top-level boxes
// to the moov (a fragmented recording has it up front, a file finished by another tool may
// have it after its media) and never reads the media. What the moov holds is read as far as
// it is well-formed; an error says why there was no moov to read, with what was found.
func Probe(r io.ReaderAt, size int64) (media.FileInfo, error) {
	var info media.FileInfo
	var off int64
	for range maxProbeBoxes {
		// The box is checked against the file's length below: past it is "truncated" only
		// for the moov; any other box just leaves no moov to find.
		h, err := boxAt(r, off, math.MaxInt64)
		if err != nil {
			return info, errors.New("mp4: no moov box")
		}
		if h.typ != "moov" {
			off += h.size
			continue
		}
		if h.size > maxProbeHeader {
			return info, errors.New("mp4: moov box too large")
		}
		if h.size > size-off {
			return info, errors.New("mp4: truncated moov box")
		}
		moov := make([]byte, h.size)
		if _, err := r.ReadAt(moov, off); err != nil {
			return info, errors.New("mp4: truncated moov box")
		}
		return info, readMoov(moov[h.hdr:], &info)
	}
	return info, errors.New("mp4: no moov box near the start")
}

// readMoov reads the mvhd, mehd and traks of a moov's content.
func readMoov(moov []byte, info *media.FileInfo) error {
	m := &moovReader{moov: moov, info: info}
	_ = walkBoxes(moov, 0, len(moov), m.visit)
	m.trak.finish(info)
	if !m.seenMvhd {
		return errors.New("mp4: moov lacks mvhd")
	}
	dur := m.movieDur
	if dur == 0 || dur == math.MaxUint64 {
		dur = m.fragDur
	}
	if m.timescale > 0 && dur != math.MaxUint64 {
		info.Duration = float64(dur) / float64(m.timescale)
	}
	return nil
}

// moovReader is what readMoov found so far, box by box.
type moovReader struct {
	moov              []byte
	info              *media.FileInfo
	seenMvhd          bool
	timescale         uint32
	movieDur, fragDur uint64
	trak              trakProbe // the trak being read
	minfEnd           int       // end of the latest minf
}

func (m *moovReader) visit(typ string, start, end int) error {
	p := m.moov[start+8 : end]
	switch typ {
	case "trak":
		m.trak.finish(m.info)
		m.trak = trakProbe{seen: true}
		return m.into(start, end)
	case "mvex", "mdia", "stbl":
		return m.into(start, end)
	case "minf":
		m.minfEnd = end
		return m.into(start, end)
	case "mvhd":
		m.mvhd(p)
	case "mehd":
		m.mehd(p)
	case "hdlr":
		if start >= m.minfEnd { // the media handler, not a data handler inside minf
			m.trak.hdlr(p)
		}
	case "mdhd":
		m.trak.mdhd = first(m.trak.mdhd, p)
	case "stsd":
		m.trak.stsd = first(m.trak.stsd, p)
	}
	return nil
}

// into walks the children of the box at moov[start:end]; a malformed one ends that box's walk,
// not its parent's, and what came before it counts.
func (m *moovReader) into(start, end int) error {
	_ = walkBoxes(m.moov, start+8, end, m.visit)
	return nil
}

func (m *moovReader) mvhd(p []byte) {
	if m.seenMvhd {
		return
	}
	if created, ts, dur, ok := fullTimes(p); ok {
		m.seenMvhd, m.timescale, m.movieDur = true, ts, dur
		if created > 0 {
			m.info.Created = epoch.Add(time.Duration(created) * time.Second)
		}
	}
}

func (m *moovReader) mehd(p []byte) {
	switch {
	case m.fragDur != 0 || len(p) < 8:
	case p[0] == 1 && len(p) >= 12:
		m.fragDur = binary.BigEndian.Uint64(p[4:12])
	default:
		m.fragDur = uint64(binary.BigEndian.Uint32(p[4:8]))
	}
}

// first keeps the first payload found of a box.
func first(kept, p []byte) []byte {
	if kept != nil {
		return kept
	}
	return p
}

// trakProbe is what readMoov found of one trak: its handler, mdhd and sample description.
type trakProbe struct {
	seen       bool
	handled    bool // an hdlr was found (the first counts)
	handler    string
	mdhd, stsd []byte
}

func (t *trakProbe) hdlr(p []byte) {
	if t.handled {
		return
	}
	t.handled = true
	if len(p) >= 12 {
		t.handler = string(p[8:12])
	}
}

// finish adds the trak to info when it is the first of its kind.
func (t *trakProbe) finish(info *media.FileInfo) {
	if !t.seen || len(t.stsd) < 16 {
		return
	}
	entry := t.stsd[8:] // version/flags, entry count
	size := int(binary.BigEndian.Uint32(entry[:4]))
	format := string(entry[4:8])
	if size < 8 || size > len(entry) {
		return
	}
	body := entry[8:size]
	switch t.handler {
	case "vide":
		if info.Video != nil {
			return
		}
		v := &media.TrackInfo{Codec: codecName(format)}
		if len(body) >= 28 {
			v.Width = int(binary.BigEndian.Uint16(body[24:26]))
			v.Height = int(binary.BigEndian.Uint16(body[26:28]))
		}
		info.Video = v
	case "soun":
		if info.Audio != nil {
			return
		}
		a := &media.TrackInfo{Codec: codecName(format)}
		if len(body) >= 28 {
			a.Channels = int(binary.BigEndian.Uint16(body[16:18]))
			a.SampleRate = int(binary.BigEndian.Uint16(body[24:26])) // 16.16 fixed point
		}
		if _, ts, _, ok := fullTimes(t.mdhd); ok && a.SampleRate == 0 {
			a.SampleRate = int(ts)
		}
		info.Audio = a
	}
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

// codecName names a sample entry's codec as the library shows it.
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
