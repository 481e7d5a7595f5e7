package media

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Buffer is a pooled, reference-counted frame payload. An ingest that makes each frame's payload
// afresh takes it from here (NewBuffer), so that recording allocates nothing per frame in steady
// state: the buffer goes back to its pool when the last holder releases it. The holders of a
// frame are, typically, the ingest while it hands the frame over, the stream's GOP cache, a
// recorder's queue and a container's pending fragment; they share one payload, never copying it.
//
// The rules, for a Frame whose Buf is set:
//   - NewBuffer returns one reference, owned by the caller.
//   - A function that receives a Frame may read it for the duration of the call. Whoever keeps
//     the frame (or its Data) beyond that calls Retain first, and Release once done with it.
//   - The payload is never written once the frame is handed over.
//
// A missing Release only costs an allocation later (the garbage collector frees the buffer); a
// Release too many hands the payload to another frame while it is still in use, so when in
// doubt, do not release. A Frame without Buf (most ingests, transcoded audio) is not pooled:
// Retain and Release do nothing, and whoever keeps its Data must assume the producer reuses it.
type Buffer struct {
	b     []byte
	refs  atomic.Int32
	class int8 // pool index, -1: not pooled (too large)
}

// Size classes: four per power of two from 512 B to 16 MiB, so a buffer wastes at most a fifth
// of its size. Larger payloads are allocated and left to the garbage collector.
const (
	minShift   = 9
	maxShift   = 24
	numClasses = (maxShift-minShift)*4 + 1
)

var pools [numClasses]sync.Pool

// classOf returns the pool index and the buffer size for a payload of n bytes; -1 for none.
func classOf(n int) (int, int) {
	if n <= 1<<minShift {
		return 0, 1 << minShift
	}
	if n > 1<<maxShift {
		return -1, n
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	step := 1 << (k - 2)
	sub := (n - 1<<k + step - 1) / step // 1..4
	return (k-minShift)*4 + sub, 1<<k + sub*step
}

// NewBuffer returns a buffer of n bytes (their content is undefined) holding one reference.
func NewBuffer(n int) *Buffer {
	c, size := classOf(n)
	var b *Buffer
	if c >= 0 {
		if v := pools[c].Get(); v != nil {
			b = v.(*Buffer)
		}
	}
	if b == nil {
		b = &Buffer{b: make([]byte, size), class: int8(c)}
	}
	b.b = b.b[:n]
	b.refs.Store(1)
	return b
}

// Bytes returns the payload: the n bytes asked for.
func (b *Buffer) Bytes() []byte { return b.b }

// Refs returns the number of references held (for tests and debugging).
func (b *Buffer) Refs() int { return int(b.refs.Load()) }

func (b *Buffer) retain() { b.refs.Add(1) }

// Release drops a reference to b (nil: nothing); the last one gives b back to its pool.
func (b *Buffer) Release() {
	if b != nil && b.refs.Add(-1) == 0 && b.class >= 0 {
		pools[b.class].Put(b)
	}
}

// Retain takes a reference to f's pooled payload, for a holder that keeps f beyond the call
// that handed it over. It does nothing for a frame that is not pooled.
func (f Frame) Retain() {
	if f.Buf != nil {
		f.Buf.retain()
	}
}

// Release drops a reference taken by NewBuffer or Retain. It does nothing for a frame that is
// not pooled.
func (f Frame) Release() {
	f.Buf.Release()
}
