package webrtc

import (
	"time"

	"github.com/pion/rtp"
)

// jitter is a reorder buffer for one RTP stream: packets come out in sequence-number order.
// A missing packet is waited for (reordering, or a retransmission answering our NACK) until a
// later packet has waited maxWait or the buffer holds maxPackets; then it is given up and the
// packet after the gap comes out marked as following a loss. Duplicates and packets older than
// what already came out (late retransmissions, RTX redundancy) are dropped.
//
// With adapt on, maxWait follows the stream: it is sized from how long the gaps it saw took to
// fill (a retransmission's delay is the round trip plus the NACK rounds it needed), so a path
// with a longer round trip or more loss waits longer, a clean short one less.
type jitter struct {
	maxWait    time.Duration
	maxPackets int

	adaptive          bool
	minWait, ceilWait time.Duration // bounds of an adaptive maxWait
	recovery          time.Duration // smoothed delay from a gap being seen to its packet arriving

	// Packets that filled a gap in time (counted when adaptive), packets given up.
	recoveredN, gaveUp int64

	started bool
	highest int64 // extended sequence number of the newest packet
	next    int64 // extended sequence number of the next packet to come out
	lost    bool  // packets were given up since the last one out
	stale   int   // packets in a row older than what came out: many mean the sender restarted
	ring    []slot
	count   int
}

type slot struct {
	p  *rtp.Packet
	at time.Time // arrival; for an empty slot (p nil) marked missing, when it was seen missing
	n  int64     // extended sequence number, to tell a stale slot from a current one
}

// jitterRing is the ring size: the most packets a gap can hold back (maxPackets stays below it).
const jitterRing = 2048

func newJitter(maxWait time.Duration, maxPackets int) *jitter {
	if maxPackets >= jitterRing {
		maxPackets = jitterRing - 1
	}
	return &jitter{maxWait: maxWait, maxPackets: maxPackets, ring: make([]slot, jitterRing)}
}

// Adaptive waits: the wait is recoveryRounds times the smoothed recovery delay plus
// recoveryMargin (at 5 % loss each way, a NACK or its retransmission is lost one time in ten:
// a packet needs a second round that often, a third one time in a hundred), within the bounds
// of adapt; the wait given to newJitter holds until a first gap is filled.
const (
	recoveryRounds = 4
	recoveryMargin = 100 * time.Millisecond
	// markGap bounds the gap whose packets are marked missing (longer ones are a sender's jump).
	markGap = 256
)

// adapt sizes maxWait from the delays of the retransmissions seen, within [lo, hi].
func (j *jitter) adapt(lo, hi time.Duration) {
	j.adaptive, j.minWait, j.ceilWait = true, lo, hi
}

// recovered takes the delay of a packet that filled a gap (or came too late for it).
func (j *jitter) recovered(d time.Duration) {
	if !j.adaptive {
		return
	}
	if j.recovery == 0 {
		j.recovery = d
	} else {
		j.recovery += (d - j.recovery) / 8
	}
	j.maxWait = min(max(recoveryRounds*j.recovery+recoveryMargin, j.minWait), j.ceilWait)
}

// filled returns how long ago packet n was seen missing, if it was marked.
func (j *jitter) filled(n int64, now time.Time) (time.Duration, bool) {
	s := &j.ring[n%jitterRing]
	if s.p != nil || s.n != n || s.at.IsZero() {
		return 0, false
	}
	return now.Sub(s.at), true
}

// extend turns a 16-bit sequence number into a 64-bit one, near the newest seen.
func (j *jitter) extend(seq uint16) int64 {
	return j.highest + int64(int16(seq-uint16(j.highest)))
}

// push adds a packet that arrived at now.
func (j *jitter) push(p *rtp.Packet, now time.Time) {
	if !j.started {
		j.started = true
		j.highest = int64(p.SequenceNumber) + 1<<16 // room below for reordered early packets
		j.next = j.highest
	}
	n := j.extend(p.SequenceNumber)
	if d, ok := j.filled(n, now); ok {
		j.recovered(d) // late ones too: they say the wait was too short
		if n < j.next {
			j.ring[n%jitterRing] = slot{}
		} else {
			j.recoveredN++
		}
	}
	if n < j.next {
		// Already out or given up; a long run of these is a sender that restarted its sequence.
		if j.stale++; j.stale > staleRestart {
			j.restart(p, now)
		}
		return
	}
	j.stale = 0
	if n-j.next >= jitterRing {
		// A jump beyond the ring (the sender restarted its sequence): give up what is held.
		j.skipTo(n)
	}
	s := &j.ring[n%jitterRing]
	if s.p != nil && s.n == n {
		return // duplicate
	}
	*s = slot{p: p, at: now, n: n}
	j.count++
	if n > j.highest {
		if j.adaptive && n-j.highest <= markGap {
			for m := j.highest + 1; m < n; m++ {
				j.ring[m%jitterRing] = slot{at: now, n: m} // seen missing now
			}
		}
		j.highest = n
	}
}

// staleRestart is how many old packets in a row make the buffer start over.
const staleRestart = 64

// restart forgets everything and starts over at p.
func (j *jitter) restart(p *rtp.Packet, now time.Time) {
	clear(j.ring)
	j.count, j.stale, j.started = 0, 0, false
	j.push(p, now)
	j.lost = true
}

// skipTo gives up every packet before n.
func (j *jitter) skipTo(n int64) {
	for ; j.next < n && j.count > 0; j.next++ {
		s := &j.ring[j.next%jitterRing]
		if s.p != nil && s.n == j.next {
			*s = slot{}
			j.count--
		}
	}
	if j.next < n {
		j.next = n
	}
	j.lost = true
}

// pop returns the next packet in order, or nil when the next one is still awaited. lost says
// packets right before it were given up.
func (j *jitter) pop(now time.Time) (p *rtp.Packet, lost bool) {
	if j.count == 0 {
		return nil, false
	}
	s := &j.ring[j.next%jitterRing]
	if s.p == nil || s.n != j.next {
		// A gap: find the oldest packet after it and decide whether to keep waiting.
		first, oldest := int64(-1), now
		for n := j.next + 1; n <= j.highest; n++ {
			c := &j.ring[n%jitterRing]
			if c.p != nil && c.n == n {
				if first < 0 {
					first = n
				}
				if c.at.Before(oldest) {
					oldest = c.at
				}
			}
		}
		if first < 0 {
			return nil, false
		}
		if now.Sub(oldest) < j.maxWait && j.count <= j.maxPackets {
			return nil, false
		}
		j.gaveUp += first - j.next
		j.skipTo(first)
		s = &j.ring[j.next%jitterRing]
	}
	p = s.p
	*s = slot{}
	j.count--
	j.next++
	lost, j.lost = j.lost, false
	return p, lost
}

// waiting tells whether packets are held back behind a gap.
func (j *jitter) waiting() bool { return j.count > 0 }
