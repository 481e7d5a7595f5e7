// Package metrics exports the server's figures in the Prometheus text format (GET /metrics).
// Most are read from the state the server keeps anyway, at scrape time: the stream registry
// (streams, publishers, recordings, queues, ingest bytes), the recorders' running totals
// (recorder.Stats) and the records disk. Only what leaves no state behind is counted as it
// happens: finished files and hook runs. It has its own registry, never the process-wide
// default, so two servers in one process (the tests) do not mix their figures.
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamrec/streamrec/internal/hook"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webhook"
)

const namespace = "streamrec"

// Scrapes are bounded: at most maxScrapes answered at once (more get 503), each within scrapeTimeout.
const (
	maxScrapes    = 4
	scrapeTimeout = 10 * time.Second
)

// File results, the label of streamrec_files_finished_total.
const (
	FileComplete   = "complete"    // finished cleanly
	FileWriteError = "write_error" // cut short by a write error (a full disk): it plays up to its last fragment
	FileRecovered  = "recovered"   // left open by a crash, finished at the next start
)

// Hook results, the label of streamrec_hook_runs_total.
const (
	HookOK      = "ok"      // exit code 0
	HookFailed  = "failed"  // a non-zero exit, the script could not start, or it was killed at shutdown
	HookTimeout = "timeout" // killed after on_record_hook_timeout
	HookDropped = "dropped" // never run: the queue was full or the server was shutting down
)

// Webhook results, the label of streamrec_webhook_events_total.
const (
	WebhookDelivered = "delivered" // the receiver answered 2xx
	WebhookFailed    = "failed"    // given up after every attempt, or at shutdown
	WebhookDropped   = "dropped"   // never sent: the queue was full
)

// Config names what the metrics read.
type Config struct {
	Version    string
	Streams    *stream.Registry
	Recorders  *recorder.Stats // the recorders' running totals
	RecordsDir string          // the records folder, whose file system's free space is exported
}

// Metrics holds a server's metrics. Safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	files   *prometheus.CounterVec
	hooks   *prometheus.CounterVec
	hookDur prometheus.Histogram
	webhook *prometheus.CounterVec
	uploads atomic.Pointer[uploadSource]
}

// New registers every metric of a server in a registry of its own, with the Go runtime's and
// the process's (CPU seconds, memory, open files).
func New(cfg Config) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.files = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "files_finished_total",
		Help: "Recording files finished, by result: complete, write_error (cut short, plays up to its last fragment), recovered (after a crash)."},
		[]string{"result"})
	m.hooks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "hook_runs_total",
		Help: "Runs of on_record_hook_script, by result: ok, failed, timeout, dropped (never run)."},
		[]string{"result"})
	m.hookDur = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "hook_duration_seconds",
		Help:    "How long on_record_hook_script ran.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}})
	m.webhook = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "webhook_events_total",
		Help: "Events for on_record_webhook_url, by result: delivered (2xx), failed (given up after every attempt), dropped (the queue was full)."},
		[]string{"result"})
	for _, r := range []string{WebhookDelivered, WebhookFailed, WebhookDropped} {
		m.webhook.WithLabelValues(r)
	}
	for _, r := range []string{FileComplete, FileWriteError, FileRecovered} {
		m.files.WithLabelValues(r) // every result is exported from the start, at 0
	}
	for _, r := range []string{HookOK, HookFailed, HookTimeout, HookDropped} {
		m.hooks.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.files, m.hooks, m.hookDur, m.webhook,
		newStreamCollector(cfg.Streams),
		&uploadCollector{m: m},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
			Help: "Always 1; the label is the server's version.", ConstLabels: prometheus.Labels{"version": cfg.Version}},
			func() float64 { return 1 }),
	)
	registerRecorders(m.reg, cfg.Recorders)
	registerDisk(m.reg, cfg.RecordsDir)
	return m
}

// Registry is where the metrics are registered, for tests (testutil) and for another part of
// the server to add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler answers a scrape in the Prometheus text format. It does not check the token: the
// server's route does (metrics_token).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
		ErrorHandling:       promhttp.ContinueOnError, // one failing collector leaves the others
	})
}

// FileFinished counts a finished recording file by its result.
func (m *Metrics) FileFinished(f records.File) {
	m.files.WithLabelValues(FileResult(f)).Inc()
}

// FileResult is the result label of a finished file.
func FileResult(f records.File) string {
	switch {
	case f.Recovered:
		return FileRecovered
	case f.Err != "":
		return FileWriteError
	}
	return FileComplete
}

// HookRun counts a finished run of the hook and its duration (hook.Config.OnRun).
func (m *Metrics) HookRun(r hook.Run) {
	result := HookOK
	switch {
	case r.TimedOut:
		result = HookTimeout
	case !r.OK():
		result = HookFailed
	}
	m.hooks.WithLabelValues(result).Inc()
	if r.Took > 0 {
		m.hookDur.Observe(r.Took.Seconds())
	}
}

// HookDropped counts a hook that was never run (hook.Config.OnDrop).
func (m *Metrics) HookDropped(hook.Job) { m.hooks.WithLabelValues(HookDropped).Inc() }

// WebhookDelivery counts an event's outcome (webhook.Config.OnDelivery).
func (m *Metrics) WebhookDelivery(d webhook.Delivery) {
	result := WebhookDelivered
	if !d.OK() {
		result = WebhookFailed
	}
	m.webhook.WithLabelValues(result).Inc()
}

// WebhookDropped counts an event the full queue dropped (webhook.Config.OnDrop).
func (m *Metrics) WebhookDropped(webhook.Event) { m.webhook.WithLabelValues(WebhookDropped).Inc() }
