package wcs_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/wcs"
	"github.com/streamrec/streamrec/internal/webrtc"
)

// env is a signalling server with a real registry and WebRTC ingest on loopback.
type env struct {
	t   *testing.T
	reg *stream.Registry
	url string
	log *testWriter
}

func start(t *testing.T, ping time.Duration, portFrom, portTo int) *env {
	t.Helper()
	w := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(w, nil))
	settings := conf.Defaults()
	reg := stream.New(stream.Config{Log: log, Attach: recording.New(recording.Config{Settings: func() *conf.Settings { return settings }, Files: records.New(t.TempDir(), nil)}).Attach})
	engine, err := webrtc.New(webrtc.Config{PortFrom: portFrom, PortTo: portTo, Log: log, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := wcs.New(wcs.Config{Streams: reg, WebRTC: engine, Log: log, PingInterval: ping})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	t.Cleanup(func() {
		reg.Close()
		srv.Close()
		engine.Close()
	})
	return &env{t: t, reg: reg, url: "ws://" + ln.Addr().String(), log: w}
}

// testWriter passes the server's log to the test's, and counts lines holding a text.
type testWriter struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (w *testWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.mu.Lock()
	w.lines = append(w.lines, line)
	w.mu.Unlock()
	w.t.Log(line)
	return len(p), nil
}

func (w *testWriter) count(text string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.lines {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// client is a plain WebSocket client speaking the protocol by hand.
type client struct {
	t        *testing.T
	c        *websocket.Conn
	frames   chan frame
	mu       sync.Mutex // one writer at a time
	autoPong atomic.Bool
}

type frame struct {
	Message string            `json:"message"`
	Data    []json.RawMessage `json:"data"`
	raw     string
}

func (e *env) dial(path string) *client {
	e.t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(e.url+path, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", path, err)
	}
	cl := &client{t: e.t, c: c, frames: make(chan frame, 100)}
	go func() {
		defer close(cl.frames)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				e.t.Errorf("server frame is not JSON: %s", b)
				continue
			}
			f.raw = string(b)
			if f.Message == "ping" && cl.autoPong.Load() {
				cl.write([]byte(`{"message":"pong","data":[null]}`))
				continue
			}
			// Every server frame carries a data array: the SDK reads data[0] of each.
			var probe map[string]json.RawMessage
			json.Unmarshal(b, &probe)
			if d := strings.TrimSpace(string(probe["data"])); !strings.HasPrefix(d, "[") || d == "[]" {
				e.t.Errorf("server frame without a data array: %s", b)
			}
			cl.frames <- f
		}
	}()
	e.t.Cleanup(func() { c.Close() })
	return cl
}

func (c *client) send(message string, data any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"message": message, "data": []any{data}})
	c.raw(b)
}

func (c *client) raw(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.WriteMessage(websocket.TextMessage, b)
}

// expect returns the next frame named message, skipping pings; other frames fail the test.
func (c *client) expect(message string) frame {
	c.t.Helper()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", message)
			}
			if f.Message == "ping" && message != "ping" {
				continue
			}
			if f.Message != message {
				c.t.Fatalf("got %s, want %s", f.raw, message)
			}
			return f
		case <-time.After(10 * time.Second):
			c.t.Fatalf("no %s within 10 s", message)
		}
	}
}

func (f frame) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if len(f.Data) == 0 || json.Unmarshal(f.Data[0], &m) != nil {
		t.Fatalf("data[0] of %s is not an object", f.raw)
	}
	return m
}

// connect establishes the session as the SDK does.
func (c *client) connect(login string) map[string]any {
	c.t.Helper()
	c.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC", "MSE", "WSPlayer"},
		"clientVersion": "2.0", "msePacketizationVersion": 2, "custom": map[string]any{"login": login}})
	return c.expect("getUserData").obj(c.t)
}

// alive checks the socket still answers.
func (c *client) alive() {
	c.t.Helper()
	c.send("ping", nil)
	c.expect("pong")
}

func (c *client) wantFail(says string) {
	c.t.Helper()
	m := c.expect("fail").obj(c.t)
	if info, _ := m["info"].(string); !strings.Contains(info, says) {
		c.t.Errorf("fail info %q, want it to say %q", info, says)
	}
}

