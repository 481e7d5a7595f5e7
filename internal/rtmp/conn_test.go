package rtmp

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	"github.com/streamrec/streamrec/internal/stream"
)

func testServer(t *testing.T) (*Server, *stream.Registry) {
	t.Helper()
	settings := conf.Defaults()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := stream.New(stream.Config{Log: log, Attach: recording.New(recording.Config{Settings: func() *conf.Settings { return settings }, Files: records.New(t.TempDir(), nil)}).Attach})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Listen(ln, reg, log)
	t.Cleanup(func() { s.Close(); reg.Close() })
	return s, reg
}

// client is a minimal RTMP publisher speaking through the chunk package.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *chunk.Reader
	w  *chunk.Writer
}

func dial(t *testing.T, s *Server, handshake bool) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	c := &client{t: t, nc: nc, r: chunk.NewReader(br, limits), w: chunk.NewWriter(nc)}
	if handshake {
		if _, err := nc.Write(append([]byte{3}, make([]byte, 1536)...)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(br, make([]byte, 1+2*1536)); err != nil {
			t.Fatal(err)
		}
		nc.Write(make([]byte, 1536))
	}
	return c
}

func (c *client) command(streamID uint32, vals ...any) {
	c.t.Helper()
	if err := c.w.Write(&chunk.Message{ChunkStream: 3, Type: chunk.TypeCommandAMF0, StreamID: streamID, Payload: amf0.Append(nil, vals...)}); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads messages until a command named name and returns its values.
func (c *client) expect(name string) []any {
	c.t.Helper()
	for {
		m, err := c.r.Read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", name, err)
		}
		if m.Type != chunk.TypeCommandAMF0 {
			continue
		}
		vals, err := amf0.Decode(m.Payload)
		if err != nil {
			c.t.Fatal(err)
		}
		if vals[0] == name {
			return vals
		}
	}
}

// closed tells whether the server closed the connection within d.
func (c *client) closed(d time.Duration) bool {
	c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c.nc)
	return err == nil
}

func (c *client) publish(name string) []any {
	c.command(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})
	if res := c.expect("_result"); res[3].(amf0.Object).Get("code") != "NetConnection.Connect.Success" {
		c.t.Fatalf("connect: %v", res)
	}
	c.command(0, "createStream", 2, nil)
	if res := c.expect("_result"); res[3] != 1.0 {
		c.t.Fatalf("createStream: %v", res)
	}
	c.command(1, "publish", 3, nil, name, "live")
	return c.expect("onStatus")
}

func TestPublishCommands(t *testing.T) {
	s, reg := testServer(t)
	c := dial(t, s, true)
	status := c.publish("cam?room=r1")
	if code := status[3].(amf0.Object).Get("code"); code != "NetStream.Publish.Start" {
		t.Fatalf("publish: %v", status)
	}
	if st, err := reg.ByName("cam"); err != nil || !st.ID().Room {
		t.Fatalf("stream cam in room r1 not registered: %v", st)
	}
	// A second publisher of the same name is told why.
	c2 := dial(t, s, true)
	status = c2.publish("cam")
	if info := status[3].(amf0.Object); info.Get("code") != "NetStream.Publish.BadName" || !strings.Contains(info.Get("description").(string), "in use") {
		t.Errorf("second publisher: %v", info)
	}
	if !c2.closed(2 * time.Second) {
		t.Error("the refused publisher stays connected")
	}
	c.command(1, "deleteStream", 4, nil, 1)
	deadline := time.Now().Add(2 * time.Second)
	for _, err := reg.ByName("cam"); err == nil && time.Now().Before(deadline); _, err = reg.ByName("cam") {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := reg.ByName("cam"); err == nil {
		t.Error("deleteStream did not end the stream")
	}
}

func TestStalledPeersAreDropped(t *testing.T) {
	defer func(h, c, p, i time.Duration) {
		handshakeTimeout, connectTimeout, publishTimeout, idleTimeout = h, c, p, i
	}(
		handshakeTimeout, connectTimeout, publishTimeout, idleTimeout)
	handshakeTimeout, connectTimeout, publishTimeout, idleTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	s, _ := testServer(t)
	for _, stage := range []string{"handshake", "connect", "publish", "media"} {
		t.Run(stage, func(t *testing.T) {
			c := dial(t, s, stage != "handshake")
			switch stage {
			case "publish":
				c.command(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})
				c.expect("_result")
			case "media":
				c.publish("stalled")
			}
			start := time.Now()
			if !c.closed(5 * time.Second) {
				t.Fatalf("a peer stalled before %s is still connected after 5 s", stage)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("dropped after %v", d)
			}
		})
	}
}

