package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an HTTP endpoint that fails the first fails requests, then takes every event.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []Event
	sigs   []string
	calls  atomic.Int32
}

func newReceiver(t *testing.T, fails int32) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.calls.Add(1) <= fails {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(req.Body)
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		r.mu.Lock()
		r.events = append(r.events, ev)
		if got, want := req.Header.Get(Signature), Sign("s3cret", body); got != want {
			r.sigs = append(r.sigs, got)
		}
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestDeliversSignedInOrderWithRetries(t *testing.T) {
	r := newReceiver(t, 2)
	s := New(Config{Target: func() (string, string) { return r.URL + "/hook?token=abc", "s3cret" }, Backoff: time.Millisecond})
	defer s.Close(time.Second)
	s.Send(Event{Event: RecordingStarted, StreamName: "a"})
	s.Send(Event{Event: FileFinished, StreamName: "a", File: &File{Name: "a.mp4", Size: 10}})
	waitFor(t, "two events", func() bool { return len(r.got()) == 2 })
	ev := r.got()
	if ev[0].Event != RecordingStarted || ev[1].Event != FileFinished || ev[1].File.Name != "a.mp4" || ev[0].ID == "" || ev[0].ID == ev[1].ID {
		t.Errorf("events %+v", ev)
	}
	if len(r.sigs) > 0 {
		t.Errorf("bad signatures %v", r.sigs)
	}
	waitFor(t, "two deliveries", func() bool { return len(s.Recent()) == 2 })
	d := s.Recent()
	if d[1].Attempts != 3 || !d[1].OK() || d[0].Attempts != 1 || strings.Contains(d[0].URL, "token") {
		t.Errorf("deliveries %+v", d)
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	r := newReceiver(t, 1000)
	s := New(Config{Target: func() (string, string) { return r.URL, "" }, Backoff: time.Millisecond})
	defer s.Close(time.Second)
	s.Send(Event{Event: RecordingFailed, StreamName: "x", Reason: "disk full"})
	waitFor(t, "the delivery to fail", func() bool { return len(s.Recent()) == 1 })
	d := s.Recent()[0]
	if d.OK() || d.Attempts != Attempts || d.Status != 503 || int(r.calls.Load()) != Attempts {
		t.Errorf("delivery %+v after %d calls", d, r.calls.Load())
	}
}

func TestOffAndBounded(t *testing.T) {
	s := New(Config{Target: func() (string, string) { return "", "" }})
	s.Send(Event{Event: FileFinished})
	s.Close(time.Second)
	if len(s.Recent()) != 0 {
		t.Error("delivered with no URL")
	}
	s.Send(Event{Event: FileFinished}) // after Close: dropped, no panic
	s.Close(time.Second)               // again: nothing, no panic

	// A receiver that never answers in time: the queue holds QueueSize and drops the rest.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	s = New(Config{Target: func() (string, string) { return slow.URL, "" }, Backoff: time.Hour})
	for range QueueSize + 50 {
		s.Send(Event{Event: FileFinished})
	}
	if n := len(s.queue); n < QueueSize-1 || s.dropped < 49 {
		t.Errorf("queued %d, dropped %d", n, s.dropped)
	}
	s.Close(10 * time.Millisecond)
}
