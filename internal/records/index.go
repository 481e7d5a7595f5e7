package records

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// IndexName is the index file in the records folder (hidden: never listed or served). What a
// file cannot tell by itself (the stream it recorded, its part number, when recording started,
// the write error that cut it short) is kept there: one JSON line per finished file, appended.
// Files it does not know (copied in by hand, or from before the index) are listed without it.
const IndexName = ".streamrec-library.jsonl"

// maxIndexLine bounds one line of the index read back (a few hundred bytes when valid).
const maxIndexLine = 1 << 20

// Meta is what the index keeps of a finished file.
type Meta struct {
	Name           string    `json:"name"`
	Stream         string    `json:"stream"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	End            time.Time `json:"end,omitzero"`
	Err            string    `json:"error,omitempty"` // the write error that cut the file short
}

func metaOf(f File) Meta {
	return Meta{Name: f.Name, Stream: f.StreamName, MediaSessionID: f.MediaSessionID, Part: f.Part, Start: f.Start, End: f.End, Err: f.Err}
}

// index is the index file and its entries, read once, then kept in step.
type index struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	loaded  bool
	entries map[string]Meta
	lines   int // lines in the file: appends since the last compaction count too
}

// load reads the file once. Caller holds x.mu.
func (x *index) load() {
	if x.loaded {
		return
	}
	x.loaded, x.entries = true, map[string]Meta{}
	f, err := os.Open(x.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			x.log.Warn("library index unreadable", "file", x.path, "err", err)
		}
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxIndexLine)
	for sc.Scan() {
		var m Meta
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Name != "" {
			x.entries[m.Name] = m
			x.lines++
		}
	}
}

// add appends an entry.
func (x *index) add(m Meta) {
	line, err := json.Marshal(m)
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.load()
	x.entries[m.Name] = m
	x.lines++
	out, err := os.OpenFile(x.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = out.Write(append(line, '\n'))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		x.log.Warn("library index not updated", "file", x.path, "err", err)
	}
}

// forget drops the entry of a deleted file (the file keeps its line until the next compaction).
func (x *index) forget(name string) {
	x.mu.Lock()
	delete(x.entries, name)
	x.mu.Unlock()
}

// prune compacts the file when it holds more than twice as many lines as entries of files
// still present (plus some slack): deleted files and files written again leave lines behind.
// Caller holds x.mu.
func (x *index) prune(present map[string]bool) {
	live := 0
	for name := range x.entries {
		if present[name] {
			live++
		}
	}
	if x.lines > 2*live+500 {
		x.compact(present)
	}
}

// compact rewrites the file with the entries of files still present. Caller holds x.mu.
func (x *index) compact(present map[string]bool) {
	var b strings.Builder
	n := 0
	for name, m := range x.entries {
		if !present[name] {
			delete(x.entries, name)
			continue
		}
		line, _ := json.Marshal(m)
		b.Write(line)
		b.WriteByte('\n')
		n++
	}
	tmp := x.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return
	}
	if err := os.Rename(tmp, x.path); err != nil {
		os.Remove(tmp)
		return
	}
	x.lines = n
}