func TestProtocolViolationsEndTheConnection(t *testing.T) {
	s, _ := testServer(t)
	for name, send := range map[string]func(c *client){
		"publish before connect": func(c *client) { c.command(1, "publish", 1, nil, "x", "live") },
		"publish without createStream": func(c *client) {
			c.command(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})
			c.command(1, "publish", 2, nil, "x", "live")
		},
		"play": func(c *client) {
			c.command(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})
			c.command(1, "play", 2, nil, "x")
		},
		"RTMPE handshake": func(c *client) { c.nc.Write(append([]byte{6}, make([]byte, 1536)...)) },
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, s, name != "RTMPE handshake")
			send(c)
			if !c.closed(3 * time.Second) {
				t.Error("still connected")
			}
		})
	}
}

func TestEnhancedRTMPRefusedWithReason(t *testing.T) {
	_, reg := testServer(t)
	st, err := reg.Create(stream.Identity{Name: "obs", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	p := newPublisher(st)
	// OBS 30 HEVC: IsExHeader | keyframe, packet type 0 (sequence start), FourCC hvc1.
	err = p.video(0, []byte{0x90, 'h', 'v', 'c', '1', 1, 2, 3}, nil)
	if err == nil || !strings.Contains(err.Error(), "HEVC") || !strings.Contains(err.Error(), "publish H.264") {
		t.Errorf("enhanced RTMP HEVC: %v", err)
	}
}

// An idle publisher is dropped with the reason on its stream (issue 11: the info was empty).
func TestIdlePublisherEndsWithReason(t *testing.T) {
	defer func(i time.Duration) { idleTimeout = i }(idleTimeout)
	idleTimeout = 200 * time.Millisecond
	s, reg := testServer(t)
	var info string
	ended := make(chan struct{})
	cancel := reg.Subscribe(func(sn stream.Snapshot) {
		if sn.Status == stream.StatusUnpublished && sn.Info != "" && info == "" {
			info = sn.Info
			close(ended)
		}
	})
	defer cancel()
	c := dial(t, s, true)
	c.publish("idle")
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle publisher was not dropped")
	}
	if !strings.Contains(info, "nothing received") || !strings.Contains(info, "idle") {
		t.Errorf("info %q does not say the publisher was idle", info)
	}
}

// TestAudioRefusedOnStatus: a publisher of audio that cannot be recorded is told once, by an
// onStatus warning naming the codec, and the stream's info says it too.
func TestAudioRefusedOnStatus(t *testing.T) {
	s, reg := testServer(t)
	c := dial(t, s, true)
	c.publish("adpcm")
	for i := range 3 {
		adpcm := []byte{0x1e, 0, 0, 0, 0} // sound format 1, 44 kHz 16-bit mono
		if err := c.w.Write(&chunk.Message{ChunkStream: 4, Type: chunk.TypeAudio, StreamID: 1, Timestamp: uint32(i * 23), Payload: adpcm}); err != nil {
			t.Fatal(err)
		}
	}
	status := c.expect("onStatus")[3].(amf0.Object)
	if status.Get("level") != "warning" || status.Get("code") != "NetStream.Publish.AudioRefused" ||
		!strings.Contains(status.Get("description").(string), "ADPCM") {
		t.Fatalf("onStatus: %v", status)
	}
	st, err := reg.ByName("adpcm")
	if err != nil {
		t.Fatal(err)
	}
	if info := st.Snapshot().Info; !strings.Contains(info, "ADPCM") {
		t.Errorf("stream info %q, want the reason", info)
	}
}
