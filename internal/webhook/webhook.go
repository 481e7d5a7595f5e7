// Package webhook tells another system what the recorder did: an HTTP POST with a JSON body
// for each event (a recording started, a file finished, a recording failed, a file uploaded),
// signed when a secret is set, retried with backoff, from a bounded queue that never holds a
// recording up.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/streamrec/streamrec/internal/history"
)

// The events.
const (
	RecordingStarted = "recording_started"
	FileFinished     = "file_finished"
	RecordingFailed  = "recording_failed"
	FileUploaded     = "file_uploaded"
)

// Bounds (README, "Webhooks").
const (
	// QueueSize bounds the events waiting for delivery; past it new events are dropped (and
	// logged), so a receiver that is down for hours costs a bounded amount of memory.
	QueueSize = 1000
	// Attempts bounds the tries of one event: 1 s, 2 s, 4 s … between them, at most MaxBackoff.
	Attempts   = 8
	MaxBackoff = time.Minute
	// Timeout bounds one request, connection to last byte of the answer.
	Timeout = 10 * time.Second
	// keep is how many deliveries Recent remembers.
	keep = 100
)

// Signature is the header carrying the HMAC-SHA256 of the body, keyed with the secret, as
// "sha256=HEX" (the same scheme as GitHub's X-Hub-Signature-256).
const Signature = "X-Streamrec-Signature-256"

// Event is one event's body.
type Event struct {
	Event          string    `json:"event"`
	ID             string    `json:"id"` // unique per event, the same on every retry: receivers drop repeats by it
	Time           time.Time `json:"time"`
	Node           string    `json:"node"`
	StreamName     string    `json:"streamName"`
	MediaSessionID string    `json:"mediaSessionId"`
	File           *File     `json:"file,omitempty"`
	Reason         string    `json:"reason,omitempty"` // recording_failed: why
	Object         *Object   `json:"object,omitempty"` // file_uploaded: where
}

// File is the file an event is about.
type File struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	URL        string    `json:"url"` // path on the server's HTTP ports: /client/records/NAME
	Size       int64     `json:"size"`
	DurationMS int64     `json:"durationMs"`
	Codecs     string    `json:"codecs,omitempty"`
	Part       int       `json:"part"`
	Start      time.Time `json:"start,omitzero"`
	Recovered  bool      `json:"recovered,omitempty"`
}

// Object is where an uploaded file went.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// Delivery is the outcome of one event, as the dashboard lists it.
type Delivery struct {
	Event    string    `json:"event"`
	ID       string    `json:"id"`
	Stream   string    `json:"stream"`
	File     string    `json:"file,omitempty"`
	URL      string    `json:"url"` // without credentials or query
	Time     time.Time `json:"time"`
	Attempts int       `json:"attempts"`
	Status   int       `json:"status"` // the last HTTP status, 0 when none came
	Error    string    `json:"error,omitempty"`
	Took     float64   `json:"took"` // seconds, first try to outcome
}

// OK tells whether the receiver took the event (a 2xx answer).
func (d Delivery) OK() bool { return d.Error == "" }

// Config wires a Sender.
type Config struct {
	// Target gives the URL ("" = webhooks off) and secret ("" = unsigned) in effect now, so an
	// edit of the settings applies to the next event.
	Target func() (url, secret string)
	Log    *slog.Logger
	Client *http.Client // nil: one with Timeout
	// Backoff is the first wait between attempts (doubling); 0 = 1 s. Tests shorten it.
	Backoff time.Duration
	// History is the file the deliveries are kept in across restarts; "" = memory only.
	History string
	// OnDelivery, when set, hears of every event's outcome, delivered or given up (the server's
	// metrics); OnDrop of every event the full queue dropped. Neither may block.
	OnDelivery func(Delivery)
	OnDrop     func(Event)
}

// Sender delivers events in the order they came, one at a time.
type Sender struct {
	cfg   Config
	queue chan job
	ctx   context.Context // ended by Close after its wait: requests and retries stop
	stop  context.CancelFunc
	done  chan struct{}

	mu      sync.Mutex
	recent  *history.List[Delivery]
	dropped int  // events dropped since the last drop was logged
	closed  bool // Send drops what comes after Close
}

type job struct {
	ev  Event
	url string
	sec string
}

