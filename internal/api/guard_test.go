package api_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/api"
	"github.com/streamrec/streamrec/internal/conf"
)

// guarded is an app with the guard before a route that answers 200 "reached" for any REST call.
func guarded(t *testing.T, token string, origins ...string) *fiber.App {
	t.Helper()
	app, _ := guardedLog(t, token, origins...)
	return app
}

// guardedLog is guarded, with the guard's log.
func guardedLog(t *testing.T, token string, origins ...string) (*fiber.App, *strings.Builder) {
	t.Helper()
	var log strings.Builder
	st := conf.Defaults()
	st.RESTToken, st.RESTAllowedOrigins = token, origins
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use("/rest-api", api.Guard(func() *conf.Settings { return st }, slog.New(slog.NewTextHandler(&log, nil))))
	app.All("/rest-api/*", func(c *fiber.Ctx) error { return c.SendString("reached") })
	return app, &log
}

type call struct {
	method, path, contentType, origin, auth string
}

type answer struct {
	code   int
	body   string
	header map[string]string
}

func (c call) send(t *testing.T, app *fiber.App) answer {
	t.Helper()
	req := httptest.NewRequest(c.method, "http://rec.example:8081"+c.path, strings.NewReader(`{"uri":"rtsp://attacker/x"}`))
	for k, v := range map[string]string{"Content-Type": c.contentType, "Origin": c.origin, "Authorization": c.auth} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	h := map[string]string{}
	for k := range res.Header {
		h[k] = res.Header.Get(k)
	}
	return answer{res.StatusCode, string(b), h}
}

// wantRefused checks a refusal: the status and the usual JSON error body.
func wantRefused(t *testing.T, c call, a answer, status int) {
	t.Helper()
	var e struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	if a.code != status || json.Unmarshal([]byte(a.body), &e) != nil || e.Status != status || e.Message == "" {
		t.Errorf("%+v: %d %s, want %d with a JSON error", c, a.code, a.body, status)
	}
}

func TestGuardContentType(t *testing.T) {
	app := guarded(t, "")
	for _, c := range []call{
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: "text/plain"},
		{method: "POST", path: "/rest-api/stream/terminate", contentType: "application/x-www-form-urlencoded"},
		{method: "POST", path: "/rest-api/stream/startRecording", contentType: "text/plain;charset=UTF-8"},
		{method: "POST", path: "/rest-api/stream/terminate"},
		{method: "POST", path: "/REST-API/RTSP/STARTUP/", contentType: "text/plain"}, // routes ignore case and a trailing slash
		{method: "PUT", path: "/rest-api/stream/find_all", contentType: "text/plain"},
	} {
		wantRefused(t, c, c.send(t, app), 415)
	}
	for _, c := range []call{
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: "application/json"},
		{method: "POST", path: "/rest-api/stream/terminate", contentType: "application/json; charset=utf-8"},
		{method: "POST", path: "/rest-api/stream/find_all", contentType: "text/plain"}, // read-only
		{method: "POST", path: "/rest-api/stream/find"},
		{method: "GET", path: "/rest-api/rtsp/find_all"},
	} {
		if a := c.send(t, app); a.code != 200 || a.body != "reached" {
			t.Errorf("%+v: %d %s, want it through", c, a.code, a.body)
		}
	}
}

func TestGuardOrigins(t *testing.T) {
	app := guarded(t, "", "https://app.example")
	json := "application/json"
	for _, c := range []call{
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: json, origin: "https://evil.example"},
		{method: "POST", path: "/rest-api/stream/find_all", contentType: json, origin: "http://rec.example:8082"},  // another port
		{method: "POST", path: "/rest-api/stream/find_all", contentType: json, origin: "https://rec.example:8081"}, // another scheme
		{method: "POST", path: "/rest-api/stream/find_all", contentType: json, origin: "null"},
		{method: "OPTIONS", path: "/rest-api/rtsp/startup", origin: "https://evil.example"},
	} {
		a := c.send(t, app)
		wantRefused(t, c, a, 403)
		if a.header["Access-Control-Allow-Origin"] != "" {
			t.Errorf("%+v: refused yet Access-Control-Allow-Origin %q", c, a.header["Access-Control-Allow-Origin"])
		}
	}
	for _, c := range []call{
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: json, origin: "http://rec.example:8081"}, // the server's own
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: json, origin: "https://app.example"},
		{method: "POST", path: "/rest-api/rtsp/startup", contentType: json, origin: "https://APP.example"},
	} {
		a := c.send(t, app)
		if a.code != 200 || a.header["Access-Control-Allow-Origin"] != c.origin || !strings.Contains(a.header["Vary"], "Origin") {
			t.Errorf("%+v: %d %v, want 200 with Access-Control-Allow-Origin %s and Vary: Origin", c, a.code, a.header, c.origin)
		}
	}
	if a := (call{method: "POST", path: "/rest-api/rtsp/startup", contentType: json, origin: "https://anyone.example"}).send(t, guarded(t, "", "*")); a.code != 200 {
		t.Errorf("rest_allowed_origins=*: a foreign origin got %d, want 200", a.code)
	}
}

func TestGuardPreflight(t *testing.T) {
	app := guarded(t, "secret", "https://app.example")
	c := call{method: "OPTIONS", path: "/rest-api/rtsp/startup", origin: "https://app.example"}
	a := c.send(t, app) // a preflight carries no token: it is answered before the token check
	if a.code != 204 || a.header["Access-Control-Allow-Origin"] != "https://app.example" ||
		!strings.Contains(a.header["Access-Control-Allow-Methods"], "POST") ||
		a.header["Access-Control-Allow-Headers"] != "Content-Type, Authorization" {
		t.Errorf("preflight from an allowed origin: %d %v", a.code, a.header)
	}
}

func TestGuardToken(t *testing.T) {
	const token = "s3cret-token"
	app, log := guardedLog(t, token)
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Bearer", basic("admin", "wrong"),
		"Basic " + token, "Basic !!!", "Token " + token, basic(token, "")} {
		for _, path := range []string{"/rest-api/stream/terminate", "/rest-api/stream/find_all"} {
			c := call{method: "POST", path: path, contentType: "application/json", auth: auth}
			a := c.send(t, app)
			wantRefused(t, c, a, 401)
			if !strings.Contains(a.header["Www-Authenticate"], "Bearer") || !strings.Contains(a.header["Www-Authenticate"], "Basic") {
				t.Errorf("%+v: WWW-Authenticate %q, want Bearer and Basic", c, a.header["Www-Authenticate"])
			}
			if strings.Contains(a.body, token) {
				t.Errorf("%+v: the answer shows the token: %s", c, a.body)
			}
		}
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token, basic("admin", token), basic("", token)} {
		c := call{method: "POST", path: "/rest-api/stream/terminate", contentType: "application/json", auth: auth}
		if a := c.send(t, app); a.code != 200 {
			t.Errorf("%+v: %d %s, want 200", c, a.code, a.body)
		}
	}
	if !strings.Contains(log.String(), "REST call refused") || strings.Contains(log.String(), token) {
		t.Errorf("log: want the refusal logged, never the token:\n%s", log.String())
	}
}
