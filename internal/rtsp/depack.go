package rtsp

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/vp8"
	pion "github.com/pion/rtp"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtp"
)

// depacketizer turns the RTP packets of one format into whole frames of the media model.
type depacketizer interface {
	// decode takes one packet whose presentation time, at the format's clock rate, is pts, and
	// returns the frames it completes (Track unset). A video depacketizer returns nothing until
	// its first keyframe with the parameters needed to decode it, nor after a lost packet (a gap
	// in sequence numbers, over UDP) until the next keyframe.
	decode(pkt *pion.Packet, pts int64) ([]media.Frame, error)
	// track describes the track; for video, complete once the first frame has been returned.
	track() media.Track
}

// ticks converts a time at an RTP clock rate to a duration without overflowing.
func ticks(v int64, rate int) time.Duration {
	r := int64(rate)
	return time.Duration(v/r)*time.Second + time.Duration(v%r)*time.Second/time.Duration(r)
}

// packets is what every depacketizer here starts with: the rtp package's, told of losses by
// the gaps in sequence numbers.
type packets struct {
	dep rtp.Depacketizer
	seq rtp.Sequence
}

// push returns the frames pkt completes, each with its presentation time (pts is the packet's),
// and whether frames were lost before them: gap, a packet went missing (UDP); broken, a frame
// was dropped for what it held.
func (p *packets) push(pkt *pion.Packet, pts int64) (frames []rtp.Frame, times []int64, gap, broken bool) {
	gap = p.seq.Lost(pkt.SequenceNumber)
	frames, lost := p.dep.Push(pkt, gap)
	times = make([]int64, len(frames))
	for i, f := range frames {
		times[i] = pts + int64(int32(f.TS-pkt.Timestamp)) // a frame ended by a later packet, or AAC's frames 1024 apart
	}
	return frames, times, gap, lost && !gap
}

// videoDepack is what H.264 and VP8 share: after a loss, no frame until the next keyframe (a
// frame after a missing one cannot be decoded).
type videoDepack struct {
	packets
	synced bool // a keyframe with the parameters to decode it was seen since the last loss
}

var errBrokenFrame = errors.New("a malformed or oversized frame was dropped: waiting for the next keyframe")

// push returns the frames pkt completes with their presentation times; a frame dropped for what
// it held is reported as an error.
func (v *videoDepack) push(pkt *pion.Packet, pts int64) ([]rtp.Frame, []int64, error) {
	frames, times, gap, broken := v.packets.push(pkt, pts)
	var err error
	if gap || broken {
		if v.synced && broken {
			err = errBrokenFrame
		}
		v.synced = false
	}
	return frames, times, err
}

// h264Depack reassembles H.264 access units (RFC 6184) into AVC length-prefixed samples and
// gives them decoding times.
type h264Depack struct {
	videoDepack
	dts       h264.DTSExtractor
	sps, pps  []byte
	w, h      int
	published *media.Track // the track as last handed out (nil before): a keyframe changing it carries Params
}

func newH264(f *format.H264) (*h264Depack, error) {
	if f.PacketizationMode >= 2 {
		return nil, errors.New("PacketizationMode >= 2 is not supported")
	}
	// The caps RTSP always had (those of gortsplib's decoder).
	d := &h264Depack{videoDepack: videoDepack{packets: packets{dep: rtp.NewH264(rtp.Options{
		MaxFrameBytes: h264.MaxAccessUnitSize, MaxNALUs: h264.MaxNALUsPerAccessUnit})}}}
	sps, pps := f.SafeParams()
	if len(sps) > 0 {
		d.setSPS(sps)
	}
	if len(pps) > 0 {
		d.pps = bytes.Clone(pps)
	}
	return d, nil
}

func (d *h264Depack) setSPS(nalu []byte) {
	var sps h264.SPS
	if err := sps.Unmarshal(nalu); err != nil {
		return // keep the last good one
	}
	d.sps = bytes.Clone(nalu)
	d.w, d.h = sps.Width(), sps.Height()
}

