package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// withBystander is settings plus what a Bystander needs.
func withBystander(settings map[string]string) map[string]string {
	all := maps.Clone(st.BystanderSettings)
	maps.Copy(all, settings)
	return all
}

// dialIdle opens n TCP connections to 127.0.0.1:port, each from one of the source addresses in
// turn, and sends nothing on them; they are closed by close (or when the test ends). A
// connection the server resets before the dial returns is not kept.
func dialIdle(t *testing.T, port, n int, from ...string) (close func()) {
	t.Helper()
	var conns []net.Conn
	for i := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from[i%len(from)])}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if errors.Is(err, syscall.ECONNRESET) {
			continue
		}
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	close = func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	t.Cleanup(close)
	return close
}

// waitHeld waits until the server holds want connections on port, and fails the test with the
// count it holds when that does not happen within timeout.
func waitHeld(t *testing.T, port, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := st.HeldConnections(t, port)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections on port %d, want %d", n, port, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heldAfterFlood is how many connections the server holds on port once it has accepted a flood.
func heldAfterFlood(t *testing.T, port int) int {
	t.Helper()
	time.Sleep(time.Second) // the server accepts (and refuses) the whole backlog
	return st.HeldConnections(t, port)
}

// 50 idle connections from the address of an honest publisher: the server holds only the
// publisher's and 4 more, logs the refusal once, and the publisher's recording is complete.
func TestRTMPConnectionsPerAddressLimit(t *testing.T) {
	st.RequireFFmpeg(t)
	e := st.Start(t, withBystander(map[string]string{"max_connections_per_address": "5"}))
	port := e.Ports["rtmp.port"]
	b := st.StartBystander(e, "bystander") // 1 of the 5 connections from 127.0.0.1
	waitHeld(t, port, 1, 5*time.Second)

	closeFlood := dialIdle(t, port, 50, "127.0.0.1")
	if n := heldAfterFlood(t, port); n != 5 {
		t.Errorf("after 50 idle connections from 127.0.0.1 the server holds %d RTMP connections, want 5 (max_connections_per_address)", n)
	}
	refusals := e.LogLines("connection refused", "listener=rtmp.port", "remote=127.0.0.1", "limit=max_connections_per_address", "max=5")
	if len(refusals) != 1 {
		t.Errorf("%d refusals logged for 46 refused connections, want 1:\n%s", len(refusals), strings.Join(refusals, "\n"))
	}

	// Closed connections give their places back.
	closeFlood()
	waitHeld(t, port, 1, 10*time.Second)
	dialIdle(t, port, 4, "127.0.0.1")
	if n := heldAfterFlood(t, port); n != 5 {
		t.Errorf("4 new connections once the flood closed: the server holds %d, want 5", n)
	}
	b.Check()
}

// 50 idle connections from 10 other addresses: the server holds the honest publisher's and 4
// more in all, and logs one refusal for each address.
func TestRTMPConnectionsTotalLimit(t *testing.T) {
	st.RequireFFmpeg(t)
	e := st.Start(t, withBystander(map[string]string{"max_connections": "5"}))
	port := e.Ports["rtmp.port"]
	b := st.StartBystander(e, "bystander")
	waitHeld(t, port, 1, 5*time.Second)

	var sources []string
	for i := 2; i < 12; i++ {
		sources = append(sources, fmt.Sprintf("127.0.0.%d", i))
	}
	dialIdle(t, port, 50, sources...)
	if n := heldAfterFlood(t, port); n != 5 {
		t.Errorf("after 50 idle connections the server holds %d RTMP connections, want 5 (max_connections)", n)
	}
	refusals := e.LogLines("connection refused", "listener=rtmp.port", "limit=max_connections max=5")
	if len(refusals) != len(sources) {
		t.Errorf("%d refusals logged, want %d (one per source address):\n%s", len(refusals), len(sources), strings.Join(refusals, "\n"))
	}
	b.Check()
}

// Every listener has the limit: a flood from one address is held to 5 connections on each
// port, and does not keep another address from REST.
func TestEveryListenerLimitsConnectionsPerAddress(t *testing.T) {
	e := st.Start(t, map[string]string{"max_connections_per_address": "5"})
	for _, key := range []string{"http.port", "https.port", "ws.port", "wss.port", "rtmp.port", "rtsp.port"} {
		port := e.Ports[key]
		closeFlood := dialIdle(t, port, 20, "127.0.0.2")
		if n := heldAfterFlood(t, port); n != 5 {
			t.Errorf("%s: after 20 idle connections from 127.0.0.2 the server holds %d, want 5", key, n)
		}
		closeFlood()
	}
	e.Streams() // from 127.0.0.1: fails the test when refused
}

// A 1 MB signalling message gets a "fail" frame and the session goes on; a message past the hard
// limit (16 MB) closes only that socket. An honest recording runs beside them.
func TestWebSocketMessageTooLarge(t *testing.T) {
	st.RequireFFmpeg(t)
	e := st.Start(t, withBystander(nil))
	b := st.StartBystander(e, "bystander")
	url := "ws://127.0.0.1:" + strconv.Itoa(e.Ports["ws.port"])

	w := dialWCS(t, url)
	big, _ := json.Marshal(map[string]any{"message": "connection", "data": []any{map[string]string{"appKey": strings.Repeat("x", 1<<20)}}})
	w.wmu.Lock()
	err := w.c.WriteMessage(websocket.TextMessage, big)
	w.wmu.Unlock()
	if err != nil {
		t.Fatalf("send 1 MB: %v", err)
	}
	fail, err := w.next("fail", 10*time.Second)
	if err != nil || !strings.Contains(string(fail[0]), "message too large") {
		t.Fatalf("1 MB message: want a fail frame saying it is too large, got %s (%v)", fail, err)
	}
	w.send("connection", map[string]string{"appKey": "defaultApp"})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatalf("the session does not go on after a refused 1 MB message: %v", err)
	}

	huge := dialWCS(t, url)
	huge.wmu.Lock()
	huge.c.WriteMessage(websocket.TextMessage, make([]byte, 17<<20)) // may fail: the server closes
	huge.wmu.Unlock()
	if _, err := huge.next("getUserData", 10*time.Second); err == nil {
		t.Error("a 17 MB message left the socket open")
	}
	b.Check()
}