func offer(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../webrtc/testdata/chrome-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func publishMsg(id, name, sdp string) map[string]any {
	return map[string]any{"mediaSessionId": id, "name": name, "published": true, "hasVideo": true, "hasAudio": true,
		"status": "PENDING", "record": true, "mediaProvider": "WebRTC", "sdp": sdp, "bitrate": 0, "minBitrate": 0, "maxBitrate": 0}
}

func TestSessionEstablished(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/any/path/stream1")
	m := c.connect("alice")
	if m["status"] != "ESTABLISHED" || m["authToken"] == "" || m["login"] != "alice" {
		t.Errorf("getUserData %v", m)
	}
}

func TestBadFramesGetFailAndKeepTheSocket(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	c.raw([]byte(`{"message":"connection","data":[{"appKey":`))
	c.wantFail("malformed JSON")
	c.alive()
	c.raw([]byte(`{"data":[{}]}`))
	c.wantFail(`"message"`)
	c.alive()
	c.send("publishStream", publishMsg("11111111-2222-3333-4444-555555555555", "early", offer(t)))
	c.wantFail("connection")
	c.connect("")
	c.send("noSuchMessage", map[string]any{"x": 1})
	c.wantFail("unknown message")
	c.alive()
	c.raw([]byte(`{"message":"sendData","data":[{"operationId":"op1","payload":` + `"` + strings.Repeat("x", 300<<10) + `"}]}`))
	c.wantFail("too large")
	c.alive()
	c.mu.Lock()
	err := c.c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	c.wantFail("binary")
	c.send("publishStream", map[string]any{"name": "x"})
	c.wantFail("mediaSessionId")
	c.send("unPublishStream", map[string]any{"mediaSessionId": "nobody", "name": "x"})
	c.wantFail("no stream")
	c.send("call", map[string]any{"callId": "c1"})
	c.wantFail("SIP")
	c.alive()
	// Messages the SDK sends that need no answer do not get one.
	c.send("pushLogs", map[string]any{"logs": "..."})
	c.send("sendStreamEvent", map[string]any{"mediaSessionId": "x", "type": "audioMuted"})
	c.alive()
}

// A client sending bad frames in a loop gets "fail" for each, but one log line a minute.
func TestRefusalsLoggedOnceAMinute(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	for range 20 {
		c.raw([]byte(`{"data":[{}]}`))
		c.wantFail(`"message"`)
	}
	if n := e.log.count("signalling request refused"); n != 1 {
		t.Errorf("20 refused frames gave %d log lines, want 1", n)
	}
}

// answerPorts returns the ports of the answer's UDP candidates.
func answerPorts(t *testing.T, sdp string) (ports []int, hosts []string) {
	t.Helper()
	re := regexp.MustCompile(`a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host`)
	for _, m := range re.FindAllStringSubmatch(sdp, -1) {
		p, _ := strconv.Atoi(m[2])
		ports = append(ports, p)
		hosts = append(hosts, m[1])
	}
	if len(ports) == 0 {
		t.Fatalf("the answer has no host candidates:\n%s", sdp)
	}
	return ports, hosts
}

// freeUDPPort returns a UDP port free right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestPublishAnswersWithCandidatesInTheMediaRange(t *testing.T) {
	from := min(freeUDPPort(t), 65000)
	to := from + 100
	e := start(t, 0, from, to)
	c := e.dial("/")
	c.connect("bob")
	id := "8f5f2d3c-0000-4000-8000-000000000001"
	c.send("publishStream", publishMsg(id, "range", offer(t)))
	f := c.expect("setRemoteSDP")
	var gotID, answer string
	if len(f.Data) != 2 || json.Unmarshal(f.Data[0], &gotID) != nil || json.Unmarshal(f.Data[1], &answer) != nil || gotID != id {
		t.Fatalf("setRemoteSDP %s, want [mediaSessionId, answer]", f.raw)
	}
	ports, hosts := answerPorts(t, answer)
	for _, p := range ports {
		if p < from || p > to {
			t.Errorf("candidate port %d outside media_port_from..media_port_to (%d-%d)", p, from, to)
		}
	}
	if !strings.Contains(strings.Join(hosts, " "), "127.0.0.1") {
		t.Errorf("no loopback candidate among %v", hosts)
	}
	if !strings.Contains(answer, "a=rtpmap:108 H264/90000") || !strings.Contains(answer, "profile-level-id=42e01f") {
		t.Errorf("the answer does not prefer H.264 42e01f (payload 108):\n%s", answer)
	}
	if m := regexp.MustCompile(`m=video \d+ \S+ (\d+)`).FindStringSubmatch(answer); m == nil || m[1] != "108" {
		t.Errorf("first video payload type of the answer: %v, want 108", m)
	}
	st, err := e.reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Snapshot(); wcs.StatusName(s.Status) != "PENDING" || s.Login != "bob" || s.MediaProvider != "WebRTC" || s.Name != "range" {
		t.Errorf("registry: %+v", s)
	}
}

func TestSharedMediaPort(t *testing.T) {
	port := freeUDPPort(t)
	e := start(t, 0, port, port)
	for i := range 2 {
		c := e.dial("/")
		c.connect("")
		c.send("publishStream", publishMsg(fmt.Sprintf("8f5f2d3c-0000-4000-8000-00000000010%d", i), fmt.Sprint("shared", i), offer(t)))
		var answer string
		json.Unmarshal(c.expect("setRemoteSDP").Data[1], &answer)
		ports, _ := answerPorts(t, answer)
		for _, p := range ports {
			if p != port {
				t.Errorf("publisher %d: candidate port %d, want the shared port %d", i, p, port)
			}
		}
	}
}

