package rtp

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pion/rtp"
)

func TestSplitLATM(t *testing.T) {
	long := make([]byte, 300)
	for _, tc := range []struct {
		in      []byte
		want    []int // frame sizes
		wantErr bool
	}{
		{[]byte{3, 1, 2, 3}, []int{3}, false},
		{[]byte{2, 9, 9, 1, 7}, []int{2, 1}, false},
		{append([]byte{255, 45}, long...), []int{300}, false},
		{[]byte{4, 1, 2}, nil, true},      // shorter than said
		{[]byte{1, 5, 0}, []int{1}, true}, // a zero length
		{[]byte{255, 255}, nil, true},     // lengths only
	} {
		aus, err := splitLATM(tc.in)
		var got []int
		for _, au := range aus {
			got = append(got, len(au))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || (err != nil) != tc.wantErr {
			t.Errorf("splitLATM(% x): %v, %v; want %v, error %v", tc.in[:min(len(tc.in), 6)], got, err, tc.want, tc.wantErr)
		}
	}
}

// aacPacket makes an MPEG4-GENERIC payload in the AAC-hbr mode (13-bit AU-size, 3-bit index).
func aacPacket(sizes []int, data []byte) []byte {
	b := []byte{byte(16 * len(sizes) >> 8), byte(16 * len(sizes))}
	for _, n := range sizes {
		b = append(b, byte(n>>5), byte(n<<3))
	}
	return append(b, data...)
}

var hbr = AUHeaders{SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}

func TestAACAccessUnits(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{2}, 200)
	d := NewAAC(hbr)
	fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 5000, Marker: true}, Payload: aacPacket([]int{300, 200}, append(a, b...))}, false)
	if lost || len(fs) != 2 || !bytes.Equal(fs[0].Data, a) || !bytes.Equal(fs[1].Data, b) || fs[1].TS != 5000+1024 {
		t.Fatalf("two AUs in a packet: %d frames, lost %v", len(fs), lost)
	}
	// One AU over three packets, its AU-size the whole AU's (RFC 3640 3.2.3).
	big := bytes.Repeat([]byte{3}, 3000)
	var got []Frame
	for i, part := range [][]byte{big[:1000], big[1000:2000], big[2000:]} {
		fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 7000, Marker: i == 2}, Payload: aacPacket([]int{3000}, part)}, false)
		if lost {
			t.Fatalf("fragment %d: lost", i)
		}
		got = append(got, fs...)
	}
	if len(got) != 1 || !bytes.Equal(got[0].Data, big) {
		t.Fatalf("fragmented AU: %d frames", len(got))
	}
	// A fragment lost: the AU goes, the next one comes whole.
	d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 9000}, Payload: aacPacket([]int{3000}, big[:1000])}, false)
	if fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 9000, Marker: true}, Payload: aacPacket([]int{3000}, big[2000:])}, true); len(fs) != 0 || !lost {
		t.Errorf("the last fragment after a lost one: %d frames, lost %v", len(fs), lost)
	}
	if fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 11000, Marker: true}, Payload: aacPacket([]int{300}, a)}, false); len(fs) != 1 || lost {
		t.Errorf("the AU after: %d frames, lost %v", len(fs), lost)
	}
	for _, bad := range [][]byte{{0}, {0, 0}, {0, 16, 0x10}, aacPacket([]int{500}, a)} {
		if fs, lost := NewAAC(hbr).Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: bad}, false); len(fs) != 0 || !lost {
			t.Errorf("% x: %d frames, lost %v", bad, len(fs), lost)
		}
	}
}

// Some cameras send each AU in an ADTS frame: the first AU tells, and the header goes.
func TestAACInADTS(t *testing.T) {
	au := bytes.Repeat([]byte{7}, 100)
	n := 7 + len(au)
	adts := append([]byte{0xff, 0xf1, 0x50, 0x80, byte(n >> 3), byte(n<<5) | 0x1f, 0xfc}, au...)
	d := NewAAC(hbr)
	for i := range 2 {
		fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: aacPacket([]int{len(adts)}, adts)}, false)
		if lost || len(fs) != 1 || !bytes.Equal(fs[0].Data, au) {
			t.Fatalf("packet %d: %d frames, lost %v", i, len(fs), lost)
		}
	}
}

func TestLATMElements(t *testing.T) {
	d := NewLATM()
	fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Timestamp: 100, Marker: true}, Payload: []byte{2, 9, 9, 1, 7}}, false)
	if lost || len(fs) != 2 || fs[1].TS != 100+1024 || !bytes.Equal(fs[1].Data, []byte{7}) {
		t.Fatalf("two frames in an element: %+v lost %v", fs, lost)
	}
	// Fragmented up to the marker; a too big one is dropped to its end, the next one comes.
	el := append([]byte{255, 255, 2}, make([]byte, 512)...)
	d.Push(&rtp.Packet{Payload: el[:200]}, false)
	if fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: el[200:]}, false); lost || len(fs) != 1 || len(fs[0].Data) != 512 {
		t.Fatalf("fragmented element: %d frames, lost %v", len(fs), lost)
	}
	huge := make([]byte, 1400)
	for i := 0; i*len(huge) <= maxLATMElement; i++ {
		d.Push(&rtp.Packet{Payload: huge}, false)
	}
	if fs, lost := d.Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: huge}, false); len(fs) != 0 || !lost {
		t.Errorf("the end of an element over %d bytes: %d frames, lost %v", maxLATMElement, len(fs), lost)
	}
	if fs, _ := d.Push(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: []byte{3, 1, 2, 3}}, false); len(fs) != 1 {
		t.Errorf("after a dropped element: %d frames", len(fs))
	}
}
