package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxKeyframe bounds the sample FirstVideoSample reads: a keyframe of a recording is far smaller.
const maxKeyframe = 8 << 20

// ErrNoVideo: the file has no H.264 video track FirstVideoSample can read.
var ErrNoVideo = errors.New("mp4: no H.264 video track")

// VideoSample is a file's first video sample (a recording starts at a keyframe) with what a
// decoder needs for it: the avcC box's content (SPS and PPS) and the sample as stored
// (length-prefixed NAL units).
type VideoSample struct {
	Codec  string // "H264"
	Config []byte // the avcC content
	Data   []byte
}

// FirstVideoSample reads the first video sample of an MP4: from the moov's sample table, or, in a
// fragmented file (a recording of ours), from the first moof that holds one. It reads the moov
// and the moofs up to that one, never past limit bytes into the file, nor more than maxProbeHeader per
// box, nor a sample over maxKeyframe.
func FirstVideoSample(r io.ReaderAt, size, limit int64) (VideoSample, error) {
	var vs VideoSample
	var track uint32
	end := min(size, limit)
	var off int64
	for range maxProbeBoxes * 4 {
		h, err := boxAt(r, off, math.MaxInt64)
		if err != nil || off >= end {
			break
		}
		if (h.typ == "moov" || h.typ == "moof") && h.size <= maxProbeHeader && h.size <= size-off {
			buf := make([]byte, h.size)
			if _, err := r.ReadAt(buf, off); err != nil {
				return vs, fmt.Errorf("mp4: read %s: %w", h.typ, err)
			}
			if h.typ == "moov" {
				v := firstVideoTrak(buf)
				if track, vs.Config = v.id, v.config; track == 0 {
					return vs, ErrNoVideo
				}
				if v.at > 0 && v.n > 0 { // not fragmented: the sample table says where
					return readSample(r, size, vs, v.at, v.n)
				}
			} else if track != 0 {
				if at, n, ok := firstSample(buf, track, off); ok {
					return readSample(r, size, vs, at, n)
				}
			}
		}
		off += h.size
	}
	if track == 0 {
		return vs, ErrNoVideo
	}
	return vs, errors.New("mp4: no video sample in the first fragments")
}

// firstTrak is what firstVideoTrak found: the track's ID and avcC, and where its first sample
// is when the moov has a sample table (a file that is not fragmented; at == 0 otherwise).
type firstTrak struct {
	id     uint32
	config []byte
	at, n  int64
}

// readSample reads the n bytes at at into vs.Data, within bounds.
func readSample(r io.ReaderAt, size int64, vs VideoSample, at, n int64) (VideoSample, error) {
	if n <= 0 || n > maxKeyframe || at < 0 || at+n > size {
		return vs, fmt.Errorf("mp4: first video sample of %d bytes at %d: out of bounds", n, at)
	}
	vs.Codec, vs.Data = "H264", make([]byte, n)
	if _, err := r.ReadAt(vs.Data, at); err != nil {
		return vs, fmt.Errorf("mp4: read the first video sample: %w", err)
	}
	return vs, nil
}

// firstVideoTrak finds the first trak of a moov whose handler is "vide" and whose sample entry is
// avc1/avc3 with an avcC (id 0 when there is none).
func firstVideoTrak(moov []byte) firstTrak {
	var found, cur firstTrak
	var video bool
	finish := func() {
		if found.id == 0 && video && cur.config != nil && cur.id != 0 {
			found = cur
		}
	}
	_ = walkBoxes(moov, 8, len(moov), func(typ string, start, end int) error {
		p := moov[start+8 : end]
		switch typ {
		case "trak":
			finish()
			cur, video = firstTrak{}, false
			return errDescend
		case "mdia", "minf", "stbl":
			return errDescend
		case "tkhd":
			if len(p) >= 24 && p[0] == 1 {
				cur.id = binary.BigEndian.Uint32(p[20:24])
			} else if len(p) >= 16 {
				cur.id = binary.BigEndian.Uint32(p[12:16])
			}
		case "hdlr":
			if len(p) >= 12 && string(p[8:12]) == "vide" {
				video = true
			}
		case "stsd":
			if cur.config == nil {
				cur.config = avcConfig(p)
			}
		case "stsz": // version+flags, sample_size (all the same), count, then the sizes
			if len(p) >= 12 && binary.BigEndian.Uint32(p[8:12]) > 0 {
				if cur.n = int64(binary.BigEndian.Uint32(p[4:8])); cur.n == 0 && len(p) >= 16 {
					cur.n = int64(binary.BigEndian.Uint32(p[12:16]))
				}
			}
		case "stco": // version+flags, count, then 32-bit chunk offsets
			if len(p) >= 12 && binary.BigEndian.Uint32(p[4:8]) > 0 {
				cur.at = int64(binary.BigEndian.Uint32(p[8:12]))
			}
		case "co64":
			if len(p) >= 16 && binary.BigEndian.Uint32(p[4:8]) > 0 {
				cur.at = int64(binary.BigEndian.Uint64(p[8:16]))
			}
		}
		return nil
	})
	finish()
	return found
}

