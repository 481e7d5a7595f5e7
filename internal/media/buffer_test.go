package media

import "testing"

func TestClassOf(t *testing.T) {
	prev := 0
	for n := 1; n <= 1<<maxShift; n += 1 + n/97 {
		c, size := classOf(n)
		if c < 0 || c >= numClasses || size < n || (n > 1<<minShift && size > n+n/4) || c < prev {
			t.Fatalf("classOf(%d) = %d, %d", n, c, size)
		}
		prev = c
		if _, s2 := classOf(size); s2 != size {
			t.Fatalf("class size %d is not a class size (%d)", size, s2)
		}
	}
	if c, size := classOf(1<<maxShift + 1); c != -1 || size != 1<<maxShift+1 {
		t.Errorf("a huge buffer is pooled: %d %d", c, size)
	}
}

func TestBufferReuse(t *testing.T) {
	b := NewBuffer(1000)
	if len(b.Bytes()) != 1000 {
		t.Fatalf("len %d", len(b.Bytes()))
	}
	f := Frame{Data: b.Bytes(), Buf: b}
	f.Retain() // a second holder
	f.Release()
	if b.refs.Load() != 1 {
		t.Fatalf("refs %d after retain+release", b.refs.Load())
	}
	f.Release()
	// Not pooled frames: no-ops.
	Frame{Data: []byte{1}}.Retain()
	Frame{Data: []byte{1}}.Release()
}

// TestBufferSteadyStateAllocs: taking and returning buffers allocates nothing once the pools hold them.
func TestBufferSteadyStateAllocs(t *testing.T) {
	sizes := []int{372, 7600, 40000, 9000}
	for _, n := range sizes {
		NewBuffer(n).Release()
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		b := NewBuffer(sizes[i%len(sizes)])
		i++
		b.retain()
		b.Release()
		b.Release()
	}); a > 0.01 {
		t.Errorf("%v allocations per buffer", a)
	}
}
