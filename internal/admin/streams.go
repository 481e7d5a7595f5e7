package admin

import (
	"bufio"
	"encoding/json"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/control"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/wcs"
)

// Event stream timing: the list is sent at once on any change of a stream, and every
// refreshEvery anyway (for the bitrate); a comment every keepAliveEvery keeps proxies from
// closing an idle stream.
var (
	refreshEvery   = 2 * time.Second
	keepAliveEvery = 15 * time.Second
)

// StreamRow is a stream as the dashboard lists it: the WCS stream object plus its bitrate.
type StreamRow struct {
	wcs.Stream
	Bitrate int64 `json:"bitrate"` // bits per second of media received, averaged since the last sample
}

// rates turns the registry's byte counters into bitrates.
type rates struct {
	mu   sync.Mutex
	last map[string]sample
}

type sample struct {
	bytes int64
	at    time.Time
	bps   int64
}

func newRates() *rates { return &rates{last: map[string]sample{}} }

// rows adds bitrates to snapshots. A counter is sampled again only after a second, so several
// viewers do not shorten each other's averaging window.
func (r *rates) rows(list []wcs.Stream) []StreamRow {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StreamRow, len(list))
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		seen[s.MediaSessionID] = true
		prev, ok := r.last[s.MediaSessionID]
		switch {
		case !ok:
			r.last[s.MediaSessionID] = sample{bytes: s.Bytes, at: now}
		case now.Sub(prev.at) >= time.Second:
			bps := int64(float64(s.Bytes-prev.bytes) * 8 / now.Sub(prev.at).Seconds())
			prev = sample{bytes: s.Bytes, at: now, bps: max(bps, 0)}
			r.last[s.MediaSessionID] = prev
		}
		out[i] = StreamRow{Stream: s, Bitrate: r.last[s.MediaSessionID].bps}
	}
	for id := range r.last {
		if !seen[id] {
			delete(r.last, id)
		}
	}
	return out
}

func (a *Admin) streamRows() []StreamRow { return a.rates.rows(wcs.Streams(a.cfg.Streams.Streams())) }

func (a *Admin) streams(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"streams": a.streamRows()})
}

// events is a Server-Sent Events stream of the stream list: an event "streams" with
// {"streams":[...]} at once, on every change, and every refreshEvery; and an event "recordings"
// whenever a file is finished (the library lists again).
func (a *Admin) events(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	changed := make(chan struct{}, 1)
	cancel := a.cfg.Streams.Watch(func(stream.Snapshot) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	finished, unsubscribe := a.finished.subscribe()
	done := a.done
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer unsubscribe()
		refresh := time.NewTicker(refreshEvery)
		defer refresh.Stop()
		keepAlive := time.NewTicker(keepAliveEvery)
		defer keepAlive.Stop()
		send := func() error {
			data, err := json.Marshal(fiber.Map{"streams": a.streamRows()})
			if err != nil {
				return err
			}
			w.WriteString("event: streams\ndata: ")
			w.Write(data)
			w.WriteString("\n\n")
			return w.Flush()
		}
		w.WriteString("retry: 2000\n")
		if send() != nil {
			return
		}
		for {
			var err error
			select {
			case <-done:
				return
			case <-changed:
				err = send()
			case <-finished:
				// The library page lists again: the file's name is all it needs.
				w.WriteString("event: recordings\ndata: {}\n\n")
				err = w.Flush()
			case <-refresh.C:
				err = send()
			case <-keepAlive.C:
				w.WriteString(": keep-alive\n\n")
				err = w.Flush()
			}
			if err != nil {
				return // the browser went away
			}
		}
	})
	return nil
}

type idBody struct {
	MediaSessionID string `json:"mediaSessionId"`
}

// target finds the stream a call names, or answers the error itself (s == nil).
func (a *Admin) target(c *fiber.Ctx) (*stream.Stream, error) {
	var body idBody
	if err := bind(c, &body); err != nil {
		return nil, failWith(c, control.Invalid(err))
	}
	s, err := a.cfg.Streams.Find(body.MediaSessionID)
	if err != nil {
		return nil, failWith(c, err)
	}
	return s, nil
}

// failWith answers with the dashboard's JSON error of err, its status decided by
// control.HTTPStatus.
func failWith(c *fiber.Ctx, err error) error {
	return fail(c, control.HTTPStatus(err), err.Error())
}

// startRecording records a stream on demand, exactly as REST /stream/startRecording does.
func (a *Admin) startRecording(c *fiber.Ctx) error {
	s, err := a.target(c)
	if s == nil {
		return err
	}
	if err := a.cfg.Streams.StartRecording(s, recording.Options{}); err != nil {
		return failWith(c, err)
	}
	s.Log().Info("recording started from the dashboard", "ip", c.IP())
	return c.JSON(wcs.StreamOf(s.Snapshot()))
}

func (a *Admin) stopRecording(c *fiber.Ctx) error {
	s, err := a.target(c)
	if s == nil {
		return err
	}
	names, err := a.cfg.Streams.StopRecording(s)
	if err != nil {
		status := control.HTTPStatus(err)
		return c.Status(status).JSON(fiber.Map{"status": status, "message": err.Error(), "files": names})
	}
	s.Log().Info("recording stopped from the dashboard", "ip", c.IP())
	return c.JSON(fiber.Map{"mediaSessionId": s.ID().MediaSessionID, "files": names})
}

func (a *Admin) terminate(c *fiber.Ctx) error {
	s, err := a.target(c)
	if s == nil {
		return err
	}
	s.Log().Info("stream terminated from the dashboard", "ip", c.IP())
	a.cfg.Streams.Terminate(s)
	return c.JSON(wcs.StreamOf(s.Snapshot()))
}

// notifier wakes every subscriber when a file is finished; a subscriber that has not yet
// taken the last wake-up misses nothing (one pending wake-up stands for any number).
type notifier struct {
	mu   sync.Mutex
	subs map[chan struct{}]bool
}

func newNotifier() *notifier { return &notifier{subs: map[chan struct{}]bool{}} }

func (n *notifier) notify(string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (n *notifier) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	n.subs[ch] = true
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs, ch)
		n.mu.Unlock()
	}
}
