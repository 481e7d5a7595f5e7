package rtp

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
)

// aacSamples is the duration of one AAC frame in samples (the RTP clock is the sample rate): the
// frames of one packet are this far apart.
const aacSamples = 1024

// maxAACFrame bounds an AAC access unit reassembled from fragments: 5 KB, mediacommon's bound,
// that of gortsplib's decoder RTSP used before.
const maxAACFrame = mpeg4audio.MaxAccessUnitSize

// AUHeaders describes the AU headers of MPEG4-GENERIC packets (RFC 3640 section 3.2.1), as the
// SDP's fmtp gives them: the bits of AU-size, AU-Index and AU-Index-delta.
type AUHeaders struct {
	SizeLength, IndexLength, IndexDeltaLength int
}

// NewAAC returns a depacketizer of MPEG4-GENERIC AAC (RFC 3640, the AAC-hbr and AAC-lbr
// modes): the access units of each packet, or one AU fragmented over packets up to the marker.
// AUs wrapped in ADTS (some cameras) are unwrapped. Interleaving (an AU-Index other than 0) is
// not supported.
func NewAAC(h AUHeaders) Depacketizer { return &aac{h: h} }

type aac struct {
	h      AUHeaders
	frag   []byte // an AU being reassembled
	inFrag bool
	first  bool // the first AU was seen: whether the stream is ADTS is known
	adts   bool
	out    []Frame
}

var errAACPayload = errors.New("malformed MPEG4-GENERIC RTP payload")

func (d *aac) Push(p *rtp.Packet, lostBefore bool) ([]Frame, bool) {
	d.out = d.out[:0]
	if lostBefore {
		d.frag, d.inFrag = nil, false // the rest of the AU being reassembled is lost
	}
	aus, err := d.aus(p)
	if err != nil {
		d.frag, d.inFrag = nil, false
		return nil, true
	}
	for i, au := range aus {
		if au, err = d.unwrap(au, len(aus)); err != nil {
			return d.out, true
		}
		if len(au) > 0 { // an AU-size of 0 is no frame
			d.out = append(d.out, Frame{TS: p.Timestamp + uint32(i*aacSamples), Data: au, Key: true})
		}
	}
	return d.out, lostBefore
}

// aus returns the AUs a packet completes, copied out of it.
func (d *aac) aus(p *rtp.Packet) ([][]byte, error) {
	sizes, payload, err := d.h.read(p.Payload)
	if err != nil {
		return nil, err
	}
	if !d.inFrag && p.Marker {
		aus := make([][]byte, len(sizes))
		for i, n := range sizes {
			if len(payload) < n {
				return nil, errAACPayload
			}
			aus[i] = append([]byte(nil), payload[:n]...)
			payload = payload[n:]
		}
		return aus, nil
	}
	// A fragment: its AU-size is the whole AU's (RFC 3640 section 3.2.3) or, from some senders,
	// the fragment's own.
	if len(sizes) != 1 {
		return nil, errors.New("a fragmented MPEG4-GENERIC packet holds more than one AU")
	}
	if len(d.frag)+len(payload) > maxAACFrame {
		return nil, fmt.Errorf("AAC frame over %d bytes", maxAACFrame)
	}
	d.frag = append(d.frag, payload[:min(sizes[0], len(payload))]...)
	d.inFrag = true
	if !p.Marker {
		return nil, nil
	}
	au := d.frag
	d.frag, d.inFrag = nil, false
	return [][]byte{au}, nil
}

// read parses the AU-headers-length and the AU headers of a payload and returns the AU sizes
// and what follows the headers.
func (h AUHeaders) read(b []byte) ([]int, []byte, error) {
	if len(b) < 2 || h.SizeLength <= 0 || h.SizeLength > 32 || h.IndexLength < 0 || h.IndexLength > 32 ||
		h.IndexDeltaLength < 0 || h.IndexDeltaLength > 32 {
		return nil, nil, errAACPayload
	}
	bitsLen := int(b[0])<<8 | int(b[1])
	b = b[2:]
	if bitsLen == 0 || (bitsLen+7)/8 > len(b) {
		return nil, nil, errAACPayload
	}
	r := bitReader{b: b[:(bitsLen+7)/8]}
	var sizes []int
	for left := bitsLen; left > 0; {
		size := r.read(h.SizeLength)
		index := h.IndexDeltaLength
		if len(sizes) == 0 {
			index = h.IndexLength
		}
		if r.read(index) != 0 {
			return nil, nil, errors.New("interleaved MPEG4-GENERIC (AU-Index) is not supported")
		}
		left -= h.SizeLength + index
		if r.short {
			return nil, nil, errAACPayload
		}
		sizes = append(sizes, size)
	}
	return sizes, b[(bitsLen+7)/8:], nil
}

