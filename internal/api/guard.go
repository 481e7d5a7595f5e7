package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/lograte"
)

// Guard protects /rest-api (README, "Security"); mount it on "/rest-api" before every REST route.
// It reads the settings on every call, so a change saved from the dashboard applies at once.
//
//   - A browser page of another origin is refused (403) unless rest_allowed_origins lists it;
//     allowed origins get CORS answers, preflight included.
//   - With rest_token set, every call needs it: "Authorization: Bearer TOKEN", or HTTP Basic with
//     TOKEN as the password (any user name), which WCS tools send. Else 401.
//   - A call that changes something (all but find/find_all) needs Content-Type application/json
//     (else 415): a cross-site page can then only send it after a CORS preflight, which a
//     foreign origin fails, so a "simple" text/plain POST cannot add a camera or end a stream.
func Guard(settings func() *conf.Settings, log *slog.Logger) fiber.Handler {
	g := &guard{settings: settings, log: log.With("component", "rest"), logs: lograte.New(time.Minute, 10000)}
	if settings().RESTToken == "" {
		g.log.Info("REST API needs no token: anyone who reaches the HTTP ports can start and stop recordings, end streams and add cameras; set rest_token (README, Security)")
	}
	return g.check
}

type guard struct {
	settings func() *conf.Settings
	log      *slog.Logger
	logs     *lograte.Limiter // refusals: one line per address per minute
}

func (g *guard) check(c *fiber.Ctx) error {
	st := g.settings()
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		c.Vary(fiber.HeaderOrigin)
		if !sameOrigin(origin, c) && !AllowedOrigin(origin, st.RESTAllowedOrigins) {
			return g.refuse(c, fiber.StatusForbidden, fmt.Sprintf("origin %q may not call the REST API: list it in rest_allowed_origins", origin))
		}
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		if c.Method() == fiber.MethodOptions {
			c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST")
			c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, Authorization")
			c.Set(fiber.HeaderAccessControlMaxAge, "600")
			return c.SendStatus(fiber.StatusNoContent)
		}
	}
	if c.Method() == fiber.MethodOptions {
		c.Set(fiber.HeaderAllow, "GET, POST, OPTIONS")
		return c.SendStatus(fiber.StatusNoContent)
	}
	if st.RESTToken != "" && !TokenGiven(c.Get(fiber.HeaderAuthorization), st.RESTToken) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="streamrec", Basic realm="streamrec"`)
		return g.refuse(c, fiber.StatusUnauthorized, "the REST API needs rest_token: send Authorization: Bearer TOKEN, or HTTP Basic with TOKEN as the password")
	}
	if changes(c) && !isJSON(c.Get(fiber.HeaderContentType)) {
		return g.refuse(c, fiber.StatusUnsupportedMediaType, "this REST call changes something: send its body with Content-Type: application/json")
	}
	return c.Next()
}

// refuse answers the JSON error and logs it, once per address per minute.
func (g *guard) refuse(c *fiber.Ctx, status int, message string) error {
	if ok, hidden := g.logs.Allow(c.IP()); ok {
		g.log.Warn("REST call refused", "ip", c.IP(), "status", status, "method", c.Method(), "path", c.Path(),
			"origin", c.Get(fiber.HeaderOrigin), "reason", message, "refusedBefore", hidden)
	}
	return Error(c, status, message)
}

// sameOrigin tells whether origin is the server's own: the scheme and host (port included) the
// request was sent to.
func sameOrigin(origin string, c *fiber.Ctx) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, c.Protocol()) &&
		strings.EqualFold(hostPort(u.Scheme, u.Host), hostPort(c.Protocol(), c.Hostname()))
}

// hostPort gives host with its port, the scheme's default one when it has none.
func hostPort(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if strings.EqualFold(scheme, "https") {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// AllowedOrigin tells whether an origin list (rest_allowed_origins, whip_allowed_origins:
// lower-case scheme://host[:port] items, or "*") lists origin.
func AllowedOrigin(origin string, allowed []string) bool {
	return slices.Contains(allowed, "*") || slices.Contains(allowed, strings.ToLower(strings.TrimSuffix(origin, "/")))
}

// TokenGiven tells whether an Authorization header carries token, as Bearer or as the Basic
// password. The comparison takes the same time whatever the guess.
func TokenGiven(header, token string) bool {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimSpace(cred)
	var given string
	switch strings.ToLower(scheme) {
	case "bearer":
		given = cred
	case "basic":
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		var ok bool
		if _, given, ok = strings.Cut(string(b), ":"); !ok {
			return false
		}
	default:
		return false
	}
	g, w := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// changes tells whether a call may change something: every one but a GET, or a POST to a find or
// find_all (routes match case-insensitively, with or without a trailing slash, as here).
func changes(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead:
		return false
	case fiber.MethodPost:
		switch path.Base(strings.ToLower(strings.TrimRight(c.Path(), "/"))) {
		case "find", "find_all":
			return false
		}
	}
	return true
}

func isJSON(contentType string) bool {
	t, _, err := mime.ParseMediaType(contentType)
	return err == nil && t == "application/json"
}
