// Package connlimit holds a net.Listener that bounds the connections open at once: in total and
// from one source IP address. A connection past a limit is closed as soon as it is accepted (no
// byte is read from it, no TLS handshake made), and the refusal is logged at most once a minute
// per source address. Accept never returns an error for a refused connection, so the server's
// accept loop goes on.
package connlimit

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/lograte"
)

// Setting names, as the log and the README call the limits.
const (
	TotalLimit      = "max_connections"
	PerAddressLimit = "max_connections_per_address"
)

// Refusals are logged at most once a minute per source address, remembering at most this many
// addresses (lograte).
const (
	warnEvery = time.Minute
	maxWarned = 4096
)

// Limits are the connections a listener admits at once; a value below 1 means no limit.
type Limits struct {
	Total      int // max_connections
	PerAddress int // max_connections_per_address
}

// Listener admits connections from the listener it wraps within its Limits.
type Listener struct {
	net.Listener
	limits Limits
	log    *slog.Logger
	warned *lograte.Limiter // by source address

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int // open connections by source; an address with none has no entry
}

// Wrap limits the connections ln admits. name says which listener it is in the log
// ("rtmp.port"); log may be nil (slog.Default()).
func Wrap(ln net.Listener, limits Limits, name string, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{
		Listener: ln,
		limits:   limits,
		log:      log.With("listener", name, "addr", ln.Addr().String()),
		warned:   lograte.New(warnEvery, maxWarned),
		byAddr:   map[netip.Addr]int{},
	}
}

// Accept returns the next connection within the limits; connections past them are closed.
// The error is the wrapped listener's (it is closed, or out of file descriptors).
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := sourceOf(c)
		if over, limit := l.admit(addr); over != "" {
			refuse(c)
			l.warn(addr, over, limit)
			continue
		}
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

// Open is the number of connections admitted and not yet closed (in total, and from addr).
func (l *Listener) Open(addr netip.Addr) (total, fromAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.byAddr[addr.Unmap()]
}

// admit counts a connection from addr, or says which limit it would pass.
func (l *Listener) admit(addr netip.Addr) (over string, limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Total > 0 && l.total >= l.limits.Total {
		return TotalLimit, l.limits.Total
	}
	if l.limits.PerAddress > 0 && l.byAddr[addr] >= l.limits.PerAddress {
		return PerAddressLimit, l.limits.PerAddress
	}
	l.total++
	l.byAddr[addr]++
	return "", 0
}

// release uncounts an admitted connection; byAddr never holds more entries than connections open.
func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n := l.byAddr[addr] - 1; n > 0 {
		l.byAddr[addr] = n
	} else {
		delete(l.byAddr, addr)
	}
}

// warn logs a refusal unless one from the same source was logged within warnEvery.
func (l *Listener) warn(addr netip.Addr, over string, limit int) {
	ok, hidden := l.warned.Allow(addr.String())
	if !ok {
		return
	}
	l.log.Warn("connection refused", "remote", addr.String(), "limit", over, "max", limit,
		"refused_unlogged", hidden, "note", "further refusals from this address are not logged for a minute")
}

// refuse closes a connection at once. A TCP connection is reset rather than closed gracefully,
// so the server keeps no socket in TIME_WAIT for it.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// sourceOf is the connection's source IP address (an IPv4-mapped IPv6 address as IPv4, the
// IPv6 zone dropped); the zero address when it has none (a Unix socket).
func sourceOf(c net.Conn) netip.Addr {
	switch a := c.RemoteAddr().(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().WithZone("")
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap().WithZone("")
	}
}

// conn is an admitted connection; closing it (once, however often Close is called) frees its
// place.
type conn struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

// NetConn returns the admitted connection, for socket options (tcpbatch).
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}

// ReadFrom keeps the wrapped connection's own ReadFrom (sendfile for a *net.TCPConn), which
// wrapping would hide from bufio and io.Copy.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
