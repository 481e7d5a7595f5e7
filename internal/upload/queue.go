// Package upload puts every finished recording file into the bucket (objstore), in the
// background: a persistent queue (a journal in the records folder, so a restart resumes it),
// a bounded number of uploads in flight, retries with backoff until the object is verified,
// then, with record_s3_delete_local, the local copy's removal. A recording is never held up by
// it: Enqueue writes the journal and returns.
package upload

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
)

// JournalName is the queue's journal in the records folder (hidden: never listed or served).
const JournalName = ".streamrec-uploads.json"

// Defaults of Config.
const (
	DefaultWorkers    = 2
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// keepGone is how many uploaded entries whose local file is gone the journal keeps, newest
	// first, so that the status of a file just offloaded still says where it went.
	keepGone = 200
	// sweepEvery is how often local copies waiting for their hook are deleted, and the
	// journal pruned.
	sweepEvery = 2 * time.Second
	pruneEvery = 30 // sweeps: a minute
)

// Config sets a Queue up.
type Config struct {
	Store *objstore.Store
	Files *records.Store
	Node  string // node_name: marks the objects, and suffixes a name another node took
	// DeleteLocal says (at each verified upload) whether the local copy goes (record_s3_delete_local).
	DeleteLocal func() bool
	// InUse says whether a file (its path) is still needed where it is (its finish hook is queued
	// or running): its local copy is deleted only afterwards.
	InUse func(path string) bool
	// OnUploaded, when set, hears of every verified upload: the file (as queued) and where it
	// went (the file_uploaded webhook). It runs on the uploading worker: it must not block.
	OnUploaded func(f records.File, bucket, key string)
	Workers    int
	MinBackoff time.Duration // first retry's delay, doubling up to MaxBackoff
	MaxBackoff time.Duration
	Log        *slog.Logger

	// beforePut, in tests, runs between reading the file's sums and the upload.
	beforePut func(name string)
}

// Queue is the upload queue of one records folder. Its methods are safe for concurrent use.
type Queue struct {
	cfg     Config
	journal string
	ctx     context.Context // cancelled by Close: uploads in flight end, and resume at next start
	cancel  context.CancelFunc
	wake    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*entry
	stats   stats

	jmu sync.Mutex // serializes journal writes
}

// Open reads the journal of the records folder (what a previous run left queued is resumed)
// and starts the workers.
func Open(cfg Config) (*Queue, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DeleteLocal == nil {
		cfg.DeleteLocal = func() bool { return false }
	}
	if cfg.InUse == nil {
		cfg.InUse = func(string) bool { return false }
	}
	q := &Queue{cfg: cfg, journal: cfg.Files.Path(JournalName), wake: make(chan struct{}, cfg.Workers)}
	entries, err := load(q.journal)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		e.NextTry = time.Time{} // a restart tries again at once: the store may be back
	}
	q.entries = entries
	q.prune()
	if n := q.pending(); n > 0 {
		cfg.Log.Info("uploads resumed from the journal", "files", n, "journal", q.journal)
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		q.wg.Add(1)
		go q.work()
	}
	q.wg.Add(1)
	go q.sweeper()
	return q, nil
}

// Enqueue queues a finished file (an OnFinished listener): its journal entry is written, then
// a worker is woken. It does not wait for the upload.
func (q *Queue) Enqueue(f records.File) {
	e := &entry{
		Name: f.Name, Stream: f.StreamName, MediaSessionID: f.MediaSessionID, Part: f.Part,
		Start: f.Start, DurationMs: f.Duration.Milliseconds(), Codecs: f.Codecs, Size: f.Size,
		Queued: time.Now(),
	}
	q.mu.Lock()
	q.entries[f.Name] = e
	q.mu.Unlock()
	q.save()
	q.signal()
}

// Close stops the workers: an upload in flight is cut and stays queued in the journal, to be
// resumed at the next start.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
	q.save()
}

func (q *Queue) signal() {
	for range q.cfg.Workers {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// work uploads the due entries, one at a time, until Close.
func (q *Queue) work() {
	defer q.wg.Done()
	for q.ctx.Err() == nil {
		e, wait := q.take()
		if e != nil {
			q.attempt(e)
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-q.wake:
		case <-t.C:
		case <-q.ctx.Done():
		}
		t.Stop()
	}
}

// take marks the oldest due entry as uploading and returns a copy of it; with none due, how
// long until the next one is.
func (q *Queue) take() (*entry, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var best *entry
	wait := time.Minute
	for _, e := range q.entries {
		if e.done() || e.uploading {
			continue
		}
		if d := e.NextTry.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if best == nil || e.Queued.Before(best.Queued) {
			best = e
		}
	}
	if best == nil {
		return nil, wait
	}
	best.uploading = true
	c := *best
	return &c, 0
}

// backoff is the delay after the n-th failed attempt: MinBackoff doubling up to MaxBackoff,
// within ±25 % so that uploads failed together do not retry together.
func (q *Queue) backoff(n int) time.Duration {
	d := q.cfg.MinBackoff
	for i := 1; i < n && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// sweeper deletes the local copies whose hooks are done, and prunes the journal.
func (q *Queue) sweeper() {
	defer q.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-q.ctx.Done():
			return
		case <-t.C:
			q.offloadAll()
			if n%pruneEvery == 0 {
				q.prune()
			}
		}
	}
}
