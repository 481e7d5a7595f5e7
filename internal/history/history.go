// Package history keeps the latest entries of something the dashboard lists (hook runs,
// webhook deliveries) in memory and in a file, so that a restart does not empty the list.
package history

import (
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/atomicfile"
)

// saveDelay gathers the entries of a burst (many parts finishing together) into one write.
const saveDelay = time.Second

// List is the latest Keep entries, oldest first in the file. Safe for concurrent use.
type List[T any] struct {
	keep int
	path string // "" = memory only
	log  *slog.Logger

	mu      sync.Mutex
	items   []T
	pending *time.Timer // a save is due
}

// Open returns the list kept in path ("" = in memory only), with what the file holds; a file
// that cannot be read starts an empty list (and says so in the log).
func Open[T any](path string, keep int, log *slog.Logger) *List[T] {
	if log == nil {
		log = slog.Default()
	}
	l := &List[T]{keep: keep, path: path, log: log}
	if path == "" {
		return l
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &l.items)
	}
	if err != nil && !os.IsNotExist(err) {
		log.Warn("history file not read: the list starts empty", "file", path, "err", err)
		l.items = nil
	}
	if len(l.items) > keep {
		l.items = l.items[len(l.items)-keep:]
	}
	return l
}

// Add appends an entry, dropping the oldest past Keep; the file is written within saveDelay.
func (l *List[T]) Add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	if len(l.items) > l.keep {
		l.items = append(l.items[:0], l.items[len(l.items)-l.keep:]...)
	}
	if l.path != "" && l.pending == nil {
		l.pending = time.AfterFunc(saveDelay, l.Flush)
	}
}

// Recent returns the entries, newest first.
func (l *List[T]) Recent() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]T, len(l.items))
	for i, v := range l.items {
		out[len(l.items)-1-i] = v
	}
	return out
}

// Flush writes the file now if an entry is waiting to be saved (call it at shutdown).
func (l *List[T]) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		return
	}
	l.pending.Stop()
	l.pending = nil
	b, err := json.Marshal(l.items)
	if err == nil {
		err = atomicfile.Write(l.path, b, 0o600)
	}
	if err != nil {
		l.log.Warn("history not saved: a restart will not show the latest entries", "file", l.path, "err", err)
	}
}
