package upload

import (
	"sort"
	"strings"
	"time"
)

// The states of a file, as Status says them.
const (
	Local     = "local"     // not queued: upload is off, or the file was never finished with it on
	Queued    = "queued"    // waiting for a worker
	Uploading = "uploading" // an attempt is running
	Uploaded  = "uploaded"  // verified in the bucket
	Failed    = "failed"    // the last attempt failed (Error); tried again at NextTry
)

// Status is where one file's upload stands.
type Status struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Key        string    `json:"key,omitempty"` // the object's key, once uploaded
	UploadedAt time.Time `json:"uploadedAt,omitzero"`
	Bytes      int64     `json:"bytes"`
	Attempts   int       `json:"attempts,omitempty"` // failed attempts so far
	Error      string    `json:"error,omitempty"`    // why the last attempt failed
	NextTry    time.Time `json:"nextTry,omitzero"`
	Queued     time.Time `json:"queued,omitzero"`
}

func (e *entry) status() Status {
	s := Status{Name: e.Name, Key: e.Key, UploadedAt: e.UploadedAt, Bytes: e.Size,
		Attempts: e.Attempts, Error: e.LastError, Queued: e.Queued}
	switch {
	case e.done():
		s.State, s.Attempts, s.Error = Uploaded, 0, ""
	case e.uploading:
		s.State = Uploading
	case e.LastError != "":
		s.State, s.NextTry = Failed, e.NextTry
	default:
		s.State = Queued
	}
	return s
}

// Status says where the named file's upload stands (Local for a name the queue does not know).
// A nil queue (upload off) says Local.
func (q *Queue) Status(name string) Status {
	if q == nil {
		return Status{Name: name, State: Local}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.entries[name]; e != nil {
		return e.status()
	}
	return Status{Name: name, State: Local}
}

// Held reports whether the named file is queued and not yet verified in the bucket: its local
// copy must stay (the retention cleaner's hold). A file never queued (finished before upload
// was turned on) is not held.
func (q *Queue) Held(name string) bool {
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.entries[name]
	return e != nil && !e.done()
}

// stats is what the queue counted since it was opened.
type stats struct {
	files       int
	bytes       int64
	failures    int // failed attempts
	lastError   string
	lastErrorAt time.Time
	lastFile    string
}

func (s *stats) uploaded(n int64) { s.files++; s.bytes += n }

func (s *stats) failed(name, err string) {
	s.failures++
	s.lastError, s.lastErrorAt, s.lastFile = err, time.Now(), name
}

// Summary is the queue at a glance, for the dashboard.
type Summary struct {
	Counts        map[string]int `json:"counts"`        // entries per state (not Local)
	Uploaded      int            `json:"uploaded"`      // files verified since the start
	BytesUploaded int64          `json:"bytesUploaded"` // their bytes
	Failures      int            `json:"failures"`      // failed attempts since the start
	LastError     string         `json:"lastError,omitempty"`
	LastErrorFile string         `json:"lastErrorFile,omitempty"`
	LastErrorAt   time.Time      `json:"lastErrorAt,omitzero"`
	Failing       []Status       `json:"failing"` // files whose last attempt failed, oldest first (at most maxFailing)
}

const maxFailing = 20

// Summary counts the entries per state and lists those failing.
func (q *Queue) Summary() Summary {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Summary{Counts: map[string]int{Queued: 0, Uploading: 0, Uploaded: 0, Failed: 0}, Failing: []Status{},
		Uploaded: q.stats.files, BytesUploaded: q.stats.bytes, Failures: q.stats.failures,
		LastError: q.stats.lastError, LastErrorFile: q.stats.lastFile, LastErrorAt: q.stats.lastErrorAt}
	for _, e := range q.entries {
		st := e.status()
		s.Counts[st.State]++
		if st.State == Failed {
			s.Failing = append(s.Failing, st)
		}
	}
	sort.Slice(s.Failing, func(a, b int) bool { return s.Failing[a].Queued.Before(s.Failing[b].Queued) })
	s.Failing = s.Failing[:min(len(s.Failing), maxFailing)]
	return s
}

// UploadedAs gives the name of the file's object when it is not the file's own (another node's
// object had that name, so the file went up as NAME-NODE.EXT); "" otherwise or not uploaded.
func (q *Queue) UploadedAs(name string) string {
	if q == nil {
		return ""
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.entries[name]
	if e == nil || e.Key == "" {
		return ""
	}
	if as := strings.TrimPrefix(e.Key, q.cfg.Store.Key("")); as != name {
		return as
	}
	return ""
}
