package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// chromium is Debian's Chromium: the browser tests never download a browser.
const chromium = "/usr/bin/chromium"

// browserEvent is one line of internal/wcs/testdata/driver.mjs.
type browserEvent struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`   // session, stream, stopping, dropped, error, console
	Status         string `json:"status"` // SDK session or stream status
	Info           string `json:"info"`
	RecordName     string `json:"recordName"`
	MediaSessionID string `json:"mediaSessionId"`
	Text           string `json:"text"`
	T              int64  `json:"t"` // browser clock, ms
	at             time.Time
}

// browser is headless Chromium publishing with the npm Web SDK, driven by driver.mjs.
type browser struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu     sync.Mutex
	events []browserEvent
	change chan struct{}
}

// publishOpts are the SDK's createStream options the test page passes on.
type publishOpts struct {
	URL         string `json:"url"`
	Name        string `json:"name"`
	Record      bool   `json:"record"`
	StripCodecs string `json:"stripCodecs,omitempty"`
	NoAudio     bool   `json:"-"`
	NoVideo     bool   `json:"-"`
	Login       string `json:"login,omitempty"`
}

// requireBrowser skips a browser test where Chromium is missing, except in CI (CI set), where
// the browser tests must run.
func requireBrowser(t *testing.T) {
	t.Helper()
	_, err := os.Stat(chromium)
	if err == nil {
		_, err = os.Stat(filepath.Join("..", "..", "node_modules", "playwright-core", "package.json"))
		if err != nil {
			err = fmt.Errorf("node_modules/playwright-core is missing (run npm ci): %w", err)
		}
	}
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser test cannot run in CI: %v", err)
		}
		t.Skipf("browser test skipped: %v (make test installs chromium and runs npm ci)", err)
	}
}

// startBrowser launches Chromium; it is closed when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	requireBrowser(t)
	page, err := filepath.Abs(filepath.Join("..", "wcs", "testdata", "publish.html"))
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, change: make(chan struct{})}
	b.cmd = exec.Command("node", filepath.Join("..", "wcs", "testdata", "driver.mjs"), "file://"+page)
	b.cmd.Stderr = testLog{t, "driver: "}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if b.stdin, err = b.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("node driver.mjs: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e browserEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Logf("driver: %s", sc.Bytes())
				continue
			}
			e.at = time.Now()
			t.Logf("browser %s: %s", e.ID, sc.Bytes())
			b.mu.Lock()
			b.events = append(b.events, e)
			close(b.change)
			b.change = make(chan struct{})
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.send(map[string]any{"cmd": "exit"})
		b.stdin.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
		}
		b.cmd.Wait()
	})
	b.wait("", "ready", "", 30*time.Second)
	return b
}

func (b *browser) send(cmd map[string]any) {
	line, _ := json.Marshal(cmd)
	b.stdin.Write(append(line, '\n'))
}

// publish opens a page that publishes a stream; id names it in later calls.
func (b *browser) publish(id string, o publishOpts) {
	cmd := map[string]any{"cmd": "publish", "id": id, "url": o.URL, "name": o.Name, "record": o.Record,
		"stripCodecs": o.StripCodecs, "audio": !o.NoAudio, "video": !o.NoVideo, "login": o.Login}
	b.send(cmd)
}

// stop calls stream.stop() and returns when it was called.
func (b *browser) stop(id string) (time.Time, error) {
	b.send(map[string]any{"cmd": "stop", "id": id})
	e, err := b.await(id, "stopping", "", 10*time.Second)
	return e.at, err
}

// drop closes the page: the socket and the peer connection vanish without a word.
func (b *browser) drop(id string) {
	b.send(map[string]any{"cmd": "drop", "id": id})
	b.wait(id, "dropped", "", 10*time.Second)
}

// wait returns the first event of id with that kind and status (status "" matches any). A
// FAILED stream or an error fails the test unless it is what is awaited.
func (b *browser) wait(id, kind, status string, timeout time.Duration) browserEvent {
	b.t.Helper()
	e, err := b.await(id, kind, status, timeout)
	if err != nil {
		b.t.Fatal(err)
	}
	return e
}

// await is wait for other goroutines than the test's: it returns the failure instead.
func (b *browser) await(id, kind, status string, timeout time.Duration) (browserEvent, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		b.mu.Lock()
		events, change := b.events, b.change
		b.mu.Unlock()
		for ; seen < len(events); seen++ {
			e := events[seen]
			if e.ID != id {
				continue
			}
			if e.Kind == kind && (status == "" || e.Status == status) {
				return e, nil
			}
			if e.Kind == "error" || (e.Kind == "stream" && e.Status == "FAILED") {
				return e, fmt.Errorf("browser %s: %+v while waiting for %s %s", id, e, kind, status)
			}
		}
		select {
		case <-change:
		case <-deadline:
			return browserEvent{}, fmt.Errorf("browser %s: no %s %s within %v", id, kind, status, timeout)
		}
	}
}

// testLog writes a program's stderr to the test log.
type testLog struct {
	t      *testing.T
	prefix string
}

func (w testLog) Write(p []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, p)
	return len(p), nil
}
