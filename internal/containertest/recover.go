package containertest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/fuzzmem"
	"github.com/streamrec/streamrec/internal/media"
)

// RecoverFunc is a container's Recover: it repairs the open file in place.
type RecoverFunc func(*os.File) (media.Recovered, error)

// Checkpoint is what a killed writer leaves at a point where everything written is whole: the
// bytes on disk (the first checkpoint is the end of the file's head) and the media they hold.
type Checkpoint struct {
	Good     int64
	Duration time.Duration
}

// RecoverBytes writes data to path, recovers it in place and returns the result and the file
// after.
func RecoverBytes(t testing.TB, path string, data []byte, recover RecoverFunc) (media.Recovered, []byte, error) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := recover(f)
	after, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return r, after, err
}

// RecoverCutEverywhere recovers crashed cut at each of cuts (through a file at path). A cut
// inside the head is an error; any other keeps exactly the media up to the last checkpoint at or
// before the cut, with its duration, and cuts the rest off. check then judges the repaired file
// the way its container's format wants.
func RecoverCutEverywhere(t *testing.T, path string, crashed []byte, cps []Checkpoint, cuts []int, recover RecoverFunc,
	check func(cut int, want Checkpoint, after []byte)) {
	t.Helper()
	head := int(cps[0].Good)
	for _, c := range cuts {
		r, after, err := RecoverBytes(t, path, crashed[:c], recover)
		if c < head {
			if err == nil {
				t.Errorf("cut at %d, inside the head: recovered %+v, want an error", c, r)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", c, err)
		}
		want := cps[0]
		for _, cp := range cps {
			if cp.Good <= int64(c) {
				want = cp
			}
		}
		if r.Duration != want.Duration || r.Cut != int64(c)-want.Good || r.Size != int64(len(after)) {
			t.Fatalf("cut at %d: recovered %+v, want duration %v, cut %d", c, r, want.Duration, int64(c)-want.Good)
		}
		if !bytes.Equal(after[head:want.Good], crashed[head:want.Good]) {
			t.Fatalf("cut at %d: the media changed", c)
		}
		check(c, want, after)
	}
}

// RecoverUnchanged checks that a file finished cleanly before the crash (the journal still
// listed it) is finished again, byte for byte the same.
func RecoverUnchanged(t *testing.T, path string, closed []byte, recover RecoverFunc) {
	t.Helper()
	r, after, err := RecoverBytes(t, path, closed, recover)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, closed) || r.Cut != 0 {
		t.Errorf("a finished file recovered to %d bytes (was %d), cut %d; want it unchanged", len(after), len(closed), r.Cut)
	}
}

// FuzzRecover seeds f with the closed file and cuts of the crashed one (whole, inside the second
// checkpoint, just past and just before the head, inside the first bytes), then checks that
// whatever a file holds, recover neither panics nor allocates past fuzzmem's bound, and a file
// it repaired repairs again to the same thing. name is the file's name in each input's
// directory.
func FuzzRecover(f *testing.F, name string, crashed []byte, cps []Checkpoint, closed []byte, recover RecoverFunc) {
	f.Add(closed)
	for _, c := range []int{len(crashed), int(cps[1].Good) + 30, int(cps[0].Good) + 9, int(cps[0].Good) - 1, 40} {
		f.Add(crashed[:c])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzmem.Check(t, func() {
			path := filepath.Join(t.TempDir(), name)
			r, after, err := RecoverBytes(t, path, data, recover)
			if err != nil {
				return
			}
			r2, again, err := RecoverBytes(t, path, after, recover)
			if err != nil || r2.Duration != r.Duration || !bytes.Equal(again, after) {
				t.Fatalf("recovered twice: %+v then %+v (%v), bytes equal %v", r, r2, err, bytes.Equal(again, after))
			}
		})
	})
}
