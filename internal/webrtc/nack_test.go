package webrtc

import (
	"slices"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// NACKs ask only for what the reorder buffer still waits for; other RTCP passes as it is.
func TestNackFilterKeepsAwaitedPackets(t *testing.T) {
	f, err := newNackFilters().NewInterceptor("pc")
	if err != nil {
		t.Fatal(err)
	}
	n := f.(*nackFilter)
	var sent []rtcp.Packet
	w := n.BindRTCPWriter(interceptor.RTCPWriterFunc(func(p []rtcp.Packet, _ interceptor.Attributes) (int, error) {
		sent = append(sent, p...)
		return 0, nil
	}))
	nackOf := func(ssrc uint32, seqs ...uint16) *rtcp.TransportLayerNack {
		return &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	}
	asked := func(p rtcp.Packet) []uint16 {
		var out []uint16
		for _, pair := range p.(*rtcp.TransportLayerNack).Nacks {
			out = append(out, pair.PacketList()...)
		}
		return out
	}
	n.awaiting(7, 65534) // across the wrap
	w.Write([]rtcp.Packet{nackOf(7, 65530, 65533, 65534, 65535, 0, 3)}, nil)
	if len(sent) != 1 || !slices.Equal(asked(sent[0]), []uint16{65534, 65535, 0, 3}) {
		t.Fatalf("sent %v, want a NACK of 65534 65535 0 3", sent)
	}
	sent = nil
	w.Write([]rtcp.Packet{nackOf(7, 65500, 65533), &rtcp.PictureLossIndication{MediaSSRC: 7}, nackOf(8, 1)}, nil)
	if _, pli := sent[0].(*rtcp.PictureLossIndication); len(sent) != 2 || !pli || !slices.Equal(asked(sent[1]), []uint16{1}) {
		t.Fatalf("sent %v, want the PLI and the NACK of another stream", sent)
	}
	sent = nil
	w.Write([]rtcp.Packet{nackOf(7, 100)}, nil)
	if len(sent) != 1 {
		t.Fatalf("sent %v: 100 follows 65534 across the wrap and is awaited", sent)
	}
	n.Close()
	if n.parent.of("pc") != nil {
		t.Error("filter still known after its connection closed")
	}
}
