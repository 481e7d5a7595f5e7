package rtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/streamrec/streamrec/internal/media"
)

// packets packetizes one frame with a pion payloader, as a browser would, and gives the
// packets consecutive sequence numbers from *seq.
func packets(pl rtp.Payloader, mtu uint16, ts uint32, seq *uint16, frame []byte) []*rtp.Packet {
	var out []*rtp.Packet
	payloads := pl.Payload(mtu, frame)
	for i, p := range payloads {
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{SequenceNumber: *seq, Timestamp: ts, Marker: i == len(payloads)-1},
			Payload: p,
		})
		*seq++
	}
	return out
}

func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

func avcOf(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

// nal makes a NAL unit of a type and size; slices begin with first_mb_in_slice = 0.
func nal(typ byte, size int) []byte {
	n := make([]byte, size)
	n[0] = 0x60 | typ
	for i := 1; i < size; i++ {
		n[i] = byte(i*7 + int(typ))
	}
	if typ == nalIDR || typ == nalSlice {
		n[1] |= 0x80
	}
	return n
}

type result struct {
	frames []Frame
	losses int
}

func feed(a Depacketizer, pkts []*rtp.Packet, lostBefore map[int]bool) result {
	var r result
	for i, p := range pkts {
		r.add(a.Push(p, lostBefore[i]))
	}
	return r
}

func (r *result) add(frames []Frame, lost bool) {
	if lost {
		r.losses++
	}
	r.frames = append(r.frames, frames...)
}

func TestH264AccessUnits(t *testing.T) {
	sps, pps := []byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02}, []byte{0x68, 0xce, 0x3c, 0x80}
	idr, p1, p2 := nal(nalIDR, 5000), nal(nalSlice, 300), nal(nalSlice, 900)
	var seq uint16 = 100
	pl := &codecs.H264Payloader{}
	var pkts []*rtp.Packet
	pkts = append(pkts, packets(pl, 1200, 3000, &seq, annexB(sps, pps, idr))...) // STAP-A + FU-A
	pkts = append(pkts, packets(pl, 1200, 6000, &seq, annexB(p1))...)            // single NAL
	pkts = append(pkts, packets(pl, 1200, 9000, &seq, annexB(p2))...)            // single NAL
	r := feed(For(media.H264, Options{}), pkts, nil)
	if r.losses != 0 || len(r.frames) != 3 {
		t.Fatalf("%d frames, %d losses; want 3 frames, no loss", len(r.frames), r.losses)
	}
	k := r.frames[0]
	if !k.Key || !bytes.Equal(k.SPS, sps) || !bytes.Equal(k.PPS, pps) || k.TS != 3000 {
		t.Errorf("keyframe: key %v sps %x pps %x ts %d", k.Key, k.SPS, k.PPS, k.TS)
	}
	if !bytes.Equal(k.Data, avcOf(sps, pps, idr)) {
		t.Errorf("keyframe is not the AVC form of SPS, PPS, IDR (%d bytes)", len(k.Data))
	}
	if r.frames[1].Key || !bytes.Equal(r.frames[1].Data, avcOf(p1)) || !bytes.Equal(r.frames[2].Data, avcOf(p2)) {
		t.Errorf("P frames not rebuilt")
	}
}

func TestH264LossDropsTheFrame(t *testing.T) {
	idr, p1 := nal(nalIDR, 5000), nal(nalSlice, 3000)
	var seq uint16
	pl := &codecs.H264Payloader{}
	var pkts []*rtp.Packet
	pkts = append(pkts, packets(pl, 1200, 0, &seq, annexB(idr))...)
	frag := packets(pl, 1200, 3000, &seq, annexB(p1))
	pkts = append(pkts, frag[0], frag[2]) // frag[1] lost: the jitter buffer says so on frag[2]
	pkts = append(pkts, packets(pl, 1200, 6000, &seq, annexB(nal(nalSlice, 200)))...)
	r := feed(For(media.H264, Options{}), pkts, map[int]bool{len(pkts) - 2: true})
	if len(r.frames) != 2 || r.losses == 0 {
		t.Fatalf("%d frames, %d losses; want the broken frame dropped and a loss reported", len(r.frames), r.losses)
	}
	if !r.frames[0].Key || r.frames[1].TS != 6000 {
		t.Errorf("kept frames: %+v", r.frames)
	}
}

