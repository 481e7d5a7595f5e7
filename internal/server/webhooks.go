package server

import (
	"net/url"
	"path/filepath"
	"time"

	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webhook"
)

// webhookShutdownWait bounds how long Close waits for webhook events still queued.
const webhookShutdownWait = 10 * time.Second

// newWebhooks makes the sender of on_record_webhook_url events; the URL and secret are read at
// each event, so an edit of the settings applies to the next one.
func (s *Server) newWebhooks() *webhook.Sender {
	return webhook.New(webhook.Config{
		Target: func() (string, string) {
			st := s.Settings.Current()
			return st.WebhookURL, st.WebhookSecret
		},
		Log:     s.log.With("component", "webhook"),
		History: filepath.Join(s.Home, "conf", "webhook_deliveries.json"),
		// s.Metrics is made after the sender; events come only once the server runs.
		OnDelivery: func(d webhook.Delivery) { s.Metrics.WebhookDelivery(d) },
		OnDrop:     func(ev webhook.Event) { s.Metrics.WebhookDropped(ev) },
	})
}

// recordingStarted and recordingNotStarted are recording's OnStart and OnStartFailed.
func (s *Server) recordingStarted(id stream.Identity, file string) {
	s.Webhooks.Send(s.event(webhook.RecordingStarted, id.Name, id.MediaSessionID, &webhook.File{Name: file, URL: fileURL(file)}))
}

func (s *Server) recordingNotStarted(id stream.Identity, err error) {
	ev := s.event(webhook.RecordingFailed, id.Name, id.MediaSessionID, nil)
	ev.Reason = err.Error()
	s.Webhooks.Send(ev)
}

// fileFinished announces every finished file (records.Store.OnFinished); a file cut short by a
// write error also ends its recording: recording_failed follows, with the reason.
func (s *Server) fileFinished(f records.File) {
	wf := webFile(f)
	ev := s.event(webhook.FileFinished, f.StreamName, f.MediaSessionID, wf)
	if f.Recovered {
		ev.Reason = f.Err // what the crash left, and what recovery did
	}
	s.Webhooks.Send(ev)
	if f.Err != "" && !f.Recovered {
		failed := s.event(webhook.RecordingFailed, f.StreamName, f.MediaSessionID, wf)
		failed.Reason = f.Err
		s.Webhooks.Send(failed)
	}
}

// fileUploaded announces a verified upload (upload.Config.OnUploaded).
func (s *Server) fileUploaded(f records.File, bucket, key string) {
	ev := s.event(webhook.FileUploaded, f.StreamName, f.MediaSessionID, webFile(f))
	ev.Object = &webhook.Object{Bucket: bucket, Key: key}
	s.Webhooks.Send(ev)
}

func (s *Server) event(kind, streamName, mediaSessionID string, f *webhook.File) webhook.Event {
	return webhook.Event{Event: kind, Node: s.Settings.Current().Node(), StreamName: streamName, MediaSessionID: mediaSessionID, File: f}
}

// webFile is what an event says of a file.
func webFile(f records.File) *webhook.File {
	return &webhook.File{Name: f.Name, Path: f.Path, URL: fileURL(f.Name), Size: f.Size,
		DurationMS: f.Duration.Milliseconds(), Codecs: f.Codecs, Part: f.Part, Start: f.Start, Recovered: f.Recovered}
}

// fileURL is where the server's HTTP ports serve a recording.
func fileURL(name string) string { return "/client/records/" + url.PathEscape(name) }