func TestDuplicateNameFails(t *testing.T) {
	e := start(t, 0, 0, 0)
	a, b := e.dial("/"), e.dial("/")
	a.connect("")
	b.connect("")
	a.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000011", "same", offer(t)))
	a.expect("setRemoteSDP")
	b.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000012", "same", offer(t)))
	m := b.expect("notifyStreamStatusEvent").obj(t)
	if m["status"] != "FAILED" || m["info"] != "Stream name is already in use" || m["mediaSessionId"] != "8f5f2d3c-0000-4000-8000-000000000012" {
		t.Errorf("second publisher of a name: %v", m)
	}
}

func TestUnrecordableCodecFails(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	c.connect("")
	// The offer of a browser told to strip H.264 and VP8 (stripCodecs "H264,VP8"): VP9 and AV1 only.
	sdp := regexp.MustCompile(`(?m)^a=(rtpmap|fmtp|rtcp-fb):(96|102|104|108|114|116|39) .*\r\n`).ReplaceAllString(offer(t), "")
	sdp = regexp.MustCompile(` (96|102|104|108|114|116|39)\b`).ReplaceAllString(sdp, "")
	c.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000021", "vp9", sdp))
	m := c.expect("notifyStreamStatusEvent").obj(t)
	info, _ := m["info"].(string)
	if m["status"] != "FAILED" || !strings.Contains(info, "No common codecs") || !strings.Contains(info, "VP9") {
		t.Errorf("VP9/AV1-only publisher: %v", m)
	}
	if _, err := e.reg.ByName("vp9"); err == nil {
		t.Error("the failed stream is still registered")
	}
	c.alive()
}

func TestSocketDropUnpublishes(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	c.connect("")
	c.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000031", "dropped", offer(t)))
	c.expect("setRemoteSDP")
	if _, err := e.reg.ByName("dropped"); err != nil {
		t.Fatal(err)
	}
	c.c.NetConn().Close() // no close frame: the connection just vanishes
	waitGone(t, e.reg, "dropped")
}

func waitGone(t *testing.T, reg *stream.Registry, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := reg.ByName(name); err != nil {
			return
		}
	}
	t.Fatalf("stream %s still registered", name)
}

func TestKeepAlive(t *testing.T) {
	e := start(t, 100*time.Millisecond, 0, 0)
	// A client that answers pings stays.
	live := e.dial("/")
	live.connect("")
	for range 5 {
		live.expect("ping")
		live.send("pong", nil)
	}
	live.autoPong.Store(true)
	live.alive()
	// A client that goes silent is dropped after three intervals, and its stream with it.
	silent := e.dial("/")
	silent.connect("")
	silent.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000041", "silent", offer(t)))
	silent.expect("setRemoteSDP")
	start := time.Now()
	waitGone(t, e.reg, "silent")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("silent client dropped after %v: too early", d)
	}
	live.alive()
}

func TestUnpublishBeforeMedia(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	c.connect("")
	id := "8f5f2d3c-0000-4000-8000-000000000051"
	c.send("publishStream", publishMsg(id, "brief", offer(t)))
	c.expect("setRemoteSDP")
	c.send("unPublishStream", map[string]any{"mediaSessionId": id, "name": "brief", "record": false})
	m := c.expect("notifyStreamStatusEvent").obj(t)
	if m["status"] != "UNPUBLISHED" || m["mediaSessionId"] != id {
		t.Errorf("unPublishStream: %v", m)
	}
	waitGone(t, e.reg, "brief")
}

// TestStreamEndedElsewhere: a stream terminated through REST (or at shutdown) ends in the
// registry; its publisher hears UNPUBLISHED and the server lets go of its peer connection.
func TestStreamEndedElsewhere(t *testing.T) {
	e := start(t, 0, 0, 0)
	c := e.dial("/")
	c.connect("")
	id := "8f5f2d3c-0000-4000-8000-000000000061"
	c.send("publishStream", publishMsg(id, "terminated", offer(t)))
	c.expect("setRemoteSDP")
	st, err := e.reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	st.Unpublish() // what /rest-api/stream/terminate does
	m := c.expect("notifyStreamStatusEvent").obj(t)
	if m["status"] != "UNPUBLISHED" || m["mediaSessionId"] != id {
		t.Errorf("terminated stream: %v", m)
	}
	c.alive()
	// The name is free again for a new publication.
	c.send("publishStream", publishMsg("8f5f2d3c-0000-4000-8000-000000000062", "terminated", offer(t)))
	c.expect("setRemoteSDP")
}
