package rtp

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func pkt(seq uint16) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}, Payload: []byte{byte(seq)}}
}

// out pops everything available at now and returns the sequence numbers, marking losses with -1.
func out(j *Jitter, now time.Time) []int {
	var got []int
	for {
		p, lost := j.Pop(now)
		if p == nil {
			return got
		}
		if lost {
			got = append(got, -1)
		}
		got = append(got, int(p.SequenceNumber))
	}
}

func TestJitterReorders(t *testing.T) {
	j := NewJitter(100*time.Millisecond, 100)
	t0 := time.Unix(0, 0)
	var got []int
	for _, s := range []uint16{10, 12, 11, 13, 15, 14} {
		j.Push(pkt(s), t0)
		got = append(got, out(j, t0)...)
	}
	if want := []int{10, 11, 12, 13, 14, 15}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestJitterWrapsAround(t *testing.T) {
	j := NewJitter(100*time.Millisecond, 100)
	t0 := time.Unix(0, 0)
	var got []int
	for _, s := range []uint16{65534, 0, 65535, 1} {
		j.Push(pkt(s), t0)
		got = append(got, out(j, t0)...)
	}
	if want := []int{65534, 65535, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestJitterWaitsThenGivesUp(t *testing.T) {
	j := NewJitter(100*time.Millisecond, 100)
	t0 := time.Unix(0, 0)
	j.Push(pkt(1), t0)
	j.Push(pkt(3), t0.Add(10*time.Millisecond))
	if got := out(j, t0.Add(50*time.Millisecond)); !slices.Equal(got, []int{1}) {
		t.Fatalf("before the wait: %v, want [1]", got)
	}
	// A retransmission in time fills the gap: no loss.
	j.Push(pkt(2), t0.Add(60*time.Millisecond))
	if got := out(j, t0.Add(60*time.Millisecond)); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("after the retransmission: %v, want [2 3]", got)
	}
	// A gap never filled is given up once the packet after it waited long enough.
	j.Push(pkt(5), t0.Add(100*time.Millisecond))
	if got := out(j, t0.Add(150*time.Millisecond)); len(got) != 0 {
		t.Fatalf("gave up too early: %v", got)
	}
	if got := out(j, t0.Add(201*time.Millisecond)); !slices.Equal(got, []int{-1, 5}) {
		t.Fatalf("after the wait: %v, want [-1 5] (a loss, then 5)", got)
	}
	// The lost packet arriving late is dropped, as are duplicates.
	j.Push(pkt(4), t0.Add(210*time.Millisecond))
	j.Push(pkt(5), t0.Add(210*time.Millisecond))
	j.Push(pkt(6), t0.Add(210*time.Millisecond))
	j.Push(pkt(6), t0.Add(210*time.Millisecond))
	if got := out(j, t0.Add(210*time.Millisecond)); !slices.Equal(got, []int{6}) {
		t.Fatalf("late and duplicate packets: %v, want [6]", got)
	}
}

func TestJitterGivesUpWhenFull(t *testing.T) {
	j := NewJitter(time.Hour, 10)
	t0 := time.Unix(0, 0)
	j.Push(pkt(0), t0)
	out(j, t0)
	for s := uint16(2); s < 14; s++ {
		j.Push(pkt(s), t0)
	}
	got := out(j, t0)
	if len(got) != 13 || got[0] != -1 || got[1] != 2 || got[12] != 13 {
		t.Errorf("got %v, want a loss then 2..13", got)
	}
}

func TestJitterRestartsOnNewSequence(t *testing.T) {
	j := NewJitter(100*time.Millisecond, 100)
	t0 := time.Unix(0, 0)
	for s := uint16(40000); s < 40010; s++ {
		j.Push(pkt(s), t0)
	}
	out(j, t0)
	// The sender starts over far behind: after a run of such packets the buffer follows.
	var got []int
	for s := uint16(10000); s < 10000+staleRestart+5; s++ {
		j.Push(pkt(s), t0)
		got = append(got, out(j, t0)...)
	}
	if len(got) < 4 || got[len(got)-1] != 10000+staleRestart+4 {
		t.Errorf("after a sequence restart: %v", got)
	}
}

// An adaptive buffer sizes its wait from how long the gaps took to fill: retransmissions that
// come 200 ms after the gap make it wait 4×200+100 ms, within its bounds.
func TestJitterAdaptsWaitToRecoveryDelay(t *testing.T) {
	j := NewJitter(700*time.Millisecond, 100)
	j.Adapt(300*time.Millisecond, 2*time.Second)
	t0 := time.Unix(0, 0)
	seq := uint16(100)
	for i := 0; i < 40; i++ { // each round: a packet lost, sent again 200 ms later
		now := t0.Add(time.Duration(i) * time.Second)
		j.Push(pkt(seq), now)
		j.Push(pkt(seq+2), now)
		j.Push(pkt(seq+1), now.Add(200*time.Millisecond))
		out(j, now.Add(200*time.Millisecond))
		seq += 3
	}
	if want := 900 * time.Millisecond; j.maxWait < want-20*time.Millisecond || j.maxWait > want+20*time.Millisecond {
		t.Fatalf("wait %v after retransmissions 200 ms late, want about %v", j.maxWait, want)
	}
	// A gap is now held 900 ms, not the 700 ms it started with.
	now := t0.Add(time.Hour)
	j.Push(pkt(seq), now)
	j.Push(pkt(seq+2), now)
	if got := out(j, now.Add(800*time.Millisecond)); len(got) != 1 {
		t.Errorf("gap given up after 800 ms: %v", got)
	}
	if got := out(j, now.Add(950*time.Millisecond)); !slices.Equal(got, []int{-1, int(seq + 2)}) {
		t.Errorf("after 950 ms got %v, want the packet after the gap", got)
	}
	// Slow retransmissions raise it to the bound, and no further.
	for i := 0; i < 40; i++ {
		now := t0.Add(2*time.Hour + time.Duration(i)*time.Minute)
		seq += 3
		j.Push(pkt(seq), now)
		j.Push(pkt(seq+2), now)
		out(j, now.Add(5*time.Second))
		j.Push(pkt(seq+1), now.Add(5*time.Second)) // too late: still counted
	}
	if j.maxWait != 2*time.Second {
		t.Errorf("wait %v after retransmissions 5 s late, want the 2 s bound", j.maxWait)
	}
	if j.recoveredN != 40 || j.gaveUp != 41 {
		t.Errorf("%d packets recovered, %d given up; want 40 and 41", j.recoveredN, j.gaveUp)
	}
}

func TestSequenceLosses(t *testing.T) {
	var s Sequence
	var got []bool
	for _, seq := range []uint16{65534, 65535, 0, 2, 3, 3} {
		got = append(got, s.Lost(seq))
	}
	if want := []bool{true, false, false, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("losses %v, want %v", got, want)
	}
}
