package history

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestKeptAcrossOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.json")
	l := Open[int](path, 3, nil)
	for i := range 5 {
		l.Add(i)
	}
	if got := l.Recent(); !slices.Equal(got, []int{4, 3, 2}) {
		t.Errorf("recent %v", got)
	}
	l.Flush()
	l2 := Open[int](path, 2, nil)
	if got := l2.Recent(); !slices.Equal(got, []int{4, 3}) {
		t.Errorf("after reopening with a smaller bound: %v", got)
	}
	if m := Open[int]("", 3, nil); len(m.Recent()) != 0 {
		t.Error("memory-only list not empty")
	}
}