func TestH264LostMarkerPacket(t *testing.T) {
	var seq uint16
	pl := &codecs.H264Payloader{}
	a := packets(pl, 1200, 0, &seq, annexB(nal(nalSlice, 3000)))
	b := packets(pl, 1200, 3000, &seq, annexB(nal(nalSlice, 100)))
	pkts := append(a[:len(a)-1], b...) // the first frame's last packet is lost
	r := feed(For(media.H264, Options{}), pkts, map[int]bool{len(a) - 1: true})
	if len(r.frames) != 1 || r.frames[0].TS != 3000 || r.losses == 0 {
		t.Fatalf("frames %d (want only the second), losses %d", len(r.frames), r.losses)
	}
}

func TestH264LostFrameStart(t *testing.T) {
	var seq uint16
	pl := &codecs.H264Payloader{}
	a := packets(pl, 1200, 0, &seq, annexB(nal(nalIDR, 3000)))
	// The first packet is lost: the rest cannot make a frame, however intact they look.
	r := feed(For(media.H264, Options{}), a[1:], map[int]bool{0: true})
	if len(r.frames) != 0 || r.losses == 0 {
		t.Fatalf("frames %d, losses %d: a frame without its first packet was kept", len(r.frames), r.losses)
	}
}

func TestVP8Frames(t *testing.T) {
	key := make([]byte, 3000)
	key[0] = 0x10 // keyframe (P bit clear), show_frame
	copy(key[3:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01})
	inter := make([]byte, 500)
	inter[0] = 0x01
	var seq uint16 = 65530
	pl := &codecs.VP8Payloader{EnablePictureID: true}
	var pkts []*rtp.Packet
	pkts = append(pkts, packets(pl, 1200, 0, &seq, key)...)
	pkts = append(pkts, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: 0}}) // padding
	seq++
	pkts = append(pkts, packets(pl, 1200, 3000, &seq, inter)...)
	r := feed(For(media.VP8, Options{}), pkts, nil)
	if r.losses != 0 || len(r.frames) != 2 {
		t.Fatalf("%d frames, %d losses", len(r.frames), r.losses)
	}
	if !r.frames[0].Key || !bytes.Equal(r.frames[0].Data, key) || r.frames[1].Key || !bytes.Equal(r.frames[1].Data, inter) {
		t.Errorf("frames not rebuilt")
	}
	if w, h, ok := media.VP8Size(r.frames[0].Data); !ok || w != 640 || h != 480 {
		t.Errorf("keyframe size %dx%d %v, want 640x480", w, h, ok)
	}
}

func TestAudioPackets(t *testing.T) {
	a := For(media.Opus, Options{})
	frames, lost := a.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 960}, Payload: []byte{0xfc, 1, 2}}, true)
	if len(frames) != 1 || !lost || frames[0].TS != 960 || !bytes.Equal(frames[0].Data, []byte{0xfc, 1, 2}) {
		t.Errorf("opus frames %+v lost %v", frames, lost)
	}
}

// A frame past MaxFrameBytes (a publisher that never sets the marker bit, or one huge frame)
// is dropped as a loss, what it held is let go at once, and the frames after it come through.
func TestOversizedFrameIsDropped(t *testing.T) {
	for _, tc := range []struct {
		codec media.Codec
		pl    rtp.Payloader
		frame func(size int) []byte
	}{
		{media.H264, &codecs.H264Payloader{}, func(size int) []byte { return annexB(nal(nalIDR, size)) }},
		{media.VP8, &codecs.VP8Payloader{}, func(size int) []byte {
			f := make([]byte, size) // P bit clear: a keyframe
			return f
		}},
	} {
		t.Run(fmt.Sprint(tc.codec), func(t *testing.T) {
			var seq uint16
			var pkts []*rtp.Packet
			pkts = append(pkts, packets(tc.pl, 1200, 3000, &seq, tc.frame(MaxFrameBytes+100_000))...)
			pkts = append(pkts, packets(tc.pl, 1200, 6000, &seq, tc.frame(50_000))...)
			var told []int
			a := For(tc.codec, Options{Oversize: func(size int) { told = append(told, size) }})
			va := a.(*video)
			var r result
			biggest := 0
			for _, p := range pkts {
				r.add(a.Push(p, false))
				biggest = max(biggest, va.unit.size())
			}
			if len(told) != 1 || told[0] <= MaxFrameBytes {
				t.Errorf("oversize told %v, want once with more than %d", told, MaxFrameBytes)
			}
			if biggest > MaxFrameBytes {
				t.Errorf("the assembler held %d bytes, over the %d cap", biggest, MaxFrameBytes)
			}
			if r.losses != 1 || len(r.frames) != 1 || r.frames[0].TS != 6000 || !r.frames[0].Key {
				t.Fatalf("%d losses, frames %v; want the big frame lost and the next one whole", r.losses, r.frames)
			}
		})
	}
	// A frame that never ends (no marker) stays under the cap too.
	a := For(media.H264, Options{})
	va := a.(*video)
	payload := append([]byte{0x7c, 0x05}, make([]byte, 1400)...) // FU-A middle fragments
	a.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 1}, Payload: append([]byte{0x7c, 0x85}, make([]byte, 1400)...)}, false)
	for i := range 20000 {
		a.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i + 1), Timestamp: 1}, Payload: payload}, false)
		if va.unit.size() > MaxFrameBytes {
			t.Fatalf("packet %d: %d bytes held", i, va.unit.size())
		}
	}
}