// New starts a sender.
func New(cfg Config) *Sender {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not a place to re-send the body to
		}}
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Second
	}
	s := &Sender{cfg: cfg, queue: make(chan job, QueueSize), done: make(chan struct{}), recent: history.Open[Delivery](cfg.History, keep, cfg.Log)}
	s.ctx, s.stop = context.WithCancel(context.Background())
	go s.work()
	return s
}

// Send queues ev for delivery when a URL is set; it never blocks. It fills in ID and Time.
func (s *Sender) Send(ev Event) {
	target, secret := s.cfg.Target()
	if target == "" {
		return
	}
	ev.ID = uuid.NewString()
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.queue <- job{ev: ev, url: target, sec: secret}:
	default:
		s.dropped++
		if s.cfg.OnDrop != nil {
			s.cfg.OnDrop(ev)
		}
		if s.dropped == 1 { // once per burst: the next delivered event logs how many went
			s.cfg.Log.Error("webhook queue full: events dropped", "event", ev.Event, "stream", ev.StreamName, "queue", QueueSize)
		}
	}
}

// Recent returns the latest deliveries, newest first.
func (s *Sender) Recent() []Delivery { return s.recent.Recent() }

// Close stops the sender; events still queued or being retried after wait are given up (and
// logged as such). A second Close does nothing (Server.Close may run twice).
func (s *Sender) Close(wait time.Duration) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(wait):
		s.stop()
		<-s.done
	}
	s.stop()
	s.recent.Flush()
}

func (s *Sender) work() {
	defer close(s.done)
	given := 0
	for j := range s.queue {
		if s.ctx.Err() != nil {
			given++ // shut down: the rest of the queue is not tried
			continue
		}
		s.deliver(j)
	}
	if given > 0 {
		s.cfg.Log.Error("webhook events given up at shutdown", "events", given)
	}
}

// deliver tries one event until the receiver takes it, Attempts are spent, or Close gives up.
func (s *Sender) deliver(j job) {
	body, _ := json.Marshal(j.ev)
	d := Delivery{Event: j.ev.Event, ID: j.ev.ID, Stream: j.ev.StreamName, URL: Redact(j.url), Time: j.ev.Time}
	if j.ev.File != nil {
		d.File = j.ev.File.Name
	}
	began := time.Now()
	wait := s.cfg.Backoff
	for d.Attempts = 1; ; d.Attempts++ {
		d.Status, d.Error = s.post(j, body)
		if d.Error == "" || d.Attempts == Attempts {
			break
		}
		// Jittered, so that several servers retrying one receiver do not come back together.
		pause := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(pause):
		case <-s.ctx.Done():
			d.Error += " (given up at shutdown)"
			s.finish(d, began)
			return
		}
		wait = min(2*wait, MaxBackoff)
	}
	s.finish(d, began)
}

func (s *Sender) finish(d Delivery, began time.Time) {
	d.Took = time.Since(began).Seconds()
	if s.cfg.OnDelivery != nil {
		s.cfg.OnDelivery(d)
	}
	s.recent.Add(d)
	s.mu.Lock()
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	log := s.cfg.Log.With("event", d.Event, "id", d.ID, "stream", d.Stream, "url", d.URL, "attempts", d.Attempts, "status", d.Status)
	if dropped > 0 {
		log = log.With("droppedBefore", dropped)
	}
	if d.OK() {
		log.Info("webhook delivered", "took", time.Duration(d.Took*float64(time.Second)).Round(time.Millisecond))
	} else {
		log.Error("webhook not delivered", "err", d.Error)
	}
}

// post sends the body once and says how it went: a 2xx is delivered, anything else is retried.
func (s *Sender) post(j job, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(s.ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(body))
	if err != nil {
		return 0, "bad URL: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "streamrec")
	req.Header.Set("X-Streamrec-Event", j.ev.Event)
	req.Header.Set("X-Streamrec-Delivery", j.ev.ID)
	if j.sec != "" {
		req.Header.Set(Signature, Sign(j.sec, body))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the URL may carry a token: the error names it once, without it
		}
		return 0, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // the answer is not read; bound what is drained
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Sprintf("the receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// Sign is the Signature header's value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Redact drops what a URL may carry of credentials (user info, query) for logs and pages.
func Redact(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
