package rtp

// Sequence tells losses in packets that arrive in sequence order already, with a gap where
// packets went missing: RTSP over TCP never loses any, and gortsplib reorders RTSP over UDP
// (dropping duplicates and late packets) before handing packets on.
type Sequence struct {
	next    uint16
	started bool
}

// Lost takes the next packet's sequence number and tells whether packets are missing right
// before it. The first packet counts as following a loss: what came before it is unknown.
func (s *Sequence) Lost(seq uint16) bool {
	lost := !s.started || seq != s.next
	s.started, s.next = true, seq+1
	return lost
}