// avcConfig is the avcC content of an stsd whose first entry is avc1 or avc3, nil otherwise.
func avcConfig(stsd []byte) []byte {
	// stsd: version+flags (4), entry count (4), then the entries; a visual sample entry has 78
	// bytes of fields after its 8-byte header before its child boxes.
	if len(stsd) < 8+8+78 {
		return nil
	}
	e := stsd[8:]
	n := int(binary.BigEndian.Uint32(e))
	if n < 8+78 || n > len(e) || (string(e[4:8]) != "avc1" && string(e[4:8]) != "avc3") {
		return nil
	}
	var out []byte
	_ = walkBoxes(e[:n], 8+78, n, func(typ string, start, end int) error {
		if typ == "avcC" && out == nil {
			out = e[start+8 : end]
		}
		return nil
	})
	return out
}

// firstSample finds, in a moof read whole (at offset moofAt of the file), the first sample of
// track: its offset in the file and its size.
func firstSample(moof []byte, track uint32, moofAt int64) (at, n int64, ok bool) {
	var base int64
	var defSize uint32
	var mine bool
	_ = walkBoxes(moof, 8, len(moof), func(typ string, start, end int) error {
		if ok {
			return nil
		}
		p := moof[start+8 : end]
		switch typ {
		case "traf":
			mine, base, defSize = false, moofAt, 0
			return errDescend
		case "tfhd":
			mine, base, defSize = tfhd(p, track, moofAt)
		case "trun":
			if mine {
				at, n, ok = trun(p, base, defSize)
			}
		}
		return nil
	})
	return at, n, ok
}

// tfhd reads a track fragment header: whether it is track's, the base offset of its data and
// the default sample size.
func tfhd(p []byte, track uint32, moofAt int64) (mine bool, base int64, defSize uint32) {
	if len(p) < 8 {
		return false, 0, 0
	}
	flags := binary.BigEndian.Uint32(p) & 0xffffff
	base, q := moofAt, p[8:]
	if flags&0x1 != 0 {
		if len(q) < 8 {
			return false, 0, 0
		}
		base, q = int64(binary.BigEndian.Uint64(q)), q[8:]
	}
	for _, bit := range []uint32{0x2, 0x8} {
		if flags&bit != 0 {
			if len(q) < 4 {
				return false, 0, 0
			}
			q = q[4:]
		}
	}
	if flags&0x10 != 0 && len(q) >= 4 {
		defSize = binary.BigEndian.Uint32(q)
	}
	return binary.BigEndian.Uint32(p[4:8]) == track, base, defSize
}

// trun reads a track run's first sample: where it is and its size.
func trun(p []byte, base int64, defSize uint32) (at, n int64, ok bool) {
	if len(p) < 8 {
		return 0, 0, false
	}
	flags := binary.BigEndian.Uint32(p) & 0xffffff
	if binary.BigEndian.Uint32(p[4:8]) == 0 {
		return 0, 0, false
	}
	q := p[8:]
	at = base
	if flags&0x1 != 0 {
		if len(q) < 4 {
			return 0, 0, false
		}
		at, q = base+int64(int32(binary.BigEndian.Uint32(q))), q[4:]
	}
	if flags&0x4 != 0 {
		if len(q) < 4 {
			return 0, 0, false
		}
		q = q[4:]
	}
	if flags&0x100 != 0 {
		if len(q) < 4 {
			return 0, 0, false
		}
		q = q[4:]
	}
	size := defSize
	if flags&0x200 != 0 {
		if len(q) < 4 {
			return 0, 0, false
		}
		size = binary.BigEndian.Uint32(q)
	}
	return at, int64(size), size > 0
}
