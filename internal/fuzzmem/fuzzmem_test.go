package fuzzmem

import "testing"

// sink keeps allocations from being optimized away.
var sink []byte

func TestCheckFailsPastLimit(t *testing.T) {
	ft := &fakeT{TB: t}
	Check(ft, func() { sink = make([]byte, Limit+1<<20) })
	if !ft.failed {
		t.Error("an input allocating 65 MB passed")
	}
	ft = &fakeT{TB: t}
	Check(ft, func() { sink = make([]byte, 1<<20) })
	if ft.failed {
		t.Error("an input allocating 1 MB failed")
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
