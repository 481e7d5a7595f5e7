// Package retention keeps the records folder within its settings: it deletes finished
// recordings older than record_delete_after, then the oldest ones until the records disk has
// record_min_free_space free and the recordings take at most record_max_total_size; when the
// free space cannot be had even so, it refuses new recordings (Admit) rather than let them fill
// the disk. It deletes through the records store only, one file at a time, and never a file
// being written nor one its Hold predicate keeps (a file not yet safely uploaded).
package retention

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/records"
)

// Every is how often a pass runs by itself; a finished file also runs one at once.
const Every = 10 * time.Second

// keptDeletions bounds the deletions remembered for the dashboard.
const keptDeletions = 200

// Config wires a Cleaner to the server.
type Config struct {
	Files    *records.Store        // the records folder: listing and deleting go through it
	Settings func() *conf.Settings // read at every pass: a change applies at the next one
	// Hold, when set, keeps the named finished file from being deleted while it returns true:
	// the object storage uploader passes "not yet safely uploaded". A held file still counts in
	// the folder's size and on the disk. nil holds nothing.
	Hold func(name string) bool
	Log  *slog.Logger // nil: slog.Default

	// For tests: the clock (nil: time.Now) and the disk's free and total bytes (nil:
	// recorder.DiskSpace).
	Now   func() time.Time
	Space func(dir string) (free, total uint64, err error)
}

// Deletion is one file the cleaner deleted.
type Deletion struct {
	Time   time.Time     `json:"time"`
	Name   string        `json:"name"`
	Size   int64         `json:"size"`
	Age    time.Duration `json:"-"` // since the file was last written
	Reason string        `json:"reason"`
	// AgeSeconds is Age for the dashboard.
	AgeSeconds float64 `json:"ageSeconds"`
}

// Cleaner deletes finished recordings as the retention settings say. Its methods are safe for
// concurrent use.
type Cleaner struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{} // holds a token when a pass is due: passes asked for meanwhile coalesce
	stop chan struct{}
	done chan struct{}

	pass sync.Mutex // one pass at a time

	mu        sync.Mutex // guards the fields below
	deletions []Deletion // oldest first, at most keptDeletions
	refused   string     // why new recordings are refused; "" = they are not
	last      time.Time  // when the last pass ended
	started   bool
}

// New returns a cleaner; Start runs it.
func New(cfg Config) *Cleaner {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Space == nil {
		cfg.Space = recorder.DiskSpace
	}
	return &Cleaner{cfg: cfg, log: cfg.Log.With("component", "retention"),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs a pass now, then every Every and after every finished file, on the cleaner's own
// goroutine (a file is finished on its recorder's goroutine, which must not wait on deletions).
func (c *Cleaner) Start() {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return
	}
	c.started = true
	c.mu.Unlock()
	c.cfg.Files.OnFinished(func(records.File) { c.Kick() })
	c.Kick()
	go c.run()
}

// Kick asks for a pass soon; it never blocks.
func (c *Cleaner) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Close stops the cleaner's goroutine and waits for a pass under way.
func (c *Cleaner) Close() {
	c.mu.Lock()
	started := c.started
	c.started = false
	c.mu.Unlock()
	if started {
		close(c.stop)
		<-c.done
	}
}

func (c *Cleaner) run() {
	defer close(c.done)
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		case <-c.kick:
		}
		c.Pass()
	}
}

// Deletions returns the last deletions (at most 200), newest first.
func (c *Cleaner) Deletions() []Deletion {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.deletions)
	slices.Reverse(out)
	return out
}

func (c *Cleaner) remember(d Deletion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.deletions) == keptDeletions {
		c.deletions = slices.Delete(c.deletions, 0, 1)
	}
	c.deletions = append(c.deletions, d)
}

// candidate is a finished recording the pass may delete.
type candidate struct {
	records.Recording
	age time.Duration
}

// oldestFirst orders by modification time, then name (parts of one recording finished within
// the same clock tick go in their order).
func oldestFirst(a, b candidate) int {
	if c := a.Modified.Compare(b.Modified); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// fmtBytes spells a byte count for logs and reasons.
func fmtBytes(n uint64) string {
	const mb = 1 << 20
	if n >= 10<<30 {
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%d MB", n/mb)
}
