package records

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzResolve: whatever name a client sends, Resolve gives only a regular file with a
// recording's name directly inside the folder, never one being written.
func FuzzResolve(f *testing.F) {
	for _, name := range []string{"a.mp4", "B.WEBM", "../outside.mp4", "..", "sub/b.mp4", `..\a.mp4`, ".hidden.mp4", "a.mp4\x00", "open.webm", "link.mp4"} {
		f.Add(name)
	}
	home := f.TempDir()
	dir := filepath.Join(home, "records")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	for _, p := range []string{"a.mp4", "B.WEBM", "open.webm", ".hidden.mp4", "sub/b.mp4", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(home, "outside.mp4"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(home, "outside.mp4"), filepath.Join(dir, "link.mp4"))
	s := New(dir, nil)
	s.Begin(Writing{Name: "open.webm"})
	f.Fuzz(func(t *testing.T, name string) {
		path, err := s.Resolve(name)
		if err != nil {
			return
		}
		st, serr := os.Lstat(path)
		if filepath.Dir(path) != dir || filepath.Base(path) != name || !IsRecording(name) || s.Writing(name) || serr != nil || !st.Mode().IsRegular() {
			t.Fatalf("%q resolved to %s", name, path)
		}
	})
}
