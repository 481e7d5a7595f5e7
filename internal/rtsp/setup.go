package rtsp

import (
	"net"
	"sync"
	"time"
)

// recordTimeout: a connection must have its RECORD accepted within this time of being
// accepted. gortsplib sets no read deadline on a connection until it records over TCP, so a
// client that sends nothing, or trickles a request, would otherwise be held for ever.
const recordTimeout = 30 * time.Second

// setupListener gives every connection it accepts recordTimeout to start recording.
type setupListener struct{ net.Listener }

func (l setupListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &setupConn{Conn: c, by: time.Now().Add(recordTimeout)}
	return sc, sc.SetReadDeadline(time.Time{})
}

// setupConn keeps every read deadline gortsplib sets (none: zero) within its setup deadline,
// until recording starts.
type setupConn struct {
	net.Conn
	mu sync.Mutex
	by time.Time // zero once recording
}

func (c *setupConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	by := c.by
	c.mu.Unlock()
	if !by.IsZero() && (t.IsZero() || t.After(by)) {
		t = by
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *setupConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// recording lifts the setup deadline: from now on gortsplib's own timeouts apply (a read
// timeout over TCP, the session timeout over UDP).
func (c *setupConn) recording() {
	c.mu.Lock()
	c.by = time.Time{}
	c.mu.Unlock()
	c.Conn.SetReadDeadline(time.Time{})
}
