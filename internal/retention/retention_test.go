package retention

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/records"
)

const mb = 1 << 20

// folder is a records folder in t.TempDir() on a pretend disk of capacity bytes: its free space
// is the capacity less the sizes of the files in it, so sparse files stand for big recordings.
type folder struct {
	t        *testing.T
	store    *records.Store
	now      time.Time
	capacity uint64
	log      bytes.Buffer
	logMu    sync.Mutex

	mu       sync.Mutex
	settings conf.Settings
	held     map[string]bool
}

func newFolder(t *testing.T, capacity uint64) *folder {
	f := &folder{t: t, store: records.New(t.TempDir(), nil), capacity: capacity,
		now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), settings: *conf.Defaults(), held: map[string]bool{}}
	return f
}

func (f *folder) Write(p []byte) (int, error) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return f.log.Write(p)
}

func (f *folder) logged() string {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return f.log.String()
}

func (f *folder) cleaner() *Cleaner {
	return New(Config{
		Files: f.store,
		Settings: func() *conf.Settings {
			f.mu.Lock()
			defer f.mu.Unlock()
			s := f.settings
			return &s
		},
		Hold: func(name string) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.held[name]
		},
		Log:   slog.New(slog.NewTextHandler(f, nil)),
		Now:   func() time.Time { return f.now },
		Space: f.space,
	})
}

func (f *folder) set(fn func(s *conf.Settings)) {
	f.mu.Lock()
	fn(&f.settings)
	f.mu.Unlock()
}

func (f *folder) hold(name string, on bool) {
	f.mu.Lock()
	f.held[name] = on
	f.mu.Unlock()
}

func (f *folder) space(dir string) (free, total uint64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	var used uint64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			used += uint64(fi.Size())
		}
	}
	return f.capacity - min(used, f.capacity), f.capacity, nil
}

// file makes a recording of size bytes (sparse) last written age ago.
func (f *folder) file(name string, size int64, age time.Duration) {
	f.t.Helper()
	path := f.store.Path(name)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		f.t.Fatal(err)
	}
	when := f.now.Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		f.t.Fatal(err)
	}
}

func (f *folder) writing(name string) {
	f.t.Helper()
	if err := f.store.Begin(records.Writing{Name: name}); err != nil {
		f.t.Fatal(err)
	}
}

