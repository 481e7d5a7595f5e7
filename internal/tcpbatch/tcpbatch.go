// Package tcpbatch reads a TCP connection in batches. A publisher's media arrives as a steady
// stream of small TCP segments; woken at each one, a Go server spends most of its CPU going to
// sleep and waking up again (the scheduler, its monitor thread, epoll), not on the bytes. A
// recorder does not need every byte the moment it lands: the Reader asks the kernel (with
// SO_RCVLOWAT) to wake it only once Batch bytes are waiting, and bounds how long bytes can wait
// below that mark with a read deadline: after MaxDelay it reads whatever is there.
//
// The Reader also owns the connection's read deadline in batch mode, so it enforces the idle
// limit itself: no byte at all for Idle ends the Read with os.ErrDeadlineExceeded.
package tcpbatch

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Conn is what the Reader reads: a net.Conn, from which the TCP socket is reached to set its
// low-water mark (a *net.TCPConn, or a wrapper with NetConn returning one).
type Conn interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// Reader reads a connection, in batches once Batch was called.
type Reader struct {
	c        Conn
	on       bool
	maxDelay time.Duration
	idle     time.Duration
	last     time.Time // when a byte last arrived, in batch mode
}

// New returns a Reader of c, reading as c does until Batch is called.
func New(c Conn) *Reader { return &Reader{c: c} }

// Batch switches to batched reads: a Read waits until bytes bytes are waiting or maxDelay
// passed with fewer, and fails when nothing at all arrives for idle. When the socket's
// low-water mark cannot be set (not TCP), reads still obey maxDelay and idle. The connection's
// read deadline belongs to the Reader from now on.
func (r *Reader) Batch(bytes int, maxDelay, idle time.Duration) {
	r.on, r.maxDelay, r.idle, r.last = true, maxDelay, idle, time.Now()
	setLowWater(r.c, bytes)
}

// Read reads at least one byte. In batch mode it returns once a batch is waiting, or once
// MaxDelay passed and any byte is there.
func (r *Reader) Read(p []byte) (int, error) {
	if !r.on {
		return r.c.Read(p)
	}
	for {
		now := time.Now()
		if now.Sub(r.last) >= r.idle {
			return 0, fmt.Errorf("no byte for %v: %w", r.idle, os.ErrDeadlineExceeded)
		}
		r.c.SetReadDeadline(now.Add(min(r.maxDelay, r.idle-now.Sub(r.last))))
		n, err := r.c.Read(p)
		if n > 0 {
			r.last = time.Now()
			return n, nil // an error comes again at the next Read
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		// MaxDelay passed below the low-water mark: the next read, under a fresh deadline,
		// takes what is there at once (a non-blocking read ignores the mark).
	}
}

// setLowWater sets SO_RCVLOWAT on the TCP socket under c, if there is one.
func setLowWater(c Conn, bytes int) {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok || u.NetConn() == c {
			break
		}
		c = u.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, bytes)
	})
}