// unwrap takes an AU out of its ADTS header when the stream's first AU came in one.
func (d *aac) unwrap(au []byte, n int) ([]byte, error) {
	if !d.first {
		d.first = true
		d.adts = n == 1 && len(au) >= 2 && au[0] == 0xff && au[1]&0xf0 == 0xf0
		if d.adts {
			if inner, err := adtsAU(au); err == nil {
				return inner, nil
			}
			d.adts = false
		}
		return au, nil
	}
	if !d.adts {
		return au, nil
	}
	if n != 1 {
		return nil, errors.New("more than one ADTS frame in a packet")
	}
	return adtsAU(au)
}

// adtsAU returns the AU of one ADTS frame.
func adtsAU(b []byte) ([]byte, error) {
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(b); err != nil {
		return nil, err
	}
	if len(pkts) != 1 {
		return nil, errors.New("more than one ADTS frame in an AU")
	}
	return pkts[0].AU, nil
}

// bitReader reads big-endian bit fields; reading past the end sets short.
type bitReader struct {
	b     []byte
	pos   int
	short bool
}

func (r *bitReader) read(n int) int {
	v := 0
	for range n {
		if r.pos >= 8*len(r.b) {
			r.short = true
			return 0
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

// maxLATMElement bounds an AudioMuxElement: 8 channels of AAC take at most 6144 bytes a frame.
const maxLATMElement = 16 << 10

// maxLATMSubframes bounds the frames of one AudioMuxElement (numSubFrames has 6 bits).
const maxLATMSubframes = 64

// NewLATM returns a depacketizer of MP4A-LATM (RFC 6416), GStreamer's default for AAC: an
// AudioMuxElement in one packet or fragmented up to the marker. Only an out-of-band
// configuration (cpresent=0, config in the SDP) is taken, that is what encoders send; like
// ffmpeg, frames are taken as frameLengthType 0, the one encoders use.
func NewLATM() Depacketizer { return &latm{} }

type latm struct {
	el     []byte // the AudioMuxElement being reassembled
	tooBig bool   // it passed maxLATMElement: its further fragments are dropped
	out    []Frame
}

func (d *latm) Push(p *rtp.Packet, lostBefore bool) ([]Frame, bool) {
	d.out = d.out[:0]
	if lostBefore {
		d.el = d.el[:0] // the rest of the element being reassembled is lost
	}
	if d.tooBig || len(d.el)+len(p.Payload) > maxLATMElement {
		d.el, d.tooBig = d.el[:0], !p.Marker
		return nil, true
	}
	d.el = append(d.el, p.Payload...)
	if !p.Marker {
		return nil, lostBefore
	}
	aus, err := splitLATM(d.el)
	for i, au := range aus {
		d.out = append(d.out, Frame{TS: p.Timestamp + uint32(i*aacSamples), Data: append([]byte(nil), au...), Key: true})
	}
	d.el = d.el[:0]
	return d.out, lostBefore || err != nil
}

// splitLATM splits an AudioMuxElement without in-band configuration into its payloads: each is
// a PayloadLengthInfo (bytes summed while they are 255) then that many bytes. The frames before
// an error are returned with it.
func splitLATM(el []byte) ([][]byte, error) {
	var aus [][]byte
	for len(el) > 0 {
		if len(aus) == maxLATMSubframes {
			return aus, fmt.Errorf("more than %d frames in an AudioMuxElement", maxLATMSubframes)
		}
		n, i := 0, 0
		for i < len(el) {
			b := el[i]
			i++
			n += int(b)
			if b != 255 {
				break
			}
		}
		if n == 0 || n > len(el)-i {
			return aus, fmt.Errorf("LATM payload of %d bytes with %d left", n, len(el)-i)
		}
		aus = append(aus, el[i:i+n])
		el = el[i+n:]
	}
	return aus, nil
}
