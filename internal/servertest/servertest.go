// Package servertest runs a real streamrec server in a temporary home for end-to-end tests,
// publishes to it with real peers (ffmpeg) and judges recordings with ffprobe.
package servertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/server"
)

// Env is a running server with its own home folder and free ports.
type Env struct {
	T       testing.TB
	Home    string
	Server  *server.Server
	Ports   map[string]int // by setting name: "http.port", "rtmp.port", ...
	HTTP    string         // http://127.0.0.1:PORT
	RTMP    string         // rtmp://127.0.0.1:PORT/live
	Records string
	// Token is the rest_token of the settings ("" for none): Post sends it.
	Token string

	logs *logLines // the server's log, for LogLines
}

// portKeys are the listeners a test server opens on free ports.
var portKeys = []string{"http.port", "https.port", "rtmp.port", "ws.port", "wss.port", "rtsp.port"}

// Start runs a server whose settings file holds settings (plus free ports). It is closed when
// the test ends.
func Start(t testing.TB, settings map[string]string) *Env {
	t.Helper()
	for attempt := 1; ; attempt++ {
		e := Prepare(t, settings)
		e.logs = &logLines{}
		srv, err := server.New(e.Home, slog.New(slog.NewTextHandler(testWriter{t, e.logs}, &slog.HandlerOptions{Level: slog.LevelInfo})))
		if err != nil {
			t.Fatalf("server.New: %v", err)
		}
		err = srv.Start()
		inUse := errors.Is(err, syscall.EADDRINUSE) || (err != nil && strings.Contains(err.Error(), "address already in use"))
		if inUse && attempt < 5 {
			// Another process took one of the ports between FreePort and the listen: new ports.
			srv.Close()
			continue
		}
		if err != nil {
			t.Fatalf("server.Start: %v", err)
		}
		e.Server = srv
		t.Cleanup(srv.Close)
		return e
	}
}

// Prepare makes a home with a settings file but starts nothing (for tests that run the binary).
func Prepare(t testing.TB, settings map[string]string) *Env {
	t.Helper()
	home := t.TempDir()
	e := &Env{T: t, Home: home, Ports: map[string]int{}, Records: filepath.Join(home, "records"), Token: settings["rest_token"]}
	all := map[string]string{}
	for _, k := range portKeys {
		p := FreePort(t)
		e.Ports[k] = p
		all[k] = strconv.Itoa(p)
	}
	for k, v := range settings {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, all[k])
	}
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "conf", "flashphoner.properties"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e.HTTP = fmt.Sprintf("http://127.0.0.1:%d", e.Ports["http.port"])
	e.RTMP = fmt.Sprintf("rtmp://127.0.0.1:%d/live", e.Ports["rtmp.port"])
	return e
}

// Ports are picked below Linux's ephemeral range (32768–60999), where outgoing connections
// never take them, and below the default WebRTC media ports (31001–32000).
const (
	portLow  = 20000
	portHigh = 31000
)

var (
	portsMu sync.Mutex
	given   = map[int]bool{} // ports handed out by this test binary
)

// FreePort returns a port free right now for TCP on every interface and for UDP on it and the
// next one (an RTSP listener takes that pair), never the same one twice in a test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 1000; i++ {
		p := portLow + rand.IntN(portHigh-portLow)
		if !given[p] && free(p) {
			given[p] = true
			return p
		}
	}
	t.Fatal("no free port found")
	return 0
}

func free(p int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	ln.Close()
	for _, u := range []int{p, p + 1} {
		c, err := net.ListenPacket("udp", ":"+strconv.Itoa(u))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// testWriter sends the server's log to the test's, and keeps its lines.
type testWriter struct {
	t    testing.TB
	keep *logLines
}

func (w testWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.t.Log(line)
	if strings.Contains(line, "err=<nil>") {
		// A warning that names no error reads as a bug to the operator: log the error only when there is one.
		w.t.Errorf("log line with a nil error: %s", line)
	}
	w.keep.add(line)
	return len(p), nil
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// LogLines returns the lines the server has logged so far that contain every one of parts.
func (e *Env) LogLines(parts ...string) []string {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	var out []string
next:
	for _, line := range e.logs.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// Client is the HTTP client tests use: without keep-alive, so a test that restarts a server on the
// same port never sends a request down a connection the old server closed.
var Client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}

// Post sends a JSON body (a string, sent as is) to a REST path, with the settings' rest_token
// when they set one, and returns status and body.
func (e *Env) Post(path, body string) (int, []byte) {
	e.T.Helper()
	req, err := http.NewRequest(http.MethodPost, e.HTTP+path, strings.NewReader(body))
	if err != nil {
		e.T.Fatalf("POST %s: %v", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	}
	resp, err := Client.Do(req)
	if err != nil {
		e.T.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Stream is the part of the WCS stream object tests look at.
type Stream struct {
	Name           string `json:"name"`
	MediaSessionID string `json:"mediaSessionId"`
	Status         string `json:"status"`
	RecordName     string `json:"recordName"`
	Recording      bool   `json:"recording"`
	RecordError    string `json:"recordError"`
	NotRecorded    string `json:"notRecorded"`
	MediaProvider  string `json:"mediaProvider"`
	VideoCodec     string `json:"videoCodec"`
	AudioCodec     string `json:"audioCodec"`
	Info           string `json:"info"`
}

// Streams returns /rest-api/stream/find_all.
func (e *Env) Streams() []Stream {
	e.T.Helper()
	code, body := e.Post("/rest-api/stream/find_all", "")
	if code != 200 {
		e.T.Fatalf("find_all: %d %s", code, body)
	}
	var out []Stream
	if err := json.Unmarshal(body, &out); err != nil {
		e.T.Fatalf("find_all: %v: %s", err, body)
	}
	return out
}

// WaitStream waits until a stream of that name has the status, and returns it.
func (e *Env) WaitStream(name, status string, timeout time.Duration) Stream {
	e.T.Helper()
	var last []Stream
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = e.Streams()
		for _, s := range last {
			if s.Name == name && s.Status == status {
				return s
			}
		}
	}
	e.T.Fatalf("stream %q never reached %s within %v; streams: %+v", name, status, timeout, last)
	return Stream{}
}

// WaitGone waits until no stream has that name (it was unpublished and its recording finished).
func (e *Env) WaitGone(name string, timeout time.Duration) {
	e.T.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		found := false
		for _, s := range e.Streams() {
			found = found || s.Name == name
		}
		if !found {
			return
		}
	}
	e.T.Fatalf("stream %q still published after %v", name, timeout)
}

// RecordFiles lists the files in records/, leaving out the server's hidden bookkeeping (the
// library index, the journal of files being written).
func (e *Env) RecordFiles() []string {
	e.T.Helper()
	ents, err := os.ReadDir(e.Records)
	if err != nil {
		e.T.Fatal(err)
	}
	var out []string
	for _, en := range ents {
		if !strings.HasPrefix(en.Name(), ".") {
			out = append(out, en.Name())
		}
	}
	return out
}

// Command runs a program with a timeout and returns its combined output.
func Command(t testing.TB, timeout time.Duration, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s timed out after %v", name, timeout)
	}
}