// A sender that never sets the marker (some cameras): with no packet missing, the first packet
// of the next timestamp ends the frame; with one missing, the frame is lost.
func TestH264FramesWithoutMarker(t *testing.T) {
	var seq uint16
	pl := &codecs.H264Payloader{}
	var pkts []*rtp.Packet
	for i, n := range []int{3000, 200, 200} {
		typ := byte(nalSlice)
		if i == 0 {
			typ = nalIDR
		}
		for _, p := range packets(pl, 1200, uint32(i)*3000, &seq, annexB(nal(typ, n))) {
			p.Marker = false
			pkts = append(pkts, p)
		}
	}
	r := feed(For(media.H264, Options{}), pkts, nil)
	if r.losses != 0 || len(r.frames) != 2 || !r.frames[0].Key || r.frames[1].TS != 3000 {
		t.Fatalf("%d frames, %d losses; want the first two frames whole", len(r.frames), r.losses)
	}
	r = feed(For(media.H264, Options{}), pkts, map[int]bool{len(pkts) - 1: true})
	if r.losses == 0 || len(r.frames) != 1 || !r.frames[0].Key {
		t.Fatalf("%d frames, %d losses; want the frame before the gap lost", len(r.frames), r.losses)
	}
}

// Cameras' quirks: Annex B inside a NAL unit packet, zero padding after a STAP-A; and the
// NAL unit cap RTSP keeps.
func TestH264CameraPayloads(t *testing.T) {
	sps, pps, idr := nal(nalSPS, 10), nal(nalPPS, 4), nal(nalIDR, 300)
	wrapped := &rtp.Packet{Header: rtp.Header{Marker: true}, Payload: annexB(sps, pps, idr)}
	fs, lost := For(media.H264, Options{}).Push(wrapped, false)
	if lost || len(fs) != 1 || !bytes.Equal(fs[0].Data, avcOf(sps, pps, idr)) || !fs[0].Key || !bytes.Equal(fs[0].SPS, sps) {
		t.Errorf("Annex B in one packet: %d frames, lost %v", len(fs), lost)
	}
	if !(&h264Unit{}).start(wrapped.Payload) {
		t.Errorf("Annex B in one packet: not seen to start a frame")
	}
	stap := []byte{nalSTAPA, 0, byte(len(sps))}
	stap = append(append(stap, sps...), 0, 0, 0, 0)
	fs, lost = For(media.H264, Options{}).Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: stap}, false)
	if lost || len(fs) != 1 || !bytes.Equal(fs[0].Data, avcOf(sps)) {
		t.Errorf("padded STAP-A: %d frames, lost %v", len(fs), lost)
	}
	var seq uint16
	many := packets(&codecs.H264Payloader{}, 1200, 0, &seq, annexB(nal(nalSlice, 10), nal(nalSlice, 10), nal(nalSlice, 10)))
	if r := feed(For(media.H264, Options{MaxNALUs: 2}), many, nil); len(r.frames) != 0 || r.losses != 1 {
		t.Errorf("3 NAL units, at most 2: %d frames, %d losses", len(r.frames), r.losses)
	}
	if r := feed(For(media.H264, Options{MaxNALUs: 3}), many, nil); len(r.frames) != 1 || r.losses != 0 {
		t.Errorf("3 NAL units, at most 3: %d frames, %d losses", len(r.frames), r.losses)
	}
}

func TestSplitAVC(t *testing.T) {
	a, b := nal(nalSPS, 5), nal(nalIDR, 9)
	got := SplitAVC(append(avcOf(a, b), 0, 0, 0, 99))
	if len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Errorf("SplitAVC: %x", got)
	}
}
