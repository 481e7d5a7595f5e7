package records

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// folder makes a records folder inside a home holding a file outside it, with a recording, a
// file being written, hidden and non-recording files, a sub-folder and a symlink out.
func folder(t *testing.T) (*Store, string) {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "records")
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a.mp4", "B.WEBM", "open.mp4", "notes.txt", ".hidden.mp4", "sub/b.mp4", "dir.mp4/x"} {
		write(filepath.Join(dir, p))
	}
	write(filepath.Join(home, "outside.mp4"))
	if err := os.Symlink(filepath.Join(home, "outside.mp4"), filepath.Join(dir, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	s := New(dir, nil)
	s.Begin(Writing{Name: "open.mp4", Container: "mp4"})
	return s, home
}

// TestResolveRefusesWhatIsNoFinishedRecording: a client's name resolves only to a finished
// recording directly inside the folder: never a path out of it, a hidden or non-recording file,
// a sub-folder's file, a symlink, or a file being written.
func TestResolveRefusesWhatIsNoFinishedRecording(t *testing.T) {
	s, _ := folder(t)
	for _, name := range []string{"../outside.mp4", "../conf/flashphoner.properties", "/etc/passwd", "notes.txt",
		".hidden.mp4", "sub/b.mp4", "sub", "dir.mp4", "link.mp4", "", "a.mp4\x00", "..", ".", "missing.mp4",
		`..\outside.mp4`, "open.mp4", "a.mp4/", ".streamrec-library.jsonl", JournalDir} {
		if path, err := s.Resolve(name); err == nil {
			t.Errorf("%q resolved to %s", name, path)
		}
		if err := s.Delete(name); err == nil {
			t.Errorf("%q deleted", name)
		}
	}
	for _, name := range []string{"a.mp4", "B.WEBM"} {
		if path, err := s.Resolve(name); err != nil || path != filepath.Join(s.Dir(), name) {
			t.Errorf("%s: %q, %v", name, path, err)
		}
	}
	if got := ContentType("B.WEBM"); got != "video/webm" {
		t.Errorf("content type of B.WEBM: %q", got)
	}
	s.End("open.mp4")
	if _, err := s.Resolve("open.mp4"); err != nil {
		t.Errorf("a file no longer being written: %v", err)
	}
}

// TestListIndexDelete: List finds the finished recordings with what the index knows of them;
// Finished indexes a file (also for a new Store over the same folder: a restart) and tells the
// listeners in order; Delete removes the file and its entry.
func TestListIndexDelete(t *testing.T) {
	s, home := folder(t)
	var heard []string
	s.OnFinished(func(f File) { heard = append(heard, "1:"+f.Name) })
	s.OnFinished(func(f File) { heard = append(heard, "2:"+f.Name) })
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s.Finished(File{Name: "a.mp4", StreamName: "hall", MediaSessionID: "m1", Part: 2, Start: start, Err: "disk full"})
	if !slices.Equal(heard, []string{"1:a.mp4", "2:a.mp4"}) {
		t.Errorf("listeners heard %v", heard)
	}
	names := func(recs []Recording) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Name)
		}
		slices.Sort(out)
		return out
	}
	for _, st := range []*Store{s, New(s.Dir(), nil)} {
		recs, err := st.List()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"B.WEBM", "a.mp4"}
		if st != s {
			want = []string{"B.WEBM", "a.mp4", "open.mp4"} // nothing is being written after a restart
		}
		if got := names(recs); !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		for _, r := range recs {
			m := r.Meta
			switch r.Name {
			case "a.mp4":
				if !r.Indexed || m.Stream != "hall" || m.MediaSessionID != "m1" || m.Part != 2 || !m.Start.Equal(start) || m.Err != "disk full" || r.Size != 4 {
					t.Errorf("a.mp4: %+v", r)
				}
			default:
				if r.Indexed {
					t.Errorf("%s indexed: %+v", r.Name, r)
				}
			}
		}
	}
	if err := s.Delete("a.mp4"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "a.mp4")); err == nil {
		t.Errorf("a.mp4 still there")
	}
	if _, err := os.Stat(filepath.Join(home, "outside.mp4")); err != nil {
		t.Errorf("the file the symlink names is gone: %v", err)
	}
	os.WriteFile(filepath.Join(s.Dir(), "a.mp4"), []byte("new"), 0o644) // a new file of the same name
	recs, _ := s.List()
	for _, r := range recs {
		if r.Name == "a.mp4" && r.Indexed {
			t.Errorf("a deleted file's index entry outlived it: %+v", r)
		}
	}
}

// TestIndexCompacted: an index grown to more than twice the live entries (plus slack) by files
// written again and deleted is rewritten with one line per file still there.
func TestIndexCompacted(t *testing.T) {
	s := New(t.TempDir(), nil)
	os.WriteFile(filepath.Join(s.Dir(), "kept.mp4"), []byte("x"), 0o644)
	for i := range 600 {
		s.Finished(File{Name: "kept.mp4", Part: i})
	}
	if _, err := s.List(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir(), IndexName))
	if lines := strings.Count(string(b), "\n"); lines != 1 || !strings.Contains(string(b), `"part":599`) {
		t.Errorf("index after compaction (%d lines):\n%.300s", lines, b)
	}
}

// TestRemoveStaysInside: Remove takes only a plain name, so a caller's mistake removes nothing
// outside the folder.
func TestRemoveStaysInside(t *testing.T) {
	s, home := folder(t)
	for _, name := range []string{"../outside.mp4", "", "..", "."} {
		if err := s.Remove(name); err == nil {
			t.Errorf("removed %q", name)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "outside.mp4")); err != nil {
		t.Errorf("outside.mp4 is gone: %v", err)
	}
}
