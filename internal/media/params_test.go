package media

import (
	"encoding/binary"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// sps360 is x264's SPS of a 640x360 stream: another size than highSPS.
var sps360 = []byte{0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
	0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96}

// avcAU joins NAL units in the media model's layout: each after a 4-byte length.
func avcAU(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

func TestInBandParams(t *testing.T) {
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	track := Track{Kind: Video, Codec: H264, SPS: [][]byte{highSPS}, PPS: [][]byte{pps}, Width: 320, Height: 240}

	if p := InBandParams(track, avcAU(idr)); p != nil {
		t.Errorf("keyframe without parameter sets: %v", p)
	}
	if p := InBandParams(track, avcAU(highSPS, pps, idr)); p != nil {
		t.Errorf("the same parameter sets: %v", p)
	}
	if p := InBandParams(track, avcAU(append(append([]byte(nil), highSPS...), 0, 0), pps, idr)); p != nil {
		t.Errorf("the same SPS with trailing zero bytes: %v", p)
	}
	p := InBandParams(track, avcAU(sps360, pps, idr))
	if p == nil {
		t.Fatal("a new SPS was not seen")
	}
	if p.Width != 640 || p.Height != 360 || string(p.SPS[0]) != string(sps360) || string(p.PPS[0]) != string(pps) {
		t.Errorf("new track = %+v", p)
	}
	if !SameVideo(*p, *p) || SameVideo(*p, track) {
		t.Error("SameVideo")
	}
	if p := InBandParams(track, avcAU(pps[:3], idr)); p == nil || string(p.SPS[0]) != string(highSPS) || len(p.PPS[0]) != 3 {
		t.Errorf("a new PPS alone: %v", p)
	}
	if p := InBandParams(track, avcAU([]byte{0x67, 0xff}, pps, idr)); p != nil {
		t.Errorf("an SPS that does not parse was taken: %v", p)
	}
	cut := avcAU(sps360)
	if p := InBandParams(track, cut[:len(cut)-2]); p != nil {
		t.Errorf("a cut SPS was taken: %v", p)
	}
}

func FuzzInBandParams(f *testing.F) {
	f.Add(avcAU(sps360, []byte{0x68, 0xeb}, []byte{0x65, 0x88}))
	f.Add(avcAU(highSPS))
	track := Track{Kind: Video, Codec: H264, SPS: [][]byte{highSPS}, PPS: [][]byte{{0x68}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzmem.Check(t, func() { InBandParams(track, b) })
	})
}

func TestKeyParamsVP8(t *testing.T) {
	key := func(w, h uint16) []byte {
		return []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8), 0}
	}
	track := Track{Kind: Video, Codec: VP8, Width: 640, Height: 360}
	if p := KeyParams(track, key(640, 360)); p != nil {
		t.Errorf("same size: %v", p)
	}
	if p := KeyParams(track, key(1280, 720)); p == nil || p.Width != 1280 || p.Height != 720 {
		t.Errorf("new size: %v", p)
	}
	if p := KeyParams(track, []byte{0x11, 0, 0}); p != nil {
		t.Errorf("not a keyframe: %v", p)
	}
}
