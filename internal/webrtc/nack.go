package webrtc

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"

	"github.com/streamrec/streamrec/internal/rtp"
)

// nackLog is the number of packets pion's NACK generator keeps track of: as many as the
// reorder buffer can hold back, so a gap is asked for again as long as the buffer waits for it,
// whatever the bitrate (pion's default, 512, is under 0.7 s at 8 Mbit/s).
const nackLog = rtp.JitterRing

// nackFilters hands each peer connection a nackFilter (an interceptor, placed under pion's
// NACK generator) and lets the publisher find its own by the connection's ID.
type nackFilters struct {
	mu   sync.Mutex
	byPC map[string]*nackFilter
}

func newNackFilters() *nackFilters { return &nackFilters{byPC: map[string]*nackFilter{}} }

// NewInterceptor is called by pion for each new peer connection.
func (f *nackFilters) NewInterceptor(id string) (interceptor.Interceptor, error) {
	n := &nackFilter{parent: f, id: id, from: map[uint32]uint16{}}
	f.mu.Lock()
	f.byPC[id] = n
	f.mu.Unlock()
	return n, nil
}

// of returns the filter of peer connection id.
func (f *nackFilters) of(id string) *nackFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byPC[id]
}

// nackFilter keeps NACKs to the packets the reorder buffer still waits for. pion's generator
// asks for a missing packet every 100 ms until it leaves its log; once the buffer has given
// the gap up (and asked for a keyframe), a retransmission would only cost the sender bandwidth.
type nackFilter struct {
	interceptor.NoOp
	parent *nackFilters
	id     string

	mu   sync.Mutex
	from map[uint32]uint16 // per media SSRC: the oldest sequence number still awaited
}

// awaiting says that the reorder buffer of ssrc waits for seq and what follows, nothing older.
func (n *nackFilter) awaiting(ssrc uint32, seq uint16) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.from[ssrc] = seq
	n.mu.Unlock()
}

// BindRTCPWriter drops from outgoing NACKs the packets no longer awaited.
func (n *nackFilter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		out := make([]rtcp.Packet, 0, len(pkts))
		for _, p := range pkts {
			if k, ok := p.(*rtcp.TransportLayerNack); ok {
				if p = n.keep(k); p == nil {
					continue
				}
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return 0, nil
		}
		return w.Write(out, a)
	})
}

// keep returns k without the packets older than what is awaited, or nil if none is left.
func (n *nackFilter) keep(k *rtcp.TransportLayerNack) rtcp.Packet {
	n.mu.Lock()
	from, ok := n.from[k.MediaSSRC]
	n.mu.Unlock()
	if !ok {
		return k
	}
	var seqs []uint16
	all := 0
	for _, pair := range k.Nacks {
		for _, s := range pair.PacketList() {
			all++
			if int16(s-from) >= 0 {
				seqs = append(seqs, s)
			}
		}
	}
	switch len(seqs) {
	case 0:
		return nil
	case all:
		return k
	}
	return &rtcp.TransportLayerNack{SenderSSRC: k.SenderSSRC, MediaSSRC: k.MediaSSRC, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
}

// Close forgets the filter when its peer connection closes.
func (n *nackFilter) Close() error {
	n.parent.mu.Lock()
	delete(n.parent.byPC, n.id)
	n.parent.mu.Unlock()
	return nil
}
