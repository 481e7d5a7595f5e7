// Package containertest holds what the tests of every container (mp4, webm) share: opening a
// writer on a new file, and the crash-recovery checks (a file cut anywhere recovers to its last
// whole checkpoint, a finished file recovers unchanged, recovering a recovered file changes
// nothing). Each container brings its own Create, crashed file and Recover; what is particular
// to its format stays in its own tests.
package containertest

import (
	"os"
	"testing"

	"github.com/streamrec/streamrec/internal/media"
)

// Create creates the file at path and, with the container's create, a writer of tracks on it;
// the file is closed when the test ends.
func Create[W any](t testing.TB, path string, tracks []media.Track, create func(*os.File, []media.Track) (W, error)) (W, *os.File) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w, err := create(f, tracks)
	if err != nil {
		t.Fatal(err)
	}
	return w, f
}
