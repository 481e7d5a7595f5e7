package records

import (
	"os"
	"path/filepath"
	"testing"
)

// A thumbnail goes with its recording: deleted through the store, or gone from the folder
// (a hook moved it away), its thumbnail is removed; another's stays.
func TestThumbnailsFollowRecordings(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	for _, n := range []string{"a.mp4", "b.mp4", "c.webm"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(s.ThumbPath(n)), 0o755)
		if err := os.WriteFile(s.ThumbPath(n), []byte("jpg"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete("a.mp4"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "b.mp4")) // a hook moved it away
	if _, err := s.List(); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]bool{"a.mp4": false, "b.mp4": false, "c.webm": true} {
		if _, err := os.Stat(s.ThumbPath(n)); (err == nil) != want {
			t.Errorf("thumbnail of %s there: %v, want %v", n, err == nil, want)
		}
	}
}
