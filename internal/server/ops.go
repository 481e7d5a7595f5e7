package server

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/api"
	"github.com/streamrec/streamrec/internal/recorder"
)

// What a monitoring system asks (README, "Metrics and health"): /metrics for Prometheus,
// /health and /ready for a service manager or a load balancer. /health and /ready need no
// login: they say nothing but "ok" or why the server cannot record.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/health"
	ReadyPath   = "/ready"
)

// readyEvery bounds what /ready costs: its checks (a file created and removed in the records
// folder, a statfs) run at most once a second, whatever the rate of requests.
const readyEvery = time.Second

// readiness caches the result of the readiness checks.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	reason string // "" = ready
}

func (s *Server) registerOps(app *fiber.App) {
	scrape := s.Metrics.Handler()
	app.Get(MetricsPath, func(c *fiber.Ctx) error {
		if token := s.Settings.Current().MetricsToken; token != "" && !api.TokenGiven(c.Get(fiber.HeaderAuthorization), token) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="streamrec metrics"`)
			return c.Status(fiber.StatusUnauthorized).SendString("GET /metrics needs metrics_token: send Authorization: Bearer TOKEN\n")
		}
		serveHTTP(c, scrape)
		return nil
	})
	app.Get(HealthPath, func(c *fiber.Ctx) error { return c.SendString("ok\n") })
	app.Get(ReadyPath, func(c *fiber.Ctx) error {
		if reason := s.notReady(); reason != "" {
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready: " + reason + "\n")
		}
		return c.SendString("ok\n")
	})
}

// serveHTTP answers c with a net/http handler. The request it is given carries only the headers
// that choose the answer's format and compression, and a context of its own: fiber's adaptor
// would pass the fasthttp request as the context, whose Done races with the server's shutdown.
func serveHTTP(c *fiber.Ctx, h http.Handler) {
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: c.Path()}, Header: http.Header{}}
	for _, k := range []string{fiber.HeaderAccept, fiber.HeaderAcceptEncoding} {
		if v := c.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	h.ServeHTTP(&fiberResponse{c: c, header: http.Header{}}, req)
}

// fiberResponse is an http.ResponseWriter writing into a fiber response.
type fiberResponse struct {
	c      *fiber.Ctx
	header http.Header
	sent   bool // the status and header were set
}

func (w *fiberResponse) Header() http.Header { return w.header }

func (w *fiberResponse) WriteHeader(code int) {
	if w.sent {
		return
	}
	w.sent = true
	for k, vs := range w.header {
		for _, v := range vs {
			w.c.Response().Header.Add(k, v)
		}
	}
	w.c.Status(code)
}

func (w *fiberResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.c.Write(p)
}

// notReady says why the server cannot take recordings now, "" when it can. Whether the
// listeners are up is known at once; the checks of the records folder are cached (readyEvery).
func (s *Server) notReady() string {
	if !s.started.Load() {
		return "the listeners are not up (starting or stopping)"
	}
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if time.Since(s.ready.at) < readyEvery {
		return s.ready.reason
	}
	s.ready.reason = s.readyCheck()
	s.ready.at = time.Now()
	return s.ready.reason
}

func (s *Server) readyCheck() string {
	if err := writable(s.Records); err != nil {
		return "records folder not writable: " + err.Error()
	}
	if err := recorder.CheckSpace(s.Records); err != nil {
		return err.Error()
	}
	if why := s.Retention.Refused(); why != "" {
		// record_min_free_space cannot be met, as of retention's last pass (a GET deletes nothing).
		return "new recordings are refused: " + why
	}
	return ""
}

// writable tells whether a file can be created in dir (and removed again). The file is hidden:
// never listed nor served as a recording.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".streamrec-ready-*")
	if err != nil {
		return err
	}
	return errors.Join(f.Close(), os.Remove(f.Name()))
}