func (d *h264Depack) decode(pkt *pion.Packet, pts int64) ([]media.Frame, error) {
	frames, times, err := d.push(pkt, pts)
	var out []media.Frame
	for i, f := range frames {
		fr, ok, ferr := d.frame(f.Data, times[i])
		if ferr != nil {
			err = ferr
		}
		if ok {
			out = append(out, fr)
		}
	}
	return out, err
}

// frame makes a media frame of one AVC access unit whose presentation time is pts.
func (d *h264Depack) frame(au []byte, pts int64) (media.Frame, bool, error) {
	nalus := rtp.SplitAVC(au)
	keep := nalus[:0:0]
	idr, hasSPS := false, false
	for _, nalu := range nalus {
		if len(nalu) == 0 {
			continue
		}
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
			if !bytes.Equal(d.sps, nalu) {
				d.setSPS(nalu)
			}
		case h264.NALUTypePPS:
			if !bytes.Equal(d.pps, nalu) {
				d.pps = bytes.Clone(nalu)
			}
		case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
			continue
		case h264.NALUTypeIDR:
			idr = true
		}
		keep = append(keep, nalu)
	}
	if len(keep) == 0 {
		return media.Frame{}, false, nil
	}
	if !d.synced {
		// Frames before the first IDR, or before the parameter sets are known, cannot be decoded.
		if !idr || d.sps == nil || d.pps == nil {
			return media.Frame{}, false, nil
		}
		d.synced = true
		d.dts = h264.DTSExtractor{}
		d.dts.Initialize()
	}
	ext := keep
	if idr && !hasSPS {
		// The DTS extractor reads the SPS from keyframes; give it the one the camera sent out of band.
		ext = append([][]byte{d.sps, d.pps}, keep...)
	}
	dts, err := d.dts.Extract(ext, pts)
	if err != nil {
		d.synced = false // start again at the next keyframe
		return media.Frame{}, false, fmt.Errorf("H.264 timing: %w", err)
	}
	data := au
	if len(keep) < len(nalus) {
		data = rtp.AppendAVC(make([]byte, 0, len(au)), keep...)
	}
	f := media.Frame{DTS: ticks(dts, 90000), PTS: ticks(pts, 90000), Key: idr, Data: data}
	if idr && d.published != nil {
		// The parameter sets in effect, in-band or sent just before: a change means a new file.
		if f.Params = media.ChangedParams(*d.published, [][]byte{d.sps}, [][]byte{d.pps}); f.Params != nil {
			d.published = f.Params
		}
	}
	return f, true, nil
}

func (d *h264Depack) track() media.Track {
	t := media.Track{Kind: media.Video, Codec: media.H264, Width: d.w, Height: d.h}
	if d.sps != nil {
		t.SPS = [][]byte{d.sps}
	}
	if d.pps != nil {
		t.PPS = [][]byte{d.pps}
	}
	d.published = &t
	return t
}

// vp8Depack reassembles VP8 frames (RFC 7741).
type vp8Depack struct {
	videoDepack
	w, h      int
	published *media.Track // the track as last handed out (nil before)
}

func newVP8(*format.VP8) (*vp8Depack, error) {
	// The cap RTSP always had (that of gortsplib's decoder).
	return &vp8Depack{videoDepack: videoDepack{packets: packets{dep: rtp.NewVP8(rtp.Options{MaxFrameBytes: vp8.MaxFrameSize})}}}, nil
}

func (d *vp8Depack) decode(pkt *pion.Packet, pts int64) ([]media.Frame, error) {
	frames, times, err := d.push(pkt, pts)
	var out []media.Frame
	for i, fr := range frames {
		if f, ok := d.frame(fr.Data, times[i]); ok {
			out = append(out, f)
		}
	}
	return out, err
}

// frame makes a media frame of one VP8 frame whose presentation time is pts.
func (d *vp8Depack) frame(frame []byte, pts int64) (media.Frame, bool) {
	if len(frame) < 3 {
		return media.Frame{}, false
	}
	key := frame[0]&1 == 0 // the frame tag's inverse keyframe bit
	if w, h, ok := media.VP8Size(frame); ok {
		d.w, d.h = w, h
	}
	if !d.synced {
		if !key {
			return media.Frame{}, false
		}
		d.synced = true
	}
	t := ticks(pts, 90000)
	f := media.Frame{DTS: t, PTS: t, Key: key, Data: frame}
	if key && d.published != nil {
		if f.Params = media.KeyParams(*d.published, f.Data); f.Params != nil {
			d.published = f.Params // a new picture size: a new file
		}
	}
	return f, true
}

