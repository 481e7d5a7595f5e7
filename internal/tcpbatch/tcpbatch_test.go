package tcpbatch

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A reader waiting for data is not woken by a few bytes below the mark: they are read once the
// delay passed. A full batch wakes it at once (long before the delay). Bytes already waiting
// when Read is called are read at once, whatever their number.
func TestBatches(t *testing.T) {
	server, client := pair(t)
	r := New(server)
	const delay = 300 * time.Millisecond
	r.Batch(4096, delay, 10*time.Second)

	start := time.Now()
	go func() {
		time.Sleep(20 * time.Millisecond) // the reader is waiting by then, or reads at once
		client.Write([]byte("hello"))
	}()
	buf := make([]byte, 8192)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("5 bytes below the low-water mark were read after %v, before the %v delay: the mark is not set", took, delay)
	}

	r.Batch(4096, time.Minute, 10*time.Minute)
	done := make(chan int)
	go func() {
		got := 0
		for got < 4096 {
			n, err := r.Read(buf[got:])
			if err != nil {
				break
			}
			got += n
		}
		done <- got
	}()
	client.Write(make([]byte, 4096))
	select {
	case got := <-done:
		if got != 4096 {
			t.Errorf("read %d bytes of 4096", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a full batch did not wake the reader")
	}
}

func TestIdleAndEOF(t *testing.T) {
	server, client := pair(t)
	r := New(server)
	r.Batch(4096, 50*time.Millisecond, 200*time.Millisecond)
	start := time.Now()
	_, err := r.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection: %v, want a deadline error", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("idle after %v, before the 200ms limit", took)
	}

	server2, client2 := pair(t)
	r = New(server2)
	r.Batch(4096, 50*time.Millisecond, time.Minute)
	client2.Write([]byte("x"))
	client2.Close()
	buf := make([]byte, 10)
	if n, err := r.Read(buf); n != 1 || err != nil {
		t.Fatalf("read %d, %v; want the byte before the end", n, err)
	}
	if _, err := r.Read(buf); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
	_ = client
}

// Before Batch, reads are the connection's own, deadlines the caller's.
func TestUnbatched(t *testing.T) {
	server, client := pair(t)
	r := New(server)
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("caller's deadline: %v", err)
	}
	server.SetReadDeadline(time.Time{})
	client.Write([]byte("ab"))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ab" {
		t.Fatalf("read %q, %v", buf, err)
	}
}
