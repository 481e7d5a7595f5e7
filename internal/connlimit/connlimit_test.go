package connlimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logs collects the lines a Listener writes.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), substr)
}

// server is a limited TCP listener on 127.0.0.1 whose accepted connections are each sent "ok"
// and kept open until the test ends.
type server struct {
	t     *testing.T
	ln    *Listener
	log   *logs
	conns chan net.Conn
}

func listen(t *testing.T, network, addr string, limits Limits) *server {
	t.Helper()
	raw, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	s := &server{t: t, log: &logs{}, conns: make(chan net.Conn, 100)}
	s.ln = Wrap(raw, limits, "test.port", slog.New(slog.NewTextHandler(s.log, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return // closed: a refused connection never ends the loop
			}
			c.Write([]byte("ok"))
			s.conns <- c
		}
	}()
	t.Cleanup(func() {
		s.ln.Close()
		<-done
		close(s.conns)
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

// dial connects from the source address from and says whether the server admitted it (sent
// "ok") or closed it at once.
func (s *server) dial(from string) (net.Conn, bool) {
	s.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(context.Background(), "tcp", s.ln.Addr().String())
	if errors.Is(err, syscall.ECONNRESET) {
		return nil, false // refused before the dial returned
	}
	if err != nil {
		s.t.Fatalf("dial from %s: %v", from, err)
	}
	s.t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2)
	_, err = io.ReadFull(c, b)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		s.t.Fatalf("connection from %s neither admitted nor refused within 5 s", from)
	}
	return c, err == nil && string(b) == "ok"
}

// dialMany dials n connections from one source and returns how many were admitted.
func (s *server) dialMany(from string, n int) int {
	s.t.Helper()
	admitted := 0
	for range n {
		if _, ok := s.dial(from); ok {
			admitted++
		}
	}
	return admitted
}

func (s *server) open(addr string) (total, fromAddr int) {
	return s.ln.Open(netip.MustParseAddr(addr))
}

func TestPerAddressLimit(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0", Limits{Total: 100, PerAddress: 3})
	if got := s.dialMany("127.0.0.1", 10); got != 3 {
		t.Errorf("from 127.0.0.1: %d of 10 connections admitted, want 3", got)
	}
	// Another source address has its own allowance.
	if got := s.dialMany("127.0.0.2", 5); got != 3 {
		t.Errorf("from 127.0.0.2: %d of 5 connections admitted, want 3", got)
	}
	if total, one := s.open("127.0.0.1"); total != 6 || one != 3 {
		t.Errorf("open: %d in total, %d from 127.0.0.1; want 6 and 3", total, one)
	}
	if n := s.log.count("connection refused"); n != 2 {
		t.Errorf("%d refusals logged, want 2 (one per address):\n%s", n, s.log.buf.String())
	}
	if n := s.log.count("limit=max_connections_per_address max=3"); n != 2 {
		t.Errorf("the log does not name the limit hit:\n%s", s.log.buf.String())
	}
	if n := s.log.count("remote=127.0.0.2"); n != 1 {
		t.Errorf("the log does not name the address refused:\n%s", s.log.buf.String())
	}
}

func TestTotalLimit(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0", Limits{Total: 4, PerAddress: 3})
	a := s.dialMany("127.0.0.1", 3)
	b := s.dialMany("127.0.0.2", 3)
	if a != 3 || b != 1 {
		t.Errorf("admitted %d from 127.0.0.1 and %d from 127.0.0.2, want 3 and 1 (4 in total)", a, b)
	}
	if n := s.log.count("limit=max_connections max=4"); n != 1 {
		t.Errorf("want one refusal for max_connections logged:\n%s", s.log.buf.String())
	}
}

func TestIPv6BySourceAddress(t *testing.T) {
	s := listen(t, "tcp6", "[::1]:0", Limits{Total: 100, PerAddress: 2})
	if got := s.dialMany("::1", 4); got != 2 {
		t.Errorf("from ::1: %d of 4 admitted, want 2", got)
	}
	if _, one := s.open("::1"); one != 2 {
		t.Errorf("%d open from ::1, want 2", one)
	}
}

// A closed connection frees its place exactly once, however often it is closed.
func TestCloseFreesPlaceOnce(t *testing.T) {
	s := listen(t, "tcp4", "127.0.0.1:0", Limits{Total: 100, PerAddress: 2})
	s.dialMany("127.0.0.1", 2)
	c := <-s.conns
	for range 3 {
		c.Close()
	}
	if total, one := s.open("127.0.0.1"); total != 1 || one != 1 {
		t.Fatalf("after closing one connection three times: %d open in total, %d from the address; want 1 and 1", total, one)
	}
	if got := s.dialMany("127.0.0.1", 3); got != 1 {
		t.Errorf("after one closed: %d of 3 admitted, want 1", got)
	}
	(<-s.conns).Close()
	(<-s.conns).Close()
	if _, one := s.open("127.0.0.1"); one != 0 || len(s.ln.byAddr) != 0 {
		t.Errorf("every connection closed: %d still counted, %d addresses in the table", one, len(s.ln.byAddr))
	}
}