// A request header past 4 KB is answered 431 and the server goes on.
func TestHTTPHeaderTooLarge(t *testing.T) {
	e := st.Start(t, nil)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.Ports["http.port"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 16<<10))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(status, " 431 ") {
		t.Errorf("a 16 KB header: status %q (%v), want 431", status, err)
	}
	e.Streams()
}

// With every *.address set to 127.0.0.1, each listener leaves the same port free on 127.0.0.2:
// it is not bound to every interface.
func TestListenersBindToAddress(t *testing.T) {
	settings := map[string]string{}
	for _, name := range []string{"http", "https", "ws", "wss", "rtmp", "rtsp"} {
		settings[name+".address"] = "127.0.0.1"
	}
	rtsp := st.FreePort(t)
	for rtsp%2 != 0 {
		rtsp = st.FreePort(t) // even: RTSP takes UDP rtsp and rtsp+1, free now
	}
	settings["rtsp.port"] = strconv.Itoa(rtsp)
	e := st.Start(t, settings)
	e.Ports["rtsp.port"] = rtsp
	e.Streams()
	for key, port := range e.Ports {
		ln, err := net.Listen("tcp", "127.0.0.2:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("%s %d is taken on 127.0.0.2: %v", key, port, err)
			continue
		}
		ln.Close()
	}
	for _, p := range []int{rtsp, rtsp + 1} {
		c, err := net.ListenPacket("udp", "127.0.0.2:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("RTSP UDP port %d is taken on 127.0.0.2: %v", p, err)
			continue
		}
		c.Close()
	}
}

// A client that trickles its request, or never starts the TLS handshake, is disconnected once
// the listener's read timeout has passed: HTTP(S) 60 s, WS(S) 30 s, RTSP 30 s (to start
// recording).
func TestSlowClientsDisconnected(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the read timeouts (about a minute)")
	}
	t.Parallel()
	e := st.Start(t, nil)
	cases := []struct {
		key     string
		trickle string // sent a byte every 2 s; "" = nothing sent (a TLS handshake never started)
		timeout time.Duration
	}{
		{"http.port", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100), time.Minute},
		{"https.port", "", time.Minute},
		{"ws.port", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: " + strings.Repeat("a", 100), 30 * time.Second},
		{"wss.port", "", 30 * time.Second},
		{"rtsp.port", "OPTIONS rtsp://127.0.0.1/live/x RTSP/1.0\r\nCSeq: 1\r\nX-Slow: " + strings.Repeat("a", 100), 30 * time.Second},
		{"rtsp.port", "", 30 * time.Second},
	}
	errs := make(chan error, len(cases))
	for _, c := range cases {
		go func() { errs <- disconnectedWithin(e.Ports[c.key], c.trickle, c.timeout) }()
	}
	for range cases {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// disconnectedWithin connects to port, trickles request, and says whether the server closed
// the connection within timeout (and not long before it: the timeout is what closed it).
func disconnectedWithin(port int, request string, timeout time.Duration) error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.SetReadDeadline(start.Add(timeout + 10*time.Second))
		var b [512]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-closed:
			if took := time.Since(start); took < timeout-3*time.Second || took > timeout+5*time.Second {
				return fmt.Errorf("port %d: a slow client was disconnected after %s, want %s", port, took.Round(time.Second), timeout)
			}
			return nil
		case <-time.After(2 * time.Second):
			if i < len(request) {
				c.Write([]byte{request[i]})
			}
		}
	}
}

// A publisher that records for longer than the RTSP setup deadline, over UDP (its control
// connection is silent while it records) and over TCP, is not cut off by it.
func TestRTSPPublishOutlastsSetupDeadline(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	if testing.Short() {
		t.Skip("publishes for 35 s")
	}
	e := st.Start(t, rtspSettings)
	long := st.Source{Seconds: 35, FPS: 25, GOP: 25, SampleRate: 44100}
	src := st.Make(t, long)
	errs := make(chan error, 2)
	for _, transport := range []string{"udp", "tcp"} {
		go func() {
			url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/long_%s", e.Ports["rtsp.port"], transport)
			out, err := st.Command(t, 2*time.Minute, "ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy",
				"-f", "rtsp", "-rtsp_transport", transport, url)
			if err != nil {
				err = fmt.Errorf("ffmpeg over %s: %v\n%s", transport, err, out)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, transport := range []string{"udp", "tcp"} {
		e.WaitGone("long_"+transport, 10*time.Second)
		checkRecording(t, filepath.Join(e.Records, "long_"+transport+".mp4"), long, 44100)
	}
}
