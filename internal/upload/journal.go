package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/streamrec/streamrec/internal/atomicfile"
	"github.com/streamrec/streamrec/internal/records"
)

// maxJournal bounds the journal read back: entries are a few hundred bytes, and the journal
// holds the files not yet uploaded, the uploaded ones still on disk and keepGone more.
const maxJournal = 64 << 20

// entry is one file of the queue, as the journal keeps it.
type entry struct {
	Name           string    `json:"name"`
	Stream         string    `json:"stream,omitempty"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	DurationMs     int64     `json:"durationMs,omitempty"`
	Codecs         string    `json:"codecs,omitempty"`
	Size           int64     `json:"size"`
	Queued         time.Time `json:"queued"` // when the file was finished and queued
	Attempts       int       `json:"attempts,omitempty"`
	LastError      string    `json:"lastError,omitempty"` // of the last failed attempt
	NextTry        time.Time `json:"nextTry,omitzero"`
	Key            string    `json:"key,omitempty"` // the object's key, once uploaded
	UploadedAt     time.Time `json:"uploadedAt,omitzero"`
	// Offload: the local copy is to be deleted (record_s3_delete_local), once no hook needs it.
	Offload bool `json:"offload,omitempty"`

	uploading bool // an attempt is running (not kept: a restart starts it again)
}

// file is the finished file the entry was queued for, as records.File.
func (e *entry) file(files *records.Store) records.File {
	return records.File{Name: e.Name, Path: files.Path(e.Name), Part: e.Part, Size: e.Size,
		Duration: time.Duration(e.DurationMs) * time.Millisecond, Start: e.Start,
		StreamName: e.Stream, MediaSessionID: e.MediaSessionID, Codecs: e.Codecs}
}

// done says whether the file is verified in the bucket.
func (e *entry) done() bool { return !e.UploadedAt.IsZero() }

// journalFile is the journal's shape.
type journalFile struct {
	Uploads []*entry `json:"uploads"`
}

// load reads the journal at path (none yet: empty).
func load(path string) (map[string]*entry, error) {
	out := map[string]*entry{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	defer f.Close()
	var j journalFile
	b, err := io.ReadAll(io.LimitReader(f, maxJournal))
	if err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	if len(b) == 0 {
		return out, nil // a crash before the first write
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("upload journal %s unreadable (move it away to start afresh): %w", path, err)
	}
	for _, e := range j.Uploads {
		if e != nil && e.Name != "" {
			out[e.Name] = e
		}
	}
	return out, nil
}

// save writes the journal atomically: a temp file, synced, renamed over it, the folder synced.
// A failure is logged: the queue goes on in memory, and a crash would lose what changed.
func (q *Queue) save() {
	q.jmu.Lock()
	defer q.jmu.Unlock()
	q.mu.Lock()
	j := journalFile{Uploads: make([]*entry, 0, len(q.entries))}
	for _, e := range q.entries {
		c := *e
		j.Uploads = append(j.Uploads, &c)
	}
	q.mu.Unlock()
	sort.Slice(j.Uploads, func(a, b int) bool { return j.Uploads[a].Queued.Before(j.Uploads[b].Queued) })
	b, err := json.MarshalIndent(j, "", " ")
	if err == nil {
		err = atomicfile.Write(q.journal, b, 0o644)
	}
	if err != nil {
		q.cfg.Log.Error("upload journal not written: a restart would not resume what changed", "journal", q.journal, "err", err)
	}
}

// prune drops the entries of files uploaded whose local copy is gone (deleted, offloaded),
// but for the keepGone newest: the journal stays in proportion to the folder.
func (q *Queue) prune() {
	q.mu.Lock()
	var gone []*entry
	for _, e := range q.entries {
		if e.done() && !e.Offload {
			if _, err := os.Stat(q.cfg.Files.Path(e.Name)); errors.Is(err, fs.ErrNotExist) {
				gone = append(gone, e)
			}
		}
	}
	sort.Slice(gone, func(a, b int) bool { return gone[a].UploadedAt.After(gone[b].UploadedAt) })
	n := 0
	for _, e := range gone[min(len(gone), keepGone):] {
		delete(q.entries, e.Name)
		n++
	}
	q.mu.Unlock()
	if n > 0 {
		q.save()
	}
}

// pending counts the entries not yet uploaded.
func (q *Queue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.entries {
		if !e.done() {
			n++
		}
	}
	return n
}