// left lists the recording files still in the folder, being written or not.
func (f *folder) left() []string {
	f.t.Helper()
	ents, err := os.ReadDir(f.store.Dir())
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if records.IsRecording(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

func (f *folder) wantLeft(want ...string) {
	f.t.Helper()
	slices.Sort(want)
	if got := f.left(); !slices.Equal(got, want) {
		f.t.Errorf("left %q, want %q", got, want)
	}
}

func deleted(c *Cleaner) []string {
	var names []string
	for _, d := range c.Deletions() {
		names = append(names, d.Name)
	}
	return names
}

// TestByAge: files older than record_delete_after go, a newer one stays, and so do an old file
// being written and an old file held (not yet uploaded). Deletions are listed newest first with
// their age, size and reason, and logged.
func TestByAge(t *testing.T) {
	f := newFolder(t, 1<<40)
	f.file("a-1.mp4", 3*mb, 3*time.Hour)
	f.file("a-2.mp4", 2*mb, 2*time.Hour)
	f.file("new.mp4", mb, 30*time.Minute)
	f.file("open.mp4", mb, 5*time.Hour)
	f.writing("open.mp4")
	f.file("held.webm", mb, 5*time.Hour)
	f.hold("held.webm", true)
	f.file("notes.txt", mb, 9*time.Hour) // not a recording: left alone
	c := f.cleaner()
	c.Pass() // record_delete_after is empty: keep everything
	f.wantLeft("a-1.mp4", "a-2.mp4", "new.mp4", "open.mp4", "held.webm")
	f.set(func(s *conf.Settings) { s.RecordDeleteAfter = time.Hour })
	c.Pass()
	f.wantLeft("new.mp4", "open.mp4", "held.webm")
	if _, err := os.Stat(f.store.Path("notes.txt")); err != nil {
		t.Errorf("notes.txt: %v", err)
	}
	if got := deleted(c); !slices.Equal(got, []string{"a-2.mp4", "a-1.mp4"}) {
		t.Errorf("deletions %q, want newest first a-2, a-1", got)
	}
	d := c.Deletions()[1]
	if d.Size != 3*mb || d.Age != 3*time.Hour || d.Reason != "older than record_delete_after=1h" || !d.Time.Equal(f.now) {
		t.Errorf("deletion %+v", d)
	}
	if log := f.logged(); !strings.Contains(log, `msg="recording deleted" component=retention file=a-1.mp4 age=3h0m0s bytes=3145728 reason="older than record_delete_after=1h"`) {
		t.Errorf("log:\n%s", log)
	}
	// The file being written, once finished, goes like any other.
	f.store.End("open.mp4")
	f.hold("held.webm", false)
	c.Pass()
	f.wantLeft("new.mp4")
}

// TestByFreeSpace: the oldest files go first, and only as many as record_min_free_space needs.
func TestByFreeSpace(t *testing.T) {
	f := newFolder(t, 1000*mb)
	for i, name := range []string{"c.mp4", "a.mp4", "e.webm", "b.mp4", "d.mp4", "f.mp4", "g.mp4", "h.mp4"} {
		f.file(name, 100*mb, time.Duration(8-i)*time.Minute) // c oldest, h newest
	}
	f.writing("c.mp4") // the oldest is being written: skipped, the next ones go
	f.set(func(s *conf.Settings) { s.RecordMinFreeSpace = conf.Space{Bytes: 450 * mb} })
	c := f.cleaner()
	c.Pass()
	f.wantLeft("c.mp4", "d.mp4", "f.mp4", "g.mp4", "h.mp4")
	if got := deleted(c); !slices.Equal(got, []string{"b.mp4", "e.webm", "a.mp4"}) {
		t.Errorf("deletions %q (newest first), want the three oldest finished", got)
	}
	if r := c.Deletions()[2].Reason; r != "free space 200 MB below record_min_free_space=450M" {
		t.Errorf("reason %q", r)
	}
	if c.Refused() != "" {
		t.Errorf("refused: %s", c.Refused())
	}
	// A share of the disk: 70% of 1000 MB = 700 MB free: two more go.
	f.set(func(s *conf.Settings) { s.RecordMinFreeSpace = conf.Space{Percent: 70} })
	c.Pass()
	f.wantLeft("c.mp4", "g.mp4", "h.mp4")
}

// TestByTotalSize: the folder is brought under record_max_total_size, oldest first; a held file
// counts in the total but stays.
func TestByTotalSize(t *testing.T) {
	f := newFolder(t, 1<<40)
	for i, name := range []string{"1.mp4", "2.mp4", "3.mp4", "4.mp4", "5.mp4"} {
		f.file(name, 100*mb, time.Duration(5-i)*time.Hour)
	}
	f.hold("1.mp4", true)
	f.set(func(s *conf.Settings) { s.RecordMaxTotalSize = 250 * mb })
	c := f.cleaner()
	c.Pass()
	f.wantLeft("1.mp4", "5.mp4") // 500 MB: 2, 3 and 4 go (1 is held) to reach 200 MB
	if r := c.Deletions()[0].Reason; r != "records folder 300 MB over record_max_total_size=250M" {
		t.Errorf("reason %q", r)
	}
}

// TestRefusal: when record_min_free_space cannot be met with everything deletable gone, Admit
// refuses with ErrNoSpace naming the setting, logged once however often it is asked; once
// the space can be had again (a hold released), it admits again and says so once.
func TestRefusal(t *testing.T) {
	f := newFolder(t, 1000*mb)
	f.file("old.mp4", 300*mb, 2*time.Hour)
	f.file("held.mp4", 300*mb, time.Hour)
	f.file("open.mp4", 300*mb, time.Hour)
	f.hold("held.mp4", true)
	f.writing("open.mp4")
	c := f.cleaner()
	if err := c.Admit(); err != nil {
		t.Fatalf("no setting: %v", err)
	}
	f.set(func(s *conf.Settings) { s.RecordMinFreeSpace = conf.Space{Bytes: 500 * mb} })
	for range 3 {
		err := c.Admit()
		if !errors.Is(err, recorder.ErrNoSpace) || !strings.Contains(err.Error(), "record_min_free_space=500M asks for 500 MB") || !strings.Contains(err.Error(), "(1 held until uploaded)") {
			t.Fatalf("Admit: %v", err)
		}
	}
	f.wantLeft("held.mp4", "open.mp4") // the deletable one went first
	if n := strings.Count(f.logged(), "new recordings refused"); n != 1 {
		t.Errorf("refusal logged %d times:\n%s", n, f.logged())
	}
	if st := c.Status(); st.Refused == "" || st.MinFreeSpace != "500M" {
		t.Errorf("status %+v", st)
	}
	f.hold("held.mp4", false)
	if err := c.Admit(); err != nil {
		t.Fatalf("after the hold was released: %v", err)
	}
	f.wantLeft("open.mp4")
	if c.Refused() != "" || strings.Count(f.logged(), "new recordings accepted again") != 1 {
		t.Errorf("refused %q; log:\n%s", c.Refused(), f.logged())
	}
}

// TestFloor: a record_min_free_space below the recorder's 64 MB floor deletes up to the floor,
// so a start is not refused by the floor while files could go.
func TestFloor(t *testing.T) {
	f := newFolder(t, 200*mb)
	f.file("a.mp4", 100*mb, 2*time.Hour)
	f.file("b.mp4", 50*mb, time.Hour)
	f.set(func(s *conf.Settings) { s.RecordMinFreeSpace = conf.Space{Bytes: mb} })
	c := f.cleaner()
	c.Pass()
	f.wantLeft("b.mp4")
	if err := c.Admit(); err != nil {
		t.Error(err)
	}
}

// TestDeletionsBounded: the list keeps the last 200 deletions.
func TestDeletionsBounded(t *testing.T) {
	f := newFolder(t, 1<<40)
	c := f.cleaner()
	for i := range 250 {
		c.remember(Deletion{Name: filepath.Base(time.Duration(i).String())})
	}
	ds := c.Deletions()
	if len(ds) != keptDeletions || ds[0].Name != "249ns" || ds[len(ds)-1].Name != "50ns" {
		t.Errorf("%d kept, first %q, last %q", len(ds), ds[0].Name, ds[len(ds)-1].Name)
	}
}

// TestRunsAfterFinished: a started cleaner runs a pass after each finished file, off the
// finishing goroutine: Finished returns at once, the old file goes soon after.
func TestRunsAfterFinished(t *testing.T) {
	f := newFolder(t, 1<<40)
	f.set(func(s *conf.Settings) { s.RecordDeleteAfter = time.Hour })
	c := f.cleaner()
	c.Start()
	defer c.Close()
	f.file("old.mp4", mb, 2*time.Hour)
	f.store.Finished(records.File{Name: "old.mp4"})
	deadline := time.Now().Add(5 * time.Second)
	for len(f.left()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.wantLeft()
}

// TestPassesCoalesce: finished files never wait for a pass (it runs on the cleaner's goroutine),
// and the files finished while a pass runs ask for one more pass, not one each.
func TestPassesCoalesce(t *testing.T) {
	f := newFolder(t, 1<<40)
	f.file("a.mp4", mb, time.Hour)
	c := f.cleaner()
	var passes atomic.Int32
	settings := c.cfg.Settings
	c.cfg.Settings = func() *conf.Settings { passes.Add(1); return settings() }
	inPass, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.cfg.Hold = func(string) bool {
		once.Do(func() { close(inPass); <-release })
		return false
	}
	c.Start()
	defer c.Close()
	<-inPass // the first pass is under way, held up
	start := time.Now()
	for range 10 {
		f.store.Finished(records.File{Name: "a.mp4"})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("10 finished files took %v while a pass was held up", d)
	}
	close(release)
	time.Sleep(300 * time.Millisecond)
	if n := passes.Load(); n != 2 {
		t.Errorf("%d passes, want 2: the one held up and one for the 10 files finished meanwhile", n)
	}
}