func (d *vp8Depack) track() media.Track {
	t := media.Track{Kind: media.Video, Codec: media.VP8, Width: d.w, Height: d.h}
	d.published = &t
	return t
}

// audioDepack passes on the frames of an audio track: every packet's payload (G.711, Opus),
// or the AAC frames of MPEG4-GENERIC or LATM packets.
type audioDepack struct {
	packets
	t    media.Track
	rate int
}

var errBrokenAudio = errors.New("malformed audio RTP payload: frames dropped")

func newAudio(dep rtp.Depacketizer, rate int, t media.Track) *audioDepack {
	return &audioDepack{packets: packets{dep: dep}, t: t, rate: rate}
}

// newPacketAudio takes the codecs whose every RTP payload is one frame: G.711, Opus.
func newPacketAudio(rate int, t media.Track) *audioDepack { return newAudio(rtp.NewPackets(), rate, t) }

func (d *audioDepack) decode(pkt *pion.Packet, pts int64) ([]media.Frame, error) {
	frames, times, _, broken := d.push(pkt, pts)
	out := make([]media.Frame, 0, len(frames))
	for i, f := range frames {
		t := ticks(times[i], d.rate)
		out = append(out, media.Frame{DTS: t, PTS: t, Key: true, Data: f.Data})
	}
	if broken {
		return out, errBrokenAudio
	}
	return out, nil
}

func (d *audioDepack) track() media.Track { return d.t }

// newAAC takes MPEG4-GENERIC AAC (RFC 3640) as the SDP describes it.
func newAAC(f *format.MPEG4Audio) (*audioDepack, error) {
	if f.Config == nil {
		return nil, errors.New("MPEG-4 audio without an AudioSpecificConfig")
	}
	asc, err := f.Config.Marshal()
	if err != nil {
		return nil, fmt.Errorf("AudioSpecificConfig: %w", err)
	}
	dep := rtp.NewAAC(rtp.AUHeaders{SizeLength: f.SizeLength, IndexLength: f.IndexLength, IndexDeltaLength: f.IndexDeltaLength})
	return newAudio(dep, f.ClockRate(), media.Track{Kind: media.Audio, Codec: media.AAC,
		SampleRate: f.Config.SampleRate, Channels: max(f.Config.ChannelCount, 1), Config: asc}), nil
}

// newLATM takes MP4A-LATM (RFC 6416), GStreamer's default for AAC, as the SDP describes it.
// Only an out-of-band configuration (cpresent=0, config in the SDP) of one program of one layer
// is taken: that is what encoders send. Of that configuration only the header and the
// AudioSpecificConfig are trusted: GStreamer's rtpmp4apay ends it right after the
// AudioSpecificConfig, so what mediacommon reads after it (frame length type, other data) is
// noise.
func newLATM(f *format.MPEG4AudioLATM) (*audioDepack, error) {
	smc := f.StreamMuxConfig
	switch {
	case f.CPresent || smc == nil:
		return nil, errors.New("LATM with its configuration in band (cpresent=1)")
	case len(smc.Programs) != 1 || len(smc.Programs[0].Layers) != 1:
		return nil, errors.New("LATM with more than one program or layer")
	}
	asc := smc.Programs[0].Layers[0].AudioSpecificConfig
	if asc == nil {
		return nil, errors.New("LATM without an AudioSpecificConfig")
	}
	cfg, err := asc.Marshal()
	if err != nil {
		return nil, fmt.Errorf("AudioSpecificConfig: %w", err)
	}
	return newAudio(rtp.NewLATM(), f.ClockRate(), media.Track{Kind: media.Audio, Codec: media.AAC,
		SampleRate: asc.SampleRate, Channels: max(asc.ChannelCount, 1), Config: cfg}), nil
}
