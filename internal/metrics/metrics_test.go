package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/streamrec/streamrec/internal/hook"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webhook"
)

func newTest(t *testing.T) (*Metrics, *stream.Registry) {
	t.Helper()
	reg := stream.New(stream.Config{})
	t.Cleanup(reg.Close)
	return New(Config{Version: "test", Streams: reg, RecordsDir: t.TempDir()}), reg
}

func publish(t *testing.T, reg *stream.Registry, name, provider string) *stream.Stream {
	t.Helper()
	s, err := reg.Create(stream.Identity{Name: name, Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	s.Publish([]media.Track{{Kind: media.Video, Codec: media.H264}})
	return s
}

// The streams are counted at the scrape from the registry: by protocol and status, every
// protocol present at 0; a stream that ended leaves the gauges, its bytes stay in the counter.
func TestStreamsFromTheRegistry(t *testing.T) {
	m, reg := newTest(t)
	a := publish(t, reg, "a", stream.ProviderRTMP)
	publish(t, reg, "b", stream.ProviderRTMP)
	if _, err := reg.Create(stream.Identity{Name: "c", Provider: stream.ProviderRTSP}); err != nil { // pending
		t.Fatal(err)
	}
	a.WriteFrame(media.Frame{Track: 0, Key: true, Data: make([]byte, 1000)})
	want := `
# HELP streamrec_streams Streams listed now, by protocol and status (pending: tracks not known yet; publishing).
# TYPE streamrec_streams gauge
streamrec_streams{protocol="rtmp",status="pending"} 0
streamrec_streams{protocol="rtmp",status="publishing"} 2
streamrec_streams{protocol="rtsp",status="pending"} 1
streamrec_streams{protocol="rtsp",status="publishing"} 0
streamrec_streams{protocol="webrtc",status="pending"} 0
streamrec_streams{protocol="webrtc",status="publishing"} 0
# HELP streamrec_publishers_connected Publishers connected now (streams pending or publishing; a pulled RTSP camera counts as one), by protocol.
# TYPE streamrec_publishers_connected gauge
streamrec_publishers_connected{protocol="rtmp"} 2
streamrec_publishers_connected{protocol="rtsp"} 1
streamrec_publishers_connected{protocol="webrtc"} 0
# HELP streamrec_ingest_bytes_total Media bytes received from publishers (frame payloads), by protocol.
# TYPE streamrec_ingest_bytes_total counter
streamrec_ingest_bytes_total{protocol="rtmp"} 1000
streamrec_ingest_bytes_total{protocol="rtsp"} 0
streamrec_ingest_bytes_total{protocol="webrtc"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"streamrec_streams", "streamrec_publishers_connected", "streamrec_ingest_bytes_total"); err != nil {
		t.Error(err)
	}
	a.Unpublish()
	want = `
# HELP streamrec_ingest_bytes_total Media bytes received from publishers (frame payloads), by protocol.
# TYPE streamrec_ingest_bytes_total counter
streamrec_ingest_bytes_total{protocol="rtmp"} 1000
streamrec_ingest_bytes_total{protocol="rtsp"} 0
streamrec_ingest_bytes_total{protocol="webrtc"} 0
# HELP streamrec_publishers_connected Publishers connected now (streams pending or publishing; a pulled RTSP camera counts as one), by protocol.
# TYPE streamrec_publishers_connected gauge
streamrec_publishers_connected{protocol="rtmp"} 1
streamrec_publishers_connected{protocol="rtsp"} 1
streamrec_publishers_connected{protocol="webrtc"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"streamrec_publishers_connected", "streamrec_ingest_bytes_total"); err != nil {
		t.Errorf("after the stream ended: %v", err)
	}
}

// Finished files are counted by result, hook runs by result with their durations, webhook
// events by outcome; every result is exported from the start.
func TestFilesAndHooks(t *testing.T) {
	m, _ := newTest(t)
	m.FileFinished(records.File{Name: "a.mp4"})
	m.FileFinished(records.File{Name: "b.mp4"})
	m.FileFinished(records.File{Name: "c.mp4", Err: "write c.mp4: no space left on device"})
	m.FileFinished(records.File{Name: "d.mp4", Err: "recovered after a crash", Recovered: true})
	m.HookRun(hook.Run{ExitCode: 0, Took: 20 * time.Millisecond})
	m.HookRun(hook.Run{ExitCode: 1, Error: "exit code 1", Took: 2 * time.Second})
	m.HookRun(hook.Run{ExitCode: -1, Error: "killed after the 30s timeout", TimedOut: true, Took: 30 * time.Second})
	m.HookRun(hook.Run{ExitCode: -1, Error: "does not exist"}) // never started: no duration
	m.HookDropped(hook.Job{})
	m.WebhookDelivery(webhook.Delivery{Attempts: 3})
	m.WebhookDelivery(webhook.Delivery{Attempts: 8, Error: "HTTP 500"})
	m.WebhookDropped(webhook.Event{})
	m.WebhookDropped(webhook.Event{})
	want := `
# HELP streamrec_files_finished_total Recording files finished, by result: complete, write_error (cut short, plays up to its last fragment), recovered (after a crash).
# TYPE streamrec_files_finished_total counter
streamrec_files_finished_total{result="complete"} 2
streamrec_files_finished_total{result="recovered"} 1
streamrec_files_finished_total{result="write_error"} 1
# HELP streamrec_hook_runs_total Runs of on_record_hook_script, by result: ok, failed, timeout, dropped (never run).
# TYPE streamrec_hook_runs_total counter
streamrec_hook_runs_total{result="dropped"} 1
streamrec_hook_runs_total{result="failed"} 2
streamrec_hook_runs_total{result="ok"} 1
streamrec_hook_runs_total{result="timeout"} 1
# HELP streamrec_webhook_events_total Events for on_record_webhook_url, by result: delivered (2xx), failed (given up after every attempt), dropped (the queue was full).
# TYPE streamrec_webhook_events_total counter
streamrec_webhook_events_total{result="delivered"} 1
streamrec_webhook_events_total{result="dropped"} 2
streamrec_webhook_events_total{result="failed"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"streamrec_files_finished_total", "streamrec_hook_runs_total", "streamrec_webhook_events_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.hookDur); n != 1 {
		t.Fatalf("%d histograms", n)
	}
	if got := testutil.ToFloat64(m.files.WithLabelValues(FileComplete)); got != 2 {
		t.Errorf("complete files %v", got)
	}
	text := scrape(t, m)
	for _, line := range []string{
		`streamrec_hook_duration_seconds_count 3`,
		`streamrec_hook_duration_seconds_sum 32.02`,
		`streamrec_hook_duration_seconds_bucket{le="0.05"} 1`,
		`streamrec_hook_duration_seconds_bucket{le="5"} 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
}

// An upload queue plugs its figures in later; until then no upload metric is exported.
func TestUploadsPlugIn(t *testing.T) {
	m, _ := newTest(t)
	if strings.Contains(scrape(t, m), "streamrec_upload") {
		t.Fatal("upload metrics exported before an uploader is plugged in")
	}
	m.SetUploads(fakeUploads{Queued: 3, Uploading: 1, Bytes: 4096, Results: map[string]uint64{"uploaded": 7, "failed": 2}})
	want := `
# HELP streamrec_upload_files_total Files whose upload to object storage ended, by result.
# TYPE streamrec_upload_files_total counter
streamrec_upload_files_total{result="failed"} 2
streamrec_upload_files_total{result="uploaded"} 7
# HELP streamrec_upload_queue_files Finished files waiting to be uploaded to object storage.
# TYPE streamrec_upload_queue_files gauge
streamrec_upload_queue_files 3
# HELP streamrec_upload_bytes_total Bytes uploaded to object storage and verified.
# TYPE streamrec_upload_bytes_total counter
streamrec_upload_bytes_total 4096
# HELP streamrec_upload_in_progress_files Files being uploaded to object storage now.
# TYPE streamrec_upload_in_progress_files gauge
streamrec_upload_in_progress_files 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"streamrec_upload_files_total", "streamrec_upload_queue_files", "streamrec_upload_bytes_total", "streamrec_upload_in_progress_files"); err != nil {
		t.Error(err)
	}
}

type fakeUploads UploadFigures

func (f fakeUploads) UploadFigures() UploadFigures { return UploadFigures(f) }

// Every metric follows Prometheus's naming rules (promlint: units as suffixes, _total on
// counters), and the scrape carries the Go runtime's and the process's own metrics and the
// records disk's free space.
func TestNamesAndScrape(t *testing.T) {
	m, reg := newTest(t)
	publish(t, reg, "a", stream.ProviderWebRTC)
	m.SetUploads(fakeUploads{Results: map[string]uint64{"uploaded": 1}})
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	text := scrape(t, m)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "streamrec_records_disk_free_bytes",
		"streamrec_records_disk_size_bytes", "streamrec_recorder_frames_written_total", "streamrec_recorder_frames_dropped_total",
		"streamrec_recorder_written_bytes_total", "streamrec_recorder_queue_frames", "streamrec_audio_transcode_cpu_seconds_total",
		`streamrec_recordings_in_progress{protocol="webrtc"} 0`, `streamrec_build_info{version="test"} 1`} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}
	if strings.Contains(text, "streamrec_records_disk_free_bytes -1") {
		t.Error("free space of a temp folder unknown")
	}
}

// scrape GETs the handler and returns the text.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}
