package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/webhook"
)

// hookReceiver is the other system: it refuses its first requests (503), then takes every
// event, checking each signature.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []webhook.Event
	tries  map[string]int // delivery ID → requests seen
	bad    int            // requests with a wrong signature
}

func newHookReceiver(t *testing.T, secret string, refuse int) *hookReceiver {
	h := &hookReceiver{tries: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get(webhook.Signature) != webhook.Sign(secret, body) {
			h.bad++
		}
		id := r.Header.Get("X-Streamrec-Delivery")
		h.tries[id]++
		if refuse > 0 {
			refuse--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id || r.Header.Get("X-Streamrec-Event") != ev.Event {
			t.Errorf("event %s (%v), headers %v", body, err, r.Header)
		}
		h.events = append(h.events, ev)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) wait(t *testing.T, n int) []webhook.Event {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		h.mu.Lock()
		got := append([]webhook.Event(nil), h.events...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhook events within 20 s, want %d: %+v", len(got), n, got)
		}
	}
}

// TestWebhooks records an RTMP stream in 2 s parts with a receiver that refuses the first two
// requests: it gets recording_started and a file_finished for every part, in order, each signed,
// the first one after two retries; a stream whose codec the settings do not record gives
// recording_failed with the reason. The dashboard's list shows the deliveries.
func TestWebhooks(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	const secret = "hook-s3cret"
	h := newHookReceiver(t, secret, 2)
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName",
		"record_rotation": "2", "on_record_webhook_url": h.URL + "/events?token=t0k3n", "on_record_webhook_secret": secret,
		"node_name": "node-7"})
	src := st.Make(t, st.Source{Seconds: 5, FPS: 25, GOP: 25, SampleRate: 44100})
	if out, err := st.Publish(t, src, e.RTMP+"/cam").Wait(time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("cam", 10*time.Second)
	parts := e.RecordFiles()
	evs := h.wait(t, 1+len(parts))
	if evs[0].Event != webhook.RecordingStarted || evs[0].StreamName != "cam" || evs[0].Node != "node-7" || evs[0].MediaSessionID == "" {
		t.Errorf("first event %+v", evs[0])
	}
	for i, ev := range evs[1:] {
		f := ev.File
		if ev.Event != webhook.FileFinished || f == nil || f.Part != i+1 || f.Size <= 0 || f.DurationMS < 500 ||
			f.Codecs != "h264,aac" || f.URL != "/client/records/"+f.Name || f.Path == "" || ev.MediaSessionID != evs[0].MediaSessionID {
			t.Errorf("event %d: %+v file %+v", i+1, ev, f)
		}
	}
	h.mu.Lock()
	if h.bad != 0 || h.tries[evs[0].ID] != 3 {
		t.Errorf("%d bad signatures; first event tried %d times, want 3", h.bad, h.tries[evs[0].ID])
	}
	h.mu.Unlock()

	// A codec the settings do not record: the recording cannot start.
	if err := e.Server.Settings.Update(map[string]string{"record_formats": "vp8-webm"}); err != nil {
		t.Fatal(err)
	}
	if out, err := st.Publish(t, src, e.RTMP+"/nope").Wait(time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	evs = h.wait(t, 2+len(parts))
	last := evs[len(evs)-1]
	if last.Event != webhook.RecordingFailed || last.StreamName != "nope" || last.Reason == "" {
		t.Errorf("last event %+v", last)
	}
	d := e.Server.Webhooks.Recent()
	if len(d) != len(evs) || d[0].Event != webhook.RecordingFailed || d[len(d)-1].Attempts != 3 || d[0].URL != h.URL+"/events" {
		t.Errorf("deliveries %+v", d)
	}
	// The metrics count every event delivered (the first after its retries), none failed.
	m := scrapeMetrics(t, e, "")
	if got, failed := m.value(t, `streamrec_webhook_events_total{result="delivered"}`), m.value(t, `streamrec_webhook_events_total{result="failed"}`); got != float64(len(evs)) || failed != 0 {
		t.Errorf("metrics: %v webhook events delivered, %v failed; want %d and 0", got, failed, len(evs))
	}
}
