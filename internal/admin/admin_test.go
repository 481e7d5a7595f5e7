package admin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/admin"
	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/control"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
)

func init() {
	admin.FailDelay = 50 * time.Millisecond
	admin.MaxFailDelay = 200 * time.Millisecond
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is an admin API on a fresh home, served by a Fiber app in memory.
type env struct {
	t        testing.TB
	home     string
	records  string
	settings string // the settings file
	store    *conf.Store
	reg      *stream.Registry
	files    *records.Store
	admin    *admin.Admin
	app      *fiber.App
	log      *logBuf
}

func newEnv(t testing.TB) *env {
	t.Helper()
	home := t.TempDir()
	e := &env{t: t, home: home, records: filepath.Join(home, "records"), settings: filepath.Join(home, "conf", "flashphoner.properties"), log: &logBuf{}}
	if err := os.MkdirAll(e.records, 0o755); err != nil {
		t.Fatal(err)
	}
	store, err := conf.Open(e.settings)
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	e.start()
	return e
}

// start (re)creates the records store, the stream registry and the admin API over the same
// home, as a server restart does.
func (e *env) start() {
	log := slog.New(slog.NewTextHandler(e.log, nil))
	e.files = records.New(e.records, log)
	e.reg = stream.New(stream.Config{Log: log, Attach: recording.New(recording.Config{Settings: e.store.Current, Files: e.files}).Attach})
	e.admin = admin.New(admin.Config{
		Settings: e.store, Streams: control.New(e.reg), Records: e.files,
		Version: "test", Log: log,
	})
	e.app = fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 1 << 20})
	e.admin.Register(e.app)
	e.t.Cleanup(e.admin.Close)
}

type resp struct {
	code   int
	body   []byte
	header http.Header
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.code, r.body)
	}
	return m
}

// do sends a request; cookie "" sends none. Changes carry the CSRF header unless noCSRF.
func (e *env) do(method, path, body, cookie string, noCSRF ...bool) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && len(noCSRF) == 0 {
		req.Header.Set(admin.CSRFHeader, "1")
	}
	if cookie != "" {
		req.Header.Set("Cookie", admin.CookieName+"="+cookie)
	}
	res, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

