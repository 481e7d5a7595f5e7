// Package lograte decides which repeated events get a log line: at most one per key (a source
// address) per interval, so that a flood of refusals is logged, never silently, yet cannot
// flood the log.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets one event per key through per interval. It remembers at most max keys: when
// full it forgets the keys whose interval is over, and if none is, all of them (a flood from
// that many addresses then gets a line per address again, which stays bounded by max).
type Limiter struct {
	every time.Duration
	max   int

	mu     sync.Mutex
	last   map[string]time.Time
	hidden map[string]int // events not logged since the last line, by key
}

// New returns a limiter of one event per key per every, remembering at most max keys.
func New(every time.Duration, max int) *Limiter {
	return &Limiter{every: every, max: max, last: map[string]time.Time{}, hidden: map[string]int{}}
}

// Allow reports whether an event for key may be logged now, and how many events of that key
// were kept quiet since its last line (to put in the line).
func (l *Limiter) Allow(key string) (ok bool, hidden int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, seen := l.last[key]; seen && now.Sub(t) < l.every {
		l.hidden[key]++
		return false, 0
	}
	if len(l.last) >= l.max {
		l.forget(now)
	}
	hidden = l.hidden[key]
	delete(l.hidden, key)
	l.last[key] = now
	return true, hidden
}

// forget drops the keys whose interval is over, or every key when none is.
func (l *Limiter) forget(now time.Time) {
	for k, t := range l.last {
		if now.Sub(t) >= l.every {
			delete(l.last, k)
			delete(l.hidden, k)
		}
	}
	if len(l.last) >= l.max {
		clear(l.last)
		clear(l.hidden)
	}
}
