// Package rtmp is the RTMP ingest: encoders, OBS and ffmpeg publish here, and each publication
// becomes a stream in the registry. FLV tags, sequence headers and RTMP timestamps end here; the
// registry receives media.Tracks and media.Frames.
package rtmp

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"

	"github.com/streamrec/streamrec/server/stream"
)

// idleTimeout drops a connection that sends nothing for this long (a stalled or dead publisher).
const idleTimeout = 30 * time.Second

// maxMessageSize bounds one RTMP message (a video frame): larger ones end the connection.
const maxMessageSize = 16 << 20

// readBuffer is the connection's read buffer. go-rtmp's default (4 KB) makes a read system call
// for about every chunk; 16 KB takes most messages of a 2 Mbit/s stream in one call.
const readBuffer = 16 << 10

// Server accepts RTMP publishers.
type Server struct {
	reg *stream.Registry
	log *slog.Logger
	ln  net.Listener
	srv *gortmp.Server

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Listen starts accepting RTMP connections on ln, and closes it on Close.
func Listen(ln net.Listener, reg *stream.Registry, log *slog.Logger) *Server {
	s := &Server{reg: reg, log: log.With("ingest", "rtmp"), ln: ln, conns: map[net.Conn]struct{}{}}
	s.srv = gortmp.NewServer(&gortmp.ServerConfig{OnConnect: s.onConnect})
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, gortmp.ErrClosed) {
			s.log.Error("rtmp listener stopped", "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String())
	return s
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and waits for their streams to end, so their
// recordings are finished when it returns.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) onConnect(nc net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
	s.mu.Lock()
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	h := &handler{srv: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String())}
	return &idleConn{Conn: nc}, &gortmp.ConnConfig{
		Handler:          h,
		ReaderBufferSize: readBuffer,
		ControlState: gortmp.StreamControlStateConfig{
			DefaultBandwidthWindowSize: 6 * 1024 * 1024 / 8,
			MaxMessageSize:             maxMessageSize,
		},
		Logger: quietLogger(),
	}
}

// forget is called once a connection has ended.
func (s *Server) forget(nc net.Conn) {
	s.mu.Lock()
	if _, ok := s.conns[nc]; ok {
		delete(s.conns, nc)
		s.wg.Done()
	}
	s.mu.Unlock()
}

// idleConn ends a read that waits longer than idleTimeout (give or take a second: the deadline
// is moved at most once a second, not at every read).
type idleConn struct {
	net.Conn
	set time.Time // when the deadline was last moved
}

func (c *idleConn) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(c.set) >= time.Second {
		c.set = now
		c.Conn.SetReadDeadline(now.Add(idleTimeout + time.Second))
	}
	return c.Conn.Read(p)
}

// quietLogger silences go-rtmp's own logrus output: our handler logs what matters with slog.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	l.Level = logrus.PanicLevel // not even formatted
	return l
}
