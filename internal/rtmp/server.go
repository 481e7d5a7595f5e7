// Package rtmp is the RTMP ingest: encoders, OBS and ffmpeg publish here, and each publication
// becomes a stream in the registry. The wire protocol (handshake, chunk streams) is in package
// chunk, command encoding in package amf0; FLV tags, sequence headers and RTMP timestamps end
// here: the registry receives media.Tracks and media.Frames.
package rtmp

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	"github.com/streamrec/streamrec/internal/stream"
)

// Limits of one RTMP connection (README, "Limits"). Each bounds what an anonymous peer can make
// the server hold or wait for; past one the connection is closed and the reason logged.
// (Variables only so that tests can shorten them.)
var (
	handshakeTimeout = 10 * time.Second // from accept to a finished handshake
	connectTimeout   = 10 * time.Second // from the handshake to the connect command
	publishTimeout   = 10 * time.Second // from connect to the publish command
	idleTimeout      = 30 * time.Second // a publisher that sends nothing for this long is dropped
	writeTimeout     = 5 * time.Second  // for each reply the server sends
)

const (
	// maxMediaMessage bounds an audio or video message (one frame): a 4K keyframe is 1-2 MB.
	maxMediaMessage = 4 << 20
	// maxCommandMessage bounds commands and metadata: real ones are under 1 KB.
	maxCommandMessage = 64 << 10
	// maxChunkStreams: publishers use 3 to 6 chunk streams.
	maxChunkStreams = 16
	// maxBuffered bounds the unfinished messages of a connection: a keyframe and its audio.
	maxBuffered = 8 << 20
	// maxChunkSize: encoders set 4 KB to 64 KB; RTMP allows up to 16 MB, the largest message.
	maxChunkSize = 1 << 24
	// maxMessageStreams bounds createStream calls: a publisher makes one.
	maxMessageStreams = 8
)

var limits = chunk.Limits{
	MaxMessage:      maxMediaMessage,
	MaxCommand:      maxCommandMessage,
	MaxChunkStreams: maxChunkStreams,
	MaxBuffered:     maxBuffered,
	MaxChunkSize:    maxChunkSize,
}

// A publisher's bytes are read in batches (package tcpbatch): the kernel wakes the connection's
// goroutine once batchBytes are waiting (at 2 Mbit/s, 8 times a second instead of at each of
// ~100 messages), and bytes wait at most batchDelay below that mark. Recording needs no lower
// latency, and waking less is most of what a publisher costs (bench/README.md).
const (
	batchBytes = 32 << 10
	batchDelay = 200 * time.Millisecond
)

// readBuffer is the connection's read buffer: 16 KB takes most messages of a 2 Mbit/s stream
// in one system call.
const readBuffer = 16 << 10

// Server accepts RTMP publishers.
type Server struct {
	reg *stream.Registry
	log *slog.Logger
	ln  net.Listener

	// ended logs why a connection was refused or dropped, once a minute per source address.
	ended *lograte.Limiter

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts accepting RTMP connections on ln, and closes it on Close.
func Listen(ln net.Listener, reg *stream.Registry, log *slog.Logger) *Server {
	s := &Server{reg: reg, log: log.With("ingest", "rtmp"), ln: ln, conns: map[net.Conn]struct{}{},
		ended: lograte.New(time.Minute, 4096)}
	go s.accept()
	s.log.Info("listening", "addr", ln.Addr().String())
	return s
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

func (s *Server) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept", "err", err) // out of file descriptors: wait, do not spin
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !s.track(nc) {
			nc.Close()
			return
		}
		go s.serve(nc)
	}
}

// track registers a connection for Close; false once the server is closing.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) forget(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	s.wg.Done()
}

// Close stops accepting, closes every connection and waits for their streams to end, so their
// recordings are finished when it returns.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
