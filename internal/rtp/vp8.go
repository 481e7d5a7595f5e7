package rtp

import (
	"errors"

	"github.com/pion/rtp/codecs"
)

// NewVP8 returns a depacketizer of VP8 (RFC 7741): payload descriptors removed, partitions
// joined into frames.
func NewVP8(o Options) Depacketizer { return newVideo(&vp8Unit{}, o) }

// vp8Unit rebuilds VP8 frames.
type vp8Unit struct {
	out   []byte
	first bool // the first packet of the frame was seen
	key   bool
	pkt   codecs.VP8Packet
}

func (u *vp8Unit) size() int { return len(u.out) }

func (u *vp8Unit) reset() { u.out, u.first, u.key = nil, false, false }

func (u *vp8Unit) start(b []byte) bool {
	var p codecs.VP8Packet
	_, err := p.Unmarshal(b)
	return err == nil && p.S == 1 && p.PID == 0
}

func (u *vp8Unit) add(b []byte) error {
	payload, err := u.pkt.Unmarshal(b)
	if err != nil {
		return err
	}
	if u.pkt.S == 1 && u.pkt.PID == 0 {
		if u.first || len(payload) == 0 {
			return errors.New("VP8 frame starts twice")
		}
		u.first = true
		u.key = payload[0]&0x01 == 0 // frame tag: P bit clear = keyframe
	} else if !u.first {
		return errors.New("VP8 frame without its first packet")
	}
	u.out = append(u.out, payload...)
	return nil
}

func (u *vp8Unit) finish() (Frame, bool) {
	if !u.first || len(u.out) == 0 {
		return Frame{}, false
	}
	f := Frame{Data: u.out, Key: u.key}
	u.out = nil
	return f, true
}
