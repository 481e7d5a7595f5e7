package server_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// send sends a REST request with the given headers and returns status, WWW-Authenticate and body.
func send(t *testing.T, e *st.Env, path, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.HTTP+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRESTCrossSiteCameraRefused is issue 10's case 5: a page on another origin posts text/plain
// (a CORS "simple" request, no preflight) to /rest-api/rtsp/startup. No camera may be added.
func TestRESTCrossSiteCameraRefused(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, nil)
	file := filepath.Join(e.Home, "conf", "rtsp_cameras.json")
	before, errBefore := os.ReadFile(file)
	body := `{"uri":"rtsp://203.0.113.7:554/attacker","localStreamName":"planted"}`
	cases := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"cross-site text/plain", map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example"}, 403},
		{"cross-site json", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, 403},
		{"text/plain without Origin", map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, 415},
		{"form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
	}
	for _, c := range cases {
		if code, _, b := send(t, e, "/rest-api/rtsp/startup", body, c.header); code != c.status || !strings.Contains(b, `"message"`) {
			t.Errorf("%s: %d %s, want %d with a JSON error", c.name, code, b, c.status)
		}
	}
	if code, b := e.Post("/rest-api/rtsp/find_all", ""); code != 200 || strings.Contains(string(b), "planted") {
		t.Errorf("cameras after the refused calls: %d %s, want none", code, b)
	}
	after, errAfter := os.ReadFile(file)
	if !bytes.Equal(before, after) || (errBefore == nil) != (errAfter == nil) {
		t.Errorf("%s changed by refused calls: %q (%v) → %q (%v)", file, before, errBefore, after, errAfter)
	}
	// The server's own origin, and a tool sending JSON, still get through.
	own := map[string]string{"Content-Type": "application/json", "Origin": e.HTTP}
	if code, h, b := send(t, e, "/rest-api/stream/find_all", "", own); code != 200 || h.Get("Access-Control-Allow-Origin") != e.HTTP {
		t.Errorf("find_all from the server's own origin: %d %v %s", code, h, b)
	}
}

// TestRESTTokenProtectsStreams: with rest_token set, an anonymous caller cannot terminate a
// stream, which keeps recording to a complete file; the token as Bearer or Basic password works.
func TestRESTTokenProtectsStreams(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	const token = "7d0c5f0e-rest-token"
	settings := map[string]string{"rest_token": token}
	for k, v := range st.BystanderSettings {
		settings[k] = v
	}
	e := st.Start(t, settings)
	by := st.StartBystander(e, "honest")
	s := e.WaitStream("honest", "PUBLISHING", time.Second)
	body := `{"mediaSessionId":"` + s.MediaSessionID + `"}`
	basic := func(pw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+pw)) }
	for _, auth := range []string{"", "Bearer guess", basic("guess")} {
		code, h, b := send(t, e, "/rest-api/stream/terminate", body, map[string]string{"Content-Type": "application/json", "Authorization": auth})
		if code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") || strings.Contains(b, token) {
			t.Errorf("terminate with Authorization %q: %d %q %s, want 401 with WWW-Authenticate", auth, code, h.Get("WWW-Authenticate"), b)
		}
	}
	for _, auth := range []string{"Bearer " + token, basic(token)} {
		code, _, b := send(t, e, "/rest-api/stream/find", `{"name":"honest"}`, map[string]string{"Content-Type": "application/json", "Authorization": auth})
		if code != 200 || !strings.Contains(b, s.MediaSessionID) {
			t.Errorf("find with Authorization %q: %d %s, want 200", auth, code, b)
		}
	}
	if got := e.WaitStream("honest", "PUBLISHING", time.Second); !got.Recording {
		t.Errorf("after the anonymous terminate: %+v, want it still recording", got)
	}
	by.Check()
}
