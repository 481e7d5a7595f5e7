package rtp

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// H.264 NAL unit types (ITU-T H.264 table 7-1) and RTP payload types (RFC 6184).
const (
	nalSlice = 1
	nalIDR   = 5
	nalSEI   = 6
	nalSPS   = 7
	nalPPS   = 8
	nalAUD   = 9
	nalSTAPA = 24
	nalFUA   = 28
)

// NewH264 returns a depacketizer of H.264 (RFC 6184, packetization modes 0 and 1: single NAL
// unit, STAP-A and FU-A packets) into AVC access units, with the parameter sets they carry.
func NewH264(o Options) Depacketizer {
	return newVideo(&h264Unit{maxNALUs: o.MaxNALUs}, o)
}

// h264Unit rebuilds H.264 access units as AVC samples: NAL units each preceded by a 4-byte
// big-endian length.
type h264Unit struct {
	maxNALUs int // 0: no cap
	out      []byte
	nalus    int
	fua      []byte // the NAL unit being reassembled from FU-A fragments
	inFUA    bool
	key      bool
	sps, pps []byte
}

var (
	errH264Payload = errors.New("malformed H.264 RTP payload")
	errH264NALUs   = errors.New("too many NAL units in an H.264 access unit")
)

func (u *h264Unit) size() int { return len(u.out) + len(u.fua) }

func (u *h264Unit) reset() {
	u.out, u.nalus, u.fua, u.inFUA, u.key, u.sps, u.pps = nil, 0, nil, false, false, nil, nil
}

// start: a parameter set, delimiter or SEI, or a slice with first_mb_in_slice 0 (its ue(v)
// code is a single 1 bit) begins an access unit.
func (u *h264Unit) start(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	switch t := b[0] & 0x1f; {
	case t == nalSTAPA:
		if len(b) < 5 {
			return false
		}
		return nalStarts(b[3:])
	case t == nalFUA:
		if len(b) < 3 || b[1]&0x80 == 0 {
			return false
		}
		return nalStarts(append([]byte{b[0]&0xe0 | b[1]&0x1f}, b[2:]...))
	default:
		// Past a leading start code: a camera's Annex B in one packet (see nal).
		if i := bytes.Index(b, startCode); i >= 0 && allZero(b[:i]) {
			b = b[i+len(startCode):]
		}
		return nalStarts(b)
	}
}

func nalStarts(nal []byte) bool {
	if len(nal) < 2 {
		return false
	}
	switch nal[0] & 0x1f {
	case nalSPS, nalPPS, nalAUD, nalSEI:
		return true
	case nalSlice, nalIDR:
		return nal[1]&0x80 != 0
	}
	return false
}

func (u *h264Unit) add(b []byte) error {
	if len(b) < 1 {
		return errH264Payload
	}
	switch t := b[0] & 0x1f; {
	case t <= 23: // a single NAL unit (type 0, unspecified, is what an Annex B stream in one packet begins with)
		return u.nal(b)
	case t == nalSTAPA:
		return u.stapA(b[1:])
	case t == nalFUA:
		if len(b) < 3 {
			return errH264Payload
		}
		startBit, endBit := b[1]&0x80 != 0, b[1]&0x40 != 0
		if startBit {
			u.fua = append(u.fua[:0], b[0]&0xe0|b[1]&0x1f)
			u.inFUA = true
		} else if !u.inFUA {
			return errH264Payload // a fragment whose start we do not have
		}
		u.fua = append(u.fua, b[2:]...)
		if endBit {
			err := u.nal(u.fua)
			u.fua, u.inFUA = nil, false
			return err
		}
	default:
		return errH264Payload // STAP-B, MTAP, FU-B: interleaved mode, which we do not negotiate
	}
	return nil
}

// stapA adds the NAL units of a STAP-A payload (after its header byte). Zero bytes after the
// last unit are padding (some cameras send them).
func (u *h264Unit) stapA(b []byte) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return errH264Payload
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 && allZero(b) {
			return nil
		}
		if n == 0 || len(b) < 2+n {
			return errH264Payload
		}
		if err := u.nal(b[2 : 2+n]); err != nil {
			return err
		}
		b = b[2+n:]
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// startCode is the Annex B start code (the 4-byte one has a zero before it).
var startCode = []byte{0, 0, 1}

// nal appends one NAL unit to the access unit and notes what it is. Some cameras put a whole
// Annex B stream into one NAL unit packet; a real NAL unit never holds 00 00 01 (emulation
// prevention), so one that does is split at its start codes.
func (u *h264Unit) nal(n []byte) error {
	if bytes.Contains(n, startCode) {
		for len(n) > 0 {
			i := bytes.Index(n, startCode)
			if i < 0 {
				i = len(n)
			}
			if err := u.one(bytes.TrimRight(n[:i], "\x00")); err != nil {
				return err
			}
			n = n[min(i+len(startCode), len(n)):]
		}
		return nil
	}
	return u.one(n)
}

func (u *h264Unit) one(n []byte) error {
	if len(n) == 0 {
		return nil
	}
	if u.maxNALUs > 0 && u.nalus == u.maxNALUs {
		return errH264NALUs
	}
	u.nalus++
	switch n[0] & 0x1f {
	case nalIDR:
		u.key = true
	case nalSPS:
		u.sps = append([]byte(nil), n...)
	case nalPPS:
		u.pps = append([]byte(nil), n...)
	}
	u.out = AppendAVC(u.out, n)
	return nil
}

func (u *h264Unit) finish() (Frame, bool) {
	if u.inFUA || len(u.out) == 0 {
		return Frame{}, false // the last fragment never came, or nothing came
	}
	f := Frame{Data: u.out, Key: u.key, SPS: u.sps, PPS: u.pps}
	u.out = nil
	return f, true
}

// AppendAVC appends NAL units to dst in the AVC form: each preceded by its 4-byte big-endian
// length.
func AppendAVC(dst []byte, nalus ...[]byte) []byte {
	for _, n := range nalus {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
	}
	return dst
}

// SplitAVC returns the NAL units of an AVC sample (as Frame.Data holds them), slices of it;
// it stops at a length that runs past the end.
func SplitAVC(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			break
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out
}
