package server

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

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
	scrape := adaptor.HTTPHandler(s.Metrics.Handler())
	app.Get(MetricsPath, func(c *fiber.Ctx) error {
		if token := s.Settings.Current().MetricsToken; token != "" && !api.TokenGiven(c.Get(fiber.HeaderAuthorization), token) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="streamrec metrics"`)
			return c.Status(fiber.StatusUnauthorized).SendString("GET /metrics needs metrics_token: send Authorization: Bearer TOKEN\n")
		}
		return scrape(c)
	})
	app.Get(HealthPath, func(c *fiber.Ctx) error { return c.SendString("ok\n") })
	app.Get(ReadyPath, func(c *fiber.Ctx) error {
		if reason := s.notReady(); reason != "" {
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready: " + reason + "\n")
		}
		return c.SendString("ok\n")
	})
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
