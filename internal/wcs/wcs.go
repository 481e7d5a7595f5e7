// Package wcs is the WebSocket signalling of Flashphoner WCS that the official Web SDK
// (@flashphoner/websdk) speaks: sessions (connection → getUserData), publishing over WebRTC
// (publishStream with the SDP offer → setRemoteSDP with the answer, notifyStreamStatusEvent for
// PUBLISHING, UNPUBLISHED, FAILED), unPublishStream, ping/pong keep-alive. Every frame is
// {"message": NAME, "data": [...]}. A bad frame gets a "fail" frame saying why and never
// closes the socket; a socket that goes away unpublishes its streams, finishing their
// recordings. The WebSocket upgrade is accepted on any path.
package wcs

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webrtc"
)

// Defaults of Config.
const (
	DefaultMaxMessage   = 256 << 10
	DefaultPingInterval = 10 * time.Second
	// hardLimit: a frame this large is not even drained; the connection is closed (1009).
	hardLimit = 16 << 20
	// writeTimeout bounds one frame's write to a client.
	writeTimeout = 10 * time.Second
	// outQueue frames may wait for a slow client; past that it is disconnected.
	outQueue = 256
	// upgradeTimeout bounds the TLS handshake and the read of the WebSocket upgrade request.
	// Then the first frame must come within three ping intervals, as every frame after it.
	upgradeTimeout = 30 * time.Second
)

// Config wires the signalling to the registry and the WebRTC ingest.
type Config struct {
	Streams *stream.Registry
	WebRTC  *webrtc.Engine
	Log     *slog.Logger
	// MaxMessage is the largest frame handled; a larger one gets "fail". 0: DefaultMaxMessage.
	MaxMessage int
	// PingInterval: the server pings this often and drops a client silent for three intervals.
	// 0: DefaultPingInterval.
	PingInterval time.Duration
	// Cameras captures the RTSP camera a playStream names by its rtsp:// URL (nil: none).
	Cameras Cameras
}

// Cameras captures RTSP cameras for sessions that play them by URL, as WCS users do.
type Cameras interface {
	// Capture starts pulling the camera at uri, unless it is pulled already, and returns the
	// name of its stream.
	Capture(uri string) (streamName string, err error)
	// Release says one capturing session is done with it; the last one stops a camera that
	// Capture added.
	Release(uri string)
}

// Server accepts signalling connections. Safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	app   *fiber.App
	unsub func()
	// refusals logs refused frames and streams once a minute per client address: one client
	// sending bad frames in a loop cannot flood the log.
	refusals *lograte.Limiter

	mu        sync.Mutex
	sessions  map[*session]struct{}
	byID      map[string]*session // mediaSessionId → the session that publishes it
	listeners []net.Listener
	closed    bool
	wg        sync.WaitGroup
}

// New returns a signalling server; Serve gives it listeners.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	s := &Server{cfg: cfg, log: cfg.Log.With("signalling", "wcs"), sessions: map[*session]struct{}{}, byID: map[string]*session{},
		refusals: lograte.New(time.Minute, 10_000)}
	s.app = fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: upgradeTimeout})
	s.app.Use(func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return c.Status(fiber.StatusUpgradeRequired).SendString("WCS signalling: connect with a WebSocket (ws:// or wss://)\n")
		}
		return c.Next()
	})
	s.app.Use(websocket.New(s.serve, websocket.Config{
		ReadBufferSize:  8 << 10,
		WriteBufferSize: 8 << 10,
		RecoverHandler: func(c *websocket.Conn) {
			if r := recover(); r != nil {
				s.log.Error("signalling session panicked", "panic", r)
			}
		},
	}))
	s.unsub = cfg.Streams.Subscribe(s.onStream)
	return s
}

// Serve accepts connections on ln (plain or TLS) until Close.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	go func() {
		if err := s.app.Listener(ln); err != nil {
			s.log.Debug("signalling listener ended", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Close stops accepting, closes every session (their streams are unpublished and their
// recordings finished) and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	list := make([]*session, 0, len(s.sessions))
	for se := range s.sessions {
		list = append(list, se)
	}
	s.mu.Unlock()
	_ = s.app.ShutdownWithTimeout(2 * time.Second)
	s.mu.Lock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	for _, se := range list {
		se.conn.Close()
	}
	s.wg.Wait()
	s.unsub()
}

// serve runs one WebSocket connection.
func (s *Server) serve(c *websocket.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	se := newSession(s, c.Conn) // the connection itself: c is pooled and reused once serve returns
	s.sessions[se] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	se.run()
	s.mu.Lock()
	delete(s.sessions, se)
	s.mu.Unlock()
}

// onStream passes a registry event to the session that publishes the stream.
func (s *Server) onStream(snap stream.Snapshot) {
	s.mu.Lock()
	se := s.byID[snap.MediaSessionID]
	s.mu.Unlock()
	if se != nil {
		se.streamEvent(snap)
	}
}

// own routes a stream's events to se.
func (s *Server) own(id string, se *session) {
	s.mu.Lock()
	s.byID[id] = se
	s.mu.Unlock()
}

func (s *Server) disown(id string, se *session) {
	s.mu.Lock()
	if s.byID[id] == se {
		delete(s.byID, id)
	}
	s.mu.Unlock()
}

// remoteID is the WCS session id: "/remote:port/local:port".
func remoteID(remote, local net.Addr) string {
	var b strings.Builder
	for _, a := range []net.Addr{remote, local} {
		b.WriteByte('/')
		if a != nil {
			b.WriteString(a.String())
		}
	}
	return b.String()
}

var errSlowClient = errors.New("the client does not read its frames")
