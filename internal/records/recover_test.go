package records

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mp4"
)

// killedMP4 writes an AAC file of n frames in the records folder dir, journaled in fs, flushing
// every 10 frames, and leaves it open as kill -9 would.
func killedMP4(t *testing.T, fs *Store, dir, name string, n int) {
	t.Helper()
	if err := fs.Begin(Writing{Name: name, StreamName: "cam " + name, MediaSessionID: "msid-" + name, Part: 2, Container: "mp4", Start: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := mp4.Create(f, []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2, Config: []byte{0x12, 0x10}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		dts := time.Duration(i) * 1024 * time.Second / 44100
		if err := w.WriteFrame(media.Frame{DTS: dts, PTS: dts, Data: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			w.Flush()
		}
	}
	f.Write([]byte("torn")) // the start of a fragment the kill interrupted
}

// TestRecoverJournaled: the files a killed process was writing are found at the next start from
// the journal, finished with their stream's names, and the journal is emptied; entries that
// name nothing recoverable are dropped, loudly, and a file that holds no media is removed.
func TestRecoverJournaled(t *testing.T) {
	dir := t.TempDir()
	before, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The journal's folder removed behind the server's back (a cleanup script) comes back.
	os.RemoveAll(filepath.Join(dir, JournalDir))
	killedMP4(t, before, dir, "a-2.mp4", 101)
	before.Begin(Writing{Name: "gone.mp4", Container: "mp4"})
	before.Begin(Writing{Name: "empty.webm", Container: "webm"})
	os.WriteFile(filepath.Join(dir, "empty.webm"), []byte{0x1a, 0x45}, 0o644) // killed before its header
	os.WriteFile(filepath.Join(dir, JournalDir, "bad.json"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, JournalDir, "x.json.tmp"), []byte("{"), 0o644)
	// A file finished cleanly leaves no entry.
	before.Begin(Writing{Name: "done.mp4", Container: "mp4"})
	before.End("done.mp4")

	var logged bytes.Buffer
	after, _ := Open(dir, nil)
	files := after.Recover(slog.New(slog.NewTextHandler(&logged, nil)))
	if len(files) != 1 {
		t.Fatalf("recovered %+v, want a-2.mp4 alone", files)
	}
	f := files[0]
	// The last flush (after the 100th frame) wrote 99: the newest waits for its successor.
	want := 99 * 1024 * time.Second / 44100
	if f.Name != "a-2.mp4" || f.StreamName != "cam a-2.mp4" || f.MediaSessionID != "msid-a-2.mp4" || f.Part != 2 ||
		!f.Recovered || f.Cut != 4 || (f.Duration-want).Abs() > time.Millisecond || !strings.HasPrefix(f.Err, Recovered) {
		t.Errorf("recovered %+v, want a-2.mp4 of stream 'cam a-2.mp4', part 2, %v, 4 bytes cut", f, want)
	}
	if st, _ := os.Stat(f.Path); st == nil || st.Size() != f.Size {
		t.Errorf("file size %v, File says %d", st, f.Size)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty.webm")); err == nil {
		t.Errorf("a file without media was kept")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, JournalDir)); len(ents) != 0 {
		t.Errorf("journal still holds %d entries", len(ents))
	}
	for _, want := range []string{"gone.mp4", "empty.webm", "bad.json"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log does not name %s:\n%s", want, logged.String())
		}
	}
	if again := after.Recover(slog.New(slog.NewTextHandler(&logged, nil))); len(again) != 0 {
		t.Errorf("a second start recovered %+v again", again)
	}
}

// TestRecoverStaysInside: a journal entry naming a file outside the folder, a hidden one or one
// that is no recording is dropped without touching that file.
func TestRecoverStaysInside(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, "records")
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("x"), 100)
	os.WriteFile(filepath.Join(home, "outside.mp4"), junk, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.mp4"), junk, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), junk, 0o644)
	for i, name := range []string{"../outside.mp4", ".hidden.mp4", "notes.txt"} {
		entry := fmt.Sprintf(`{"name":%q,"container":"mp4"}`, name)
		os.WriteFile(filepath.Join(dir, JournalDir, fmt.Sprintf("e%d.json", i)), []byte(entry), 0o644)
	}
	var logged bytes.Buffer
	if files := s.Recover(slog.New(slog.NewTextHandler(&logged, nil))); len(files) != 0 {
		t.Errorf("recovered %+v", files)
	}
	for _, p := range []string{filepath.Join(home, "outside.mp4"), filepath.Join(dir, ".hidden.mp4"), filepath.Join(dir, "notes.txt")} {
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, junk) {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	if n := strings.Count(logged.String(), "names no recording file"); n != 3 {
		t.Errorf("%d entries refused, want 3:\n%s", n, logged.String())
	}
}