// login logs in with the configured password and returns the session cookie's value.
func (e *env) login() string {
	e.t.Helper()
	r := e.do("POST", "/admin/api/login", fmt.Sprintf(`{"password":%q}`, e.store.Current().AdminPassword), "")
	if r.code != 200 {
		e.t.Fatalf("login: %d %s", r.code, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == admin.CookieName {
			return c.Value
		}
	}
	e.t.Fatalf("login set no %s cookie: %v", admin.CookieName, r.header)
	return ""
}

// A generated password is saved in the settings file, and the log says where, never the
// password itself.
func TestPasswordGeneratedSavedNotLogged(t *testing.T) {
	e := newEnv(t)
	pw := e.store.Current().AdminPassword
	if len(pw) < 12 {
		t.Fatalf("generated password %q: want at least 12 characters", pw)
	}
	data, err := os.ReadFile(e.settings)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "admin.password="+pw+"\n") {
		t.Errorf("settings file does not hold the generated password:\n%s", data)
	}
	if strings.Contains(e.log.String(), pw) {
		t.Errorf("the generated password is in the log:\n%s", e.log.String())
	}
	if !strings.Contains(e.log.String(), e.settings) {
		t.Errorf("the log does not say where the password is:\n%s", e.log.String())
	}
	e.start() // a restart: the saved password stays
	if got := e.store.Current().AdminPassword; got != pw {
		t.Errorf("password changed on restart: %q → %q", pw, got)
	}
	if strings.Contains(e.log.String(), pw) {
		t.Errorf("the password is in the log after a restart")
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	r := e.do("POST", "/admin/api/login", `{"password":"guess"}`, "")
	if r.code != 401 || r.json(t)["message"] != "Wrong password." || r.header.Get("Retry-After") != "1" {
		t.Fatalf("wrong password: %d Retry-After %q %s, want 401 with Retry-After 1", r.code, r.header.Get("Retry-After"), r.body)
	}
	if took := time.Since(start); took > admin.FailDelay {
		t.Errorf("wrong password answered after %v: the delay applies to the next attempt, not this answer", took)
	}
	if len(r.header.Values("Set-Cookie")) != 0 {
		t.Errorf("wrong password set a cookie: %v", r.header.Values("Set-Cookie"))
	}
	// Within the delay even the right password is refused, at once.
	r = e.do("POST", "/admin/api/login", fmt.Sprintf(`{"password":%q}`, e.store.Current().AdminPassword), "")
	if r.code != 429 || r.header.Get("Retry-After") != "1" || !strings.Contains(r.json(t)["message"].(string), "try again") {
		t.Fatalf("login within the delay: %d Retry-After %q %s, want 429 saying when to try again", r.code, r.header.Get("Retry-After"), r.body)
	}
	time.Sleep(admin.FailDelay)

	r = e.do("POST", "/admin/api/login", fmt.Sprintf(`{"password":%q}`, e.store.Current().AdminPassword), "")
	if r.code != 200 {
		t.Fatalf("right password: %d %s", r.code, r.body)
	}
	set := r.header.Get("Set-Cookie")
	for _, want := range []string{admin.CookieName + "=", "HttpOnly", "SameSite=Strict", "path=/admin"} {
		if !strings.Contains(strings.ToLower(set), strings.ToLower(want)) {
			t.Errorf("session cookie %q lacks %q", set, want)
		}
	}
	cookie := e.login()
	if r := e.do("GET", "/admin/api/session", "", cookie); r.code != 200 {
		t.Errorf("session with cookie: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/admin/api/logout", "{}", cookie); r.code != 200 {
		t.Errorf("logout: %d", r.code)
	}
	if r := e.do("GET", "/admin/api/session", "", cookie); r.code != 401 {
		t.Errorf("session after logout: %d, want 401", r.code)
	}
}

func TestEveryCallNeedsASession(t *testing.T) {
	e := newEnv(t)
	calls := [][2]string{
		{"GET", "/admin/api/session"}, {"GET", "/admin/api/streams"}, {"GET", "/admin/api/events"},
		{"GET", "/admin/api/recordings"}, {"GET", "/admin/api/settings"}, {"GET", "/admin/api/hooks"},
		{"GET", "/admin/api/server"}, {"POST", "/admin/api/streams/startRecording"},
		{"POST", "/admin/api/streams/stopRecording"}, {"POST", "/admin/api/streams/terminate"},
		{"POST", "/admin/api/recordings/delete"}, {"PUT", "/admin/api/settings"}, {"GET", "/admin/api/nothing"},
	}
	for _, c := range calls {
		for _, cookie := range []string{"", "forged-session"} {
			body := ""
			if c[0] != "GET" {
				body = `{}`
			}
			if r := e.do(c[0], c[1], body, cookie); r.code != 401 {
				t.Errorf("%s %s with cookie %q: %d %s, want 401", c[0], c[1], cookie, r.code, r.body)
			}
		}
	}
}

func TestChangesNeedTheCSRFHeaderAndSmallBodies(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	if r := e.do("PUT", "/admin/api/settings", `{"values":{"record_rotation":"20"}}`, cookie, true); r.code != 403 {
		t.Errorf("PUT without %s: %d, want 403", admin.CSRFHeader, r.code)
	}
	if r := e.do("POST", "/admin/api/login", `{"password":"x"}`, "", true); r.code != 403 {
		t.Errorf("login without %s: %d, want 403", admin.CSRFHeader, r.code)
	}
	if v := e.store.Current().RotationSeconds; v != 0 {
		t.Errorf("a refused call changed record_rotation to %d", v)
	}
	big := `{"values":{"record_rotation":"` + strings.Repeat("1", 70<<10) + `"}}`
	if r := e.do("PUT", "/admin/api/settings", big, cookie); r.code != 413 {
		t.Errorf("70 KB body: %d, want 413", r.code)
	}
}

func TestSettingsSave(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Update(map[string]string{"rest_token": "tok-never-shown"}); err != nil {
		t.Fatal(err)
	}
	cookie := e.login()
	r := e.do("GET", "/admin/api/settings", "", cookie)
	if strings.Contains(string(r.body), "tok-never-shown") {
		t.Errorf("the settings page shows rest_token: %s", r.body)
	}
	var got struct {
		Settings []admin.SettingRow `json:"settings"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil || r.code != 200 {
		t.Fatalf("GET settings: %d %s", r.code, r.body)
	}
	if len(got.Settings) != len(conf.Specs()) {
		t.Errorf("%d settings listed, want every one of %d", len(got.Settings), len(conf.Specs()))
	}
	for _, s := range got.Settings {
		if (s.Key == "admin.password" || s.Key == "rest_token") && (s.Value != "" || !s.Set || !s.Secret) {
			t.Errorf("%s is not masked: %+v", s.Key, s)
		}
		if s.Key == "ws.port" && !s.Restart {
			t.Errorf("ws.port not marked restart")
		}
		if s.Help == "" {
			t.Errorf("%s has no help", s.Key)
		}
	}

	// A valid value is saved; comments and unknown keys stay.
	before, _ := os.ReadFile(e.settings)
	withExtra := append(before, []byte("# my note\ncustom.key=kept\n")...)
	if err := os.WriteFile(e.settings, withExtra, 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.do("PUT", "/admin/api/settings", `{"values":{"record_rotation":"20","record_audio_codec_sample_rate":"48000"}}`, cookie)
	if r.code != 200 {
		t.Fatalf("valid save: %d %s", r.code, r.body)
	}
	saved, _ := os.ReadFile(e.settings)
	for _, want := range []string{"\nrecord_rotation=20\n", "\nrecord_audio_codec_sample_rate=48000\n", "# my note\ncustom.key=kept\n", "# streamrec settings"} {
		if !strings.Contains(string(saved), want) {
			t.Errorf("saved file lacks %q:\n%s", want, saved)
		}
	}
	if e.store.Current().RotationSeconds != 20 {
		t.Errorf("record_rotation not in effect after saving")
	}

	// An invalid value: 422 with the reason by key, and the file untouched (the valid one in
	// the same request is not saved either).
	r = e.do("PUT", "/admin/api/settings", `{"values":{"record_rotation":"30","record_audio_codec_sample_rate":"12345"}}`, cookie)
	if r.code != 422 {
		t.Fatalf("invalid save: %d %s, want 422", r.code, r.body)
	}
	errs, _ := r.json(t)["errors"].(map[string]any)
	if msg, _ := errs["record_audio_codec_sample_rate"].(string); !strings.Contains(msg, "12345") {
		t.Errorf("no reason for record_audio_codec_sample_rate: %s", r.body)
	}
	if _, ok := errs["record_rotation"]; ok {
		t.Errorf("the valid value got an error: %s", r.body)
	}
	after, _ := os.ReadFile(e.settings)
	if !bytes.Equal(after, saved) {
		t.Errorf("refused save changed the file:\n%s", after)
	}
	if e.store.Current().RotationSeconds != 20 {
		t.Errorf("refused save changed the settings in effect")
	}
	if r := e.do("PUT", "/admin/api/settings", `{"values":{"no_such_key":"1"}}`, cookie); r.code != 422 {
		t.Errorf("unknown key: %d, want 422", r.code)
	}
	if r := e.do("PUT", "/admin/api/settings", `{"values":{"ws.port":"9999"}}`, cookie); r.code != 200 {
		t.Fatalf("port save: %d %s", r.code, r.body)
	} else if !strings.Contains(string(r.body), `"key":"ws.port","value":"9999","default":"8080","help":`) || !strings.Contains(string(r.body), `"restart":true,"secret":false,"set":false,"pending":true`) {
		t.Errorf("ws.port after saving is not marked pending a restart: %s", r.body)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	mine, other := e.login(), e.login()
	if r := e.do("PUT", "/admin/api/settings", `{"values":{"admin.password":""}}`, mine); r.code != 200 {
		t.Fatalf("empty secret (keep): %d %s", r.code, r.body)
	}
	if e.store.Current().AdminPassword == "" {
		t.Fatal("an empty password field cleared the password")
	}
	if r := e.do("PUT", "/admin/api/settings", `{"values":{"admin.password":"new secret pw"}}`, mine); r.code != 200 {
		t.Fatalf("password change: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/admin/api/session", "", mine); r.code != 200 {
		t.Errorf("the session that changed the password was logged out: %d", r.code)
	}
	if r := e.do("GET", "/admin/api/session", "", other); r.code != 401 {
		t.Errorf("another session survived the password change: %d", r.code)
	}
	if r := e.do("POST", "/admin/api/login", `{"password":"new secret pw"}`, ""); r.code != 200 {
		t.Errorf("login with the new password: %d", r.code)
	}
}

func TestDeleteValidatesNames(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	write := func(path string) {
		if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(e.records, "a.mp4"))
	write(filepath.Join(e.records, "notes.txt"))
	write(filepath.Join(e.records, ".hidden.mp4"))
	write(filepath.Join(e.home, "outside.mp4"))
	if err := os.Mkdir(filepath.Join(e.records, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(e.records, "sub", "b.mp4"))
	if err := os.Symlink(filepath.Join(e.home, "outside.mp4"), filepath.Join(e.records, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	bad := []string{"../outside.mp4", "../conf/flashphoner.properties", "/etc/passwd", "notes.txt", ".hidden.mp4",
		"sub/b.mp4", "sub", "link.mp4", "", "a.mp4\x00", "..", "missing.mp4", `..\outside.mp4`}
	body, _ := json.Marshal(map[string][]string{"names": append(bad, "a.mp4")})
	r := e.do("POST", "/admin/api/recordings/delete", string(body), cookie)
	if r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	var out struct {
		Deleted []string          `json:"deleted"`
		Errors  map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 1 || out.Deleted[0] != "a.mp4" {
		t.Errorf("deleted %v, want only a.mp4", out.Deleted)
	}
	for _, n := range bad {
		if out.Errors[n] == "" {
			t.Errorf("%q was not refused: %s", n, r.body)
		}
	}
	for _, p := range []string{"notes.txt", ".hidden.mp4", "sub/b.mp4", "link.mp4", "../outside.mp4", "../conf/flashphoner.properties"} {
		if _, err := os.Lstat(filepath.Join(e.records, p)); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.records, "a.mp4")); err == nil {
		t.Errorf("a.mp4 still there")
	}
	if r := e.do("POST", "/admin/api/recordings/delete", `{"names":[]}`, cookie); r.code != 400 {
		t.Errorf("empty names: %d, want 400", r.code)
	}
}

func TestStreamCalls(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	s, err := e.reg.Create(stream.Identity{Name: "cam", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	s.Publish([]media.Track{{Kind: media.Video, Codec: media.H264, Width: 640, Height: 360}})
	r := e.do("GET", "/admin/api/streams", "", cookie)
	if r.code != 200 || !strings.Contains(string(r.body), `"name":"cam"`) || !strings.Contains(string(r.body), `"bitrate":0`) {
		t.Errorf("streams: %d %s", r.code, r.body)
	}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/admin/api/streams/startRecording", `{"mediaSessionId":"nope"}`, 404},
		{"/admin/api/streams/startRecording", `{}`, 400},
		{"/admin/api/streams/startRecording", `not json`, 400},
		{"/admin/api/streams/stopRecording", fmt.Sprintf(`{"mediaSessionId":%q}`, s.ID().MediaSessionID), 409},
		{"/admin/api/streams/terminate", fmt.Sprintf(`{"mediaSessionId":%q}`, s.ID().MediaSessionID), 200},
		{"/admin/api/streams/terminate", fmt.Sprintf(`{"mediaSessionId":%q}`, s.ID().MediaSessionID), 404},
	} {
		if r := e.do("POST", c.path, c.body, cookie); r.code != c.want {
			t.Errorf("POST %s %s: %d %s, want %d", c.path, c.body, r.code, r.body, c.want)
		}
	}
}

// TestEventsFollowTheRegistry reads the SSE stream over a real connection: the list at once,
// a new event when a stream is published, and the end of the stream on Close.
func TestEventsFollowTheRegistry(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.app.Listener(ln)
	t.Cleanup(func() { e.app.ShutdownWithTimeout(time.Second) })
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/admin/api/events", nil)
	req.Header.Set("Cookie", admin.CookieName+"="+cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
	}()
	next := func() string {
		select {
		case d, ok := <-events:
			if !ok {
				return "<closed>"
			}
			return d
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
			return ""
		}
	}
	if d := next(); d != `{"streams":[]}` {
		t.Fatalf("first event %s", d)
	}
	s, _ := e.reg.Create(stream.Identity{Name: "live1", Provider: stream.ProviderWebRTC})
	s.Publish([]media.Track{{Kind: media.Audio, Codec: media.Opus, SampleRate: 48000, Channels: 2}})
	for d := next(); !strings.Contains(d, `"name":"live1"`) || !strings.Contains(d, `"status":"PUBLISHING"`); d = next() {
		if d == "<closed>" {
			t.Fatal("stream closed before the publish event")
		}
	}
	e.admin.Close()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("event stream still open after Close")
		}
	}
}

// A restart logs nobody out; a logout, a password change and expiry still end sessions; the
// sessions file holds no token and is readable by the server's user alone.
func TestSessionsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	kept, out, other := e.login(), e.login(), e.login()
	if r := e.do("POST", "/admin/api/logout", "", out); r.code != 200 {
		t.Fatalf("logout: %d", r.code)
	}
	e.admin.Close()
	e.start() // a restart
	if r := e.do("GET", "/admin/api/session", "", kept); r.code != 200 {
		t.Errorf("a session did not survive the restart: %d", r.code)
	}
	if r := e.do("GET", "/admin/api/session", "", out); r.code != 401 {
		t.Errorf("a logged-out session came back after the restart: %d", r.code)
	}
	path := filepath.Join(e.home, "conf", "admin_sessions.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sessions file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), kept) || strings.Contains(string(b), other) {
		t.Error("the sessions file holds a token")
	}
	// A password changed while the server was down (by hand) ends the sessions at the restart.
	e.admin.Close()
	if err := e.store.Update(map[string]string{"admin.password": "changed by hand"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	if r := e.do("GET", "/admin/api/session", "", other); r.code != 401 {
		t.Errorf("a session outlived a password change across a restart: %d", r.code)
	}
}
