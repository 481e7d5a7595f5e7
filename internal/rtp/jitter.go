package rtp

import (
	"time"

	"github.com/pion/rtp"
)

// Jitter is a reorder buffer for one RTP stream: packets come out in sequence-number order.
// A missing packet is waited for (reordering, or a retransmission answering our NACK) until a
// later packet has waited maxWait or the buffer holds maxPackets; then it is given up and the
// packet after the gap comes out marked as following a loss. Duplicates and packets older than
// what already came out (late retransmissions, RTX redundancy) are dropped.
//
// With adapt on, maxWait follows the stream: it is sized from how long the gaps it saw took to
// fill (a retransmission's delay is the round trip plus the NACK rounds it needed), so a path
// with a longer round trip or more loss waits longer, a clean short one less.
type Jitter struct {
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

// JitterRing is the ring size: the most packets a gap can hold back (maxPackets stays below it).
// WebRTC sizes its SRTP replay window and NACK log by it.
const JitterRing = 2048

// NewJitter returns a buffer that waits up to maxWait for a missing packet while it holds at
// most maxPackets (kept below JitterRing).
func NewJitter(maxWait time.Duration, maxPackets int) *Jitter {
	if maxPackets >= JitterRing {
		maxPackets = JitterRing - 1
	}
	return &Jitter{maxWait: maxWait, maxPackets: maxPackets, ring: make([]slot, JitterRing)}
}

// Adaptive waits: the wait is recoveryRounds times the smoothed recovery delay plus
// recoveryMargin (at 5 % loss each way, a NACK or its retransmission is lost one time in ten:
// a packet needs a second round that often, a third one time in a hundred), within the bounds
// of adapt; the wait given to NewJitter holds until a first gap is filled.
const (
	recoveryRounds = 4
	recoveryMargin = 100 * time.Millisecond
	// markGap bounds the gap whose packets are marked missing (longer ones are a sender's jump).
	markGap = 256
)

// Adapt sizes maxWait from the delays of the retransmissions seen, within [lo, hi].
func (j *Jitter) Adapt(lo, hi time.Duration) {
	j.adaptive, j.minWait, j.ceilWait = true, lo, hi
}

// recovered takes the delay of a packet that filled a gap (or came too late for it).
func (j *Jitter) recovered(d time.Duration) {
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
func (j *Jitter) filled(n int64, now time.Time) (time.Duration, bool) {
	s := &j.ring[n%JitterRing]
	if s.p != nil || s.n != n || s.at.IsZero() {
		return 0, false
	}
	return now.Sub(s.at), true
}

// extend turns a 16-bit sequence number into a 64-bit one, near the newest seen.
func (j *Jitter) extend(seq uint16) int64 {
	return j.highest + int64(int16(seq-uint16(j.highest)))
}

// Push adds a packet that arrived at now.
func (j *Jitter) Push(p *rtp.Packet, now time.Time) {
	if !j.started {
		j.started = true
		j.highest = int64(p.SequenceNumber) + 1<<16 // room below for reordered early packets
		j.next = j.highest
	}
	n := j.extend(p.SequenceNumber)
	if d, ok := j.filled(n, now); ok {
		j.recovered(d) // late ones too: they say the wait was too short
		if n < j.next {
			j.ring[n%JitterRing] = slot{}
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
	if n-j.next >= JitterRing {
		// A jump beyond the ring (the sender restarted its sequence): give up what is held.
		j.skipTo(n)
	}
	s := &j.ring[n%JitterRing]
	if s.p != nil && s.n == n {
		return // duplicate
	}
	*s = slot{p: p, at: now, n: n}
	j.count++
	if n > j.highest {
		if j.adaptive && n-j.highest <= markGap {
			for m := j.highest + 1; m < n; m++ {
				j.ring[m%JitterRing] = slot{at: now, n: m} // seen missing now
			}
		}
		j.highest = n
	}
}

// staleRestart is how many old packets in a row make the buffer start over.
const staleRestart = 64

// restart forgets everything and starts over at p.
func (j *Jitter) restart(p *rtp.Packet, now time.Time) {
	clear(j.ring)
	j.count, j.stale, j.started = 0, 0, false
	j.Push(p, now)
	j.lost = true
}

// skipTo gives up every packet before n.
func (j *Jitter) skipTo(n int64) {
	for ; j.next < n && j.count > 0; j.next++ {
		s := &j.ring[j.next%JitterRing]
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

// Pop returns the next packet in order, or nil when the next one is still awaited. lost says
// packets right before it were given up.
func (j *Jitter) Pop(now time.Time) (p *rtp.Packet, lost bool) {
	if j.count == 0 {
		return nil, false
	}
	s := &j.ring[j.next%JitterRing]
	if s.p == nil || s.n != j.next {
		// A gap: find the oldest packet after it and decide whether to keep waiting.
		first, oldest := int64(-1), now
		for n := j.next + 1; n <= j.highest; n++ {
			c := &j.ring[n%JitterRing]
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
		s = &j.ring[j.next%JitterRing]
	}
	p = s.p
	*s = slot{}
	j.count--
	j.next++
	lost, j.lost = j.lost, false
	return p, lost
}

// Waiting tells whether packets are held back behind a gap.
func (j *Jitter) Waiting() bool { return j.count > 0 }

// Wait is how long a gap is waited for now (it follows the stream once Adapt was called).
func (j *Jitter) Wait() time.Duration { return j.maxWait }

// Stats counts the packets that filled a gap in time (when adaptive) and those given up.
func (j *Jitter) Stats() (recovered, gaveUp int64) { return j.recoveredN, j.gaveUp }

// Awaited is the sequence number of the next packet to come out: everything older is out or
// given up. ok is false before the first packet.
func (j *Jitter) Awaited() (seq uint16, ok bool) { return uint16(j.next), j.started }
