// Package admin is the dashboard's API under /admin/api: login and cookie sessions, the live
// stream list (Server-Sent Events) with on-demand recording, the library of finished recordings
// read from the records folder, the settings editor, hook runs and server health. Every call but
// the login needs a session; every call that changes something also needs the X-Streamrec
// header, which a cross-site form or image cannot send (CSRF), on top of the SameSite=Strict
// session cookie. The pages themselves are static files served by package web.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/control"
	"github.com/streamrec/streamrec/internal/hook"
	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/retention"
	"github.com/streamrec/streamrec/internal/webhook"
)

// maxBody bounds an admin API request body.
const maxBody = 64 << 10

// CSRFHeader must be present (any non-empty value) on every admin API call that is not GET/HEAD.
const CSRFHeader = "X-Streamrec"

// HookRuns gives the recent runs of the finish hook script, newest first (*hook.Runner).
type HookRuns interface {
	Recent() []hook.Run
}

// Config wires the dashboard API to the server.
type Config struct {
	Settings *conf.Store
	Streams  *control.Service // the streams, and what an operator can do to them
	Records  *records.Store   // the records folder: listing, name validation, deletion
	Version  string
	Started  time.Time
	Log      *slog.Logger
	// Hooks lists recent hook runs; nil when no hook runner is wired.
	Hooks HookRuns
	// Retention is the records folder's cleaner (*retention.Cleaner); nil when none is wired.
	Retention Retention
	// Webhooks lists recent webhook deliveries (*webhook.Sender); nil when none is wired.
	Webhooks WebhookDeliveries
	// Bucket is the object store of record_s3_*; nil when upload is off. The library lists what
	// every node sharing it put there.
	Bucket *objstore.Store
	// Uploads gives the upload queue; nil, or giving nil, when upload is off.
	Uploads Uploads
}

// WebhookDeliveries gives the latest webhook deliveries, newest first (*webhook.Sender).
type WebhookDeliveries interface {
	Recent() []webhook.Delivery
}

// Retention tells what the records folder's cleaner does (*retention.Cleaner).
type Retention interface {
	Status() retention.Status
}

// Admin is the dashboard API of one server.
type Admin struct {
	cfg      Config
	log      *slog.Logger
	sessions *sessions
	throttle *throttle
	logs     *lograte.Limiter // login refusals: one line per address per minute
	library  *library
	thumbs   *thumbs
	finished *notifier // tells the event streams of every finished file
	rates    *rates
	atStart  map[string]string // settings values when the server started, for "restart needed"

	// generated is the password made at this start when it could not be saved; "" otherwise.
	generated string

	closeOnce sync.Once
	done      chan struct{} // closed by Close: ends every event stream
}

// New returns the dashboard API. When admin.password is empty it generates a password, saves it
// in the settings file and prints it once in the log.
func New(cfg Config) *Admin {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	a := &Admin{
		cfg:      cfg,
		log:      cfg.Log.With("component", "admin"),
		sessions: newSessions(filepath.Join(filepath.Dir(cfg.Settings.Path()), sessionsFile), cfg.Log.With("component", "admin")),
		throttle: newThrottle(),
		logs:     lograte.New(time.Minute, maxTracked),
		library:  newLibrary(cfg),
		thumbs:   newThumbs(cfg.Records),
		finished: newNotifier(),
		rates:    newRates(),
		atStart:  cfg.Settings.Values(),
		done:     make(chan struct{}),
	}
	a.ensurePassword()
	if cfg.Records != nil {
		cfg.Records.OnFinished(func(f records.File) { a.finished.notify(f.Name) })
	}
	return a
}

// Close ends the open event streams so the web server can shut down promptly.
func (a *Admin) Close() { a.closeOnce.Do(func() { close(a.done) }) }

// Register mounts /admin/api on app.
func (a *Admin) Register(app fiber.Router) {
	r := app.Group("/admin/api", a.guard)
	r.Post("/login", a.login)
	r.Post("/logout", a.logout)
	r.Get("/session", a.session)
	r.Get("/streams", a.streams)
	r.Get("/events", a.events)
	r.Post("/streams/startRecording", a.startRecording)
	r.Post("/streams/stopRecording", a.stopRecording)
	r.Post("/streams/terminate", a.terminate)
	r.Get("/recordings", a.recordings)
	r.Post("/recordings/delete", a.deleteRecordings)
	r.Get("/recordings/thumb/:name", a.thumb)
	r.Get("/settings", a.getSettings)
	r.Put("/settings", a.putSettings)
	r.Get("/hooks", a.hooks)
	r.Get("/retention", a.retention)
	r.Get("/uploads", a.uploads)
	r.Get("/server", a.serverInfo)
	r.Use(func(c *fiber.Ctx) error {
		return fail(c, fiber.StatusNotFound, "no such admin API call: "+c.Method()+" "+c.Path())
	})
}

// guard applies the body limit, the CSRF header rule and the session check to every call.
func (a *Admin) guard(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if len(c.Body()) > maxBody {
		return fail(c, fiber.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody))
	}
	if m := c.Method(); m != fiber.MethodGet && m != fiber.MethodHead && c.Get(CSRFHeader) == "" {
		return fail(c, fiber.StatusForbidden, "missing "+CSRFHeader+" header")
	}
	if strings.TrimSuffix(c.Path(), "/") == "/admin/api/login" {
		return c.Next()
	}
	if !a.authorized(c) {
		return fail(c, fiber.StatusUnauthorized, "log in first")
	}
	return c.Next()
}

// fail answers {"status":N,"message":"..."}.
func fail(c *fiber.Ctx, status int, message string) error {
	return c.Status(status).JSON(fiber.Map{"status": status, "message": message})
}

// bind decodes a JSON body into v.
func bind(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return errors.New("the request needs a JSON body")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}
