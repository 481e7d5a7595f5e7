package webrtc

import (
	"encoding/binary"
	"errors"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/streamrec/streamrec/internal/media"
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

// MaxFrameBytes caps one reassembled video frame. A frame grows until its marker packet, so
// without a cap a publisher that never sets the marker makes the server buffer without end.
// 8 MB is far above any real frame (a 4K H.264 keyframe at high quality is about 1-2 MB);
// past it the frame is dropped like a lost one: the ingest skips to the next keyframe and
// asks for one (PLI).
const MaxFrameBytes = 8 << 20

// frame is one whole access unit rebuilt from RTP packets.
type frame struct {
	ts   uint32 // RTP timestamp
	data []byte // H.264: AVC (4-byte length-prefixed NAL units); VP8: the frame; audio: the packet
	key  bool
	// H.264 parameter sets carried in this access unit.
	sps, pps []byte
	params   *media.Track // a keyframe changing the published track's description (see media.KeyParams)
}

// assembler turns packets, in sequence order, into frames. push returns a finished intact frame
// (or nil) and whether a frame was lost or broken since the last call, so the caller can skip
// to the next keyframe and ask for one.
type assembler interface {
	push(p *rtp.Packet, lostBefore bool) (f *frame, lost bool)
}

// newAssembler returns the assembler of codec; oversize (may be nil) is called with the size
// reached each time a video frame is dropped for growing past MaxFrameBytes.
func newAssembler(codec media.Codec, oversize func(size int)) assembler {
	switch codec {
	case media.H264:
		return &videoAssembler{unit: &h264Unit{}, max: MaxFrameBytes, oversize: oversize}
	case media.VP8:
		return &videoAssembler{unit: &vp8Unit{}, max: MaxFrameBytes, oversize: oversize}
	default:
		return audioAssembler{}
	}
}

// audioAssembler: every RTP packet of Opus and G.711 is one frame.
type audioAssembler struct{}

func (audioAssembler) push(p *rtp.Packet, lostBefore bool) (*frame, bool) {
	if len(p.Payload) == 0 {
		return nil, lostBefore
	}
	return &frame{ts: p.Timestamp, data: append([]byte(nil), p.Payload...), key: true}, lostBefore
}

// videoUnit is the codec-specific part of rebuilding a video frame.
type videoUnit interface {
	// start tells whether the payload certainly begins a frame.
	start(payload []byte) bool
	// add appends a packet's payload to the frame being built.
	add(payload []byte) error
	// finish returns the frame built from the payloads since reset.
	finish() (*frame, error)
	// size is how many bytes the frame being built holds.
	size() int
	reset()
}

// videoAssembler collects the packets of one RTP timestamp up to the marker bit.
type videoAssembler struct {
	unit        videoUnit
	max         int            // MaxFrameBytes
	oversize    func(size int) // told of each frame dropped for its size
	active      bool
	ts          uint32
	broken      bool
	tooBig      bool // the frame being built passed max: its further packets are not kept
	pendingLoss bool // packets were lost before a padding packet: they may begin the next frame
}

func (a *videoAssembler) push(p *rtp.Packet, lostBefore bool) (*frame, bool) {
	lostBefore = lostBefore || a.pendingLoss
	a.pendingLoss = false
	if len(p.Payload) == 0 {
		// Padding only (bandwidth probing): no media, and no loss of its own.
		if lostBefore {
			if a.active {
				a.broken = true
			} else {
				a.pendingLoss = true
			}
		}
		return nil, lostBefore
	}
	lost := lostBefore
	if a.active && p.Timestamp != a.ts {
		// A new frame began before the last one's marker packet: that one is incomplete.
		a.abandon()
		lost = true
	}
	if !a.active {
		// Packets lost right before a frame may have been its beginning, unless it visibly starts here.
		a.active, a.ts, a.broken = true, p.Timestamp, lostBefore && !a.unit.start(p.Payload)
		a.unit.reset()
	} else if lostBefore {
		a.broken = true // the missing packets were inside this frame
	}
	a.add(p.Payload)
	if !p.Marker {
		return nil, lost
	}
	a.active, a.tooBig = false, false
	if a.broken {
		a.broken = false
		return nil, true
	}
	f, err := a.unit.finish()
	if err != nil || f == nil {
		return nil, true
	}
	f.ts = p.Timestamp
	return f, lost
}

// add appends a payload to the frame being built, unless that takes it past max: then the
// frame is broken and what it held is let go at once.
func (a *videoAssembler) add(payload []byte) {
	if a.tooBig {
		return
	}
	if n := a.unit.size() + len(payload); n > a.max {
		a.tooBig, a.broken = true, true
		a.unit.reset()
		if a.oversize != nil {
			a.oversize(n)
		}
		return
	}
	if err := a.unit.add(payload); err != nil {
		a.broken = true
	}
}

// abandon drops the frame being built.
func (a *videoAssembler) abandon() {
	a.active, a.broken, a.tooBig = false, false, false
	a.unit.reset()
}

// h264Unit rebuilds H.264 access units (RFC 6184 single NAL unit, STAP-A and FU-A packets)
// as AVC samples: NAL units each preceded by a 4-byte big-endian length.
type h264Unit struct {
	out      []byte
	fua      []byte // the NAL unit being reassembled from FU-A fragments
	inFUA    bool
	key      bool
	sps, pps []byte
}

var errH264Payload = errors.New("malformed H.264 RTP payload")

func (u *h264Unit) size() int { return len(u.out) + len(u.fua) }

func (u *h264Unit) reset() {
	u.out, u.fua, u.inFUA, u.key, u.sps, u.pps = nil, nil, false, false, nil, nil
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
	case t >= 1 && t <= 23:
		u.nal(b)
	case t == nalSTAPA:
		b = b[1:]
		for len(b) > 0 {
			if len(b) < 2 {
				return errH264Payload
			}
			n := int(binary.BigEndian.Uint16(b))
			if n == 0 || len(b) < 2+n {
				return errH264Payload
			}
			u.nal(b[2 : 2+n])
			b = b[2+n:]
		}
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
			u.nal(u.fua)
			u.fua, u.inFUA = nil, false
		}
	default:
		return errH264Payload // STAP-B, MTAP, FU-B: interleaved mode, which we do not negotiate
	}
	return nil
}

// nal appends one NAL unit to the access unit and notes what it is.
func (u *h264Unit) nal(n []byte) {
	if len(n) == 0 {
		return
	}
	switch n[0] & 0x1f {
	case nalIDR:
		u.key = true
	case nalSPS:
		u.sps = append([]byte(nil), n...)
	case nalPPS:
		u.pps = append([]byte(nil), n...)
	}
	u.out = binary.BigEndian.AppendUint32(u.out, uint32(len(n)))
	u.out = append(u.out, n...)
}

func (u *h264Unit) finish() (*frame, error) {
	if u.inFUA {
		return nil, errH264Payload // the last fragment never came
	}
	if len(u.out) == 0 {
		return nil, nil
	}
	f := &frame{data: u.out, key: u.key, sps: u.sps, pps: u.pps}
	u.out = nil
	return f, nil
}

// vp8Unit rebuilds VP8 frames (RFC 7741): payload descriptors removed, partitions joined.
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

func (u *vp8Unit) finish() (*frame, error) {
	if !u.first || len(u.out) == 0 {
		return nil, errors.New("empty VP8 frame")
	}
	f := &frame{data: u.out, key: u.key}
	u.out = nil
	return f, nil
}
