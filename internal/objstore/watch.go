package objstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// watchdog ends an upload whose body stops moving: minio-go reads Progress as the transport
// takes the body's bytes, so no read for the limit means the store (or the way to it) stalled.
type watchdog struct {
	ctx     context.Context
	cancel  context.CancelFunc
	limit   time.Duration
	last    atomic.Int64 // unix nanoseconds of the last progress
	stalled atomic.Bool
	done    chan struct{}
}

func watch(parent context.Context, limit time.Duration) *watchdog {
	w := &watchdog{limit: limit, done: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(parent)
	w.last.Store(time.Now().UnixNano())
	go w.run()
	return w
}

// Read is the progress hook: it only notes that bytes moved.
func (w *watchdog) Read(b []byte) (int, error) {
	w.last.Store(time.Now().UnixNano())
	return len(b), nil
}

func (w *watchdog) run() {
	t := time.NewTicker(w.limit / 4)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-w.ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, w.last.Load())) > w.limit {
				w.stalled.Store(true)
				w.cancel()
				return
			}
		}
	}
}

func (w *watchdog) stop() {
	close(w.done)
	w.cancel()
}

// explain says that a stall ended the attempt, when it did.
func (w *watchdog) explain(err error) error {
	if w.stalled.Load() {
		return fmt.Errorf("the store stopped taking the upload for %s: %w", w.limit, err)
	}
	return err
}
