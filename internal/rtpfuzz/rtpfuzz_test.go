package rtpfuzz

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func TestEncodeDecode(t *testing.T) {
	in := []*rtp.Packet{
		{Header: rtp.Header{Timestamp: 0}, Payload: []byte{1, 2, 3}},
		{Header: rtp.Header{Timestamp: 0, Marker: true}, Payload: []byte{4}},
		{Header: rtp.Header{Timestamp: 3000, Marker: true}, Payload: nil},
	}
	out := Packets(Encode(in))
	if len(out) != 3 {
		t.Fatalf("%d packets, want 3", len(out))
	}
	for i, p := range out {
		if p.Marker != in[i].Marker || !bytes.Equal(p.Payload, in[i].Payload) || p.LostBefore {
			t.Errorf("packet %d: %+v, want %+v", i, p, in[i])
		}
		if i > 0 && (p.SequenceNumber != out[i-1].SequenceNumber+1 || p.Timestamp-out[i-1].Timestamp != in[i].Timestamp-in[i-1].Timestamp) {
			t.Errorf("packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, out[i-1].SequenceNumber, out[i-1].Timestamp)
		}
	}
}
