package rtp

import (
	"github.com/pion/rtp"

	"github.com/streamrec/streamrec/internal/media"
)

// MaxFrameBytes caps one reassembled video frame. A frame grows until its marker packet, so
// without a cap a publisher that never sets the marker makes the server buffer without end.
// 8 MB is far above any real frame (a 4K H.264 keyframe at high quality is about 1-2 MB);
// past it the frame is dropped like a lost one: the ingest skips to the next keyframe (and
// WebRTC asks for one with PLI).
const MaxFrameBytes = 8 << 20

// Frame is one whole access unit rebuilt from RTP packets.
type Frame struct {
	TS   uint32 // RTP timestamp
	Data []byte // H.264: AVC (4-byte length-prefixed NAL units); VP8: the frame; audio: one access unit
	Key  bool
	// H.264 parameter sets carried in this access unit, nil when it carries none.
	SPS, PPS []byte
}

// Depacketizer turns packets, in sequence order, into frames. Push returns the frames a packet
// completes (the slice is reused by the next call; the frames' data is the caller's) and whether
// a frame was lost or broken since the last call, before those frames, so the caller can skip
// to the next keyframe.
// lostBefore says packets right before p are missing (a jitter buffer gave them up, or the
// sequence numbers jump). A frame is only ever returned whole: one with a missing or malformed
// packet is dropped and reported as lost.
type Depacketizer interface {
	Push(p *rtp.Packet, lostBefore bool) (frames []Frame, lost bool)
}

// Options bound the video depacketizers.
type Options struct {
	// MaxFrameBytes caps one frame; 0 means MaxFrameBytes.
	MaxFrameBytes int
	// MaxNALUs caps the NAL units of one H.264 access unit; 0 means no cap but the bytes.
	MaxNALUs int
	// Oversize, if set, is told the size reached each time a frame is dropped for its size.
	Oversize func(size int)
}

// For returns the depacketizer of codec: H.264 and VP8 frames, and for the audio codecs whose
// packets each carry one frame (Opus, G.711), those.
func For(codec media.Codec, o Options) Depacketizer {
	switch codec {
	case media.H264:
		return NewH264(o)
	case media.VP8:
		return NewVP8(o)
	default:
		return NewPackets()
	}
}

// NewPackets returns a depacketizer for codecs whose every RTP packet is one frame: Opus
// (RFC 7587) and G.711 (RFC 3551).
func NewPackets() Depacketizer { return &perPacket{} }

type perPacket struct{ out [1]Frame }

func (d *perPacket) Push(p *rtp.Packet, lostBefore bool) ([]Frame, bool) {
	if len(p.Payload) == 0 {
		return nil, lostBefore
	}
	d.out[0] = Frame{TS: p.Timestamp, Data: append([]byte(nil), p.Payload...), Key: true}
	return d.out[:], lostBefore
}

// videoUnit is the codec-specific part of rebuilding a video frame.
type videoUnit interface {
	// start tells whether the payload certainly begins a frame.
	start(payload []byte) bool
	// add appends a packet's payload to the frame being built.
	add(payload []byte) error
	// finish returns the frame built from the payloads since reset; ok false: none or broken.
	finish() (f Frame, ok bool)
	// size is how many bytes the frame being built holds.
	size() int
	reset()
}

// video collects the packets of one RTP timestamp up to the marker bit, or up to the first
// packet of the next timestamp when no packet is missing in between (some cameras never set
// the marker).
type video struct {
	unit        videoUnit
	max         int            // Options.MaxFrameBytes
	oversize    func(size int) // told of each frame dropped for its size
	active      bool
	ts          uint32
	broken      bool
	tooBig      bool // the frame being built passed max: its further packets are not kept
	pendingLoss bool // packets were lost before a padding packet: they may begin the next frame
	out         []Frame
}

func newVideo(unit videoUnit, o Options) *video {
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = MaxFrameBytes
	}
	return &video{unit: unit, max: o.MaxFrameBytes, oversize: o.Oversize, out: make([]Frame, 0, 2)}
}

func (a *video) Push(p *rtp.Packet, lostBefore bool) ([]Frame, bool) {
	a.out = a.out[:0]
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
		if lostBefore {
			// A new frame began before the last one's marker packet, which may be among the
			// missing ones: that frame is incomplete.
			a.abandon()
			lost = true
		} else if !a.finish() {
			lost = true // no packet is missing, but what came does not make a frame
		}
	}
	if !a.active {
		// Packets lost right before a frame may have been its beginning, unless it visibly starts here.
		a.active, a.ts, a.broken = true, p.Timestamp, lostBefore && !a.unit.start(p.Payload)
		a.unit.reset()
	} else if lostBefore {
		a.broken = true // the missing packets were inside this frame
	}
	a.add(p.Payload)
	if p.Marker && !a.finish() {
		// A loss is reported before the frames returned: a whole frame finished just before
		// this broken one goes too (only a sender that sets the marker now and then does that).
		a.out, lost = a.out[:0], true
	}
	return a.out, lost
}

// finish ends the frame being built, adding it to out if it is whole; false if it is not.
func (a *video) finish() bool {
	a.active, a.tooBig = false, false
	if a.broken {
		a.broken = false
		return false
	}
	f, ok := a.unit.finish()
	if !ok {
		return false
	}
	f.TS = a.ts
	a.out = append(a.out, f)
	return true
}

// add appends a payload to the frame being built, unless that takes it past max: then the
// frame is broken and what it held is let go at once.
func (a *video) add(payload []byte) {
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
func (a *video) abandon() {
	a.active, a.broken, a.tooBig = false, false, false
	a.unit.reset()
}
