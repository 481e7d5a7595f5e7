package server_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// Hostile RTMP clients, each run beside an honest ffmpeg recording that must end complete.

// hostileRTMP dials the server's RTMP port and does the plain handshake, as any client would.
func hostileRTMP(t *testing.T, e *st.Env) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(e.Ports["rtmp.port"]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c1 := make([]byte, 1+1536)
	c1[0] = 3
	if _, err := c.Write(c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+2*1536)
	if _, err := io.ReadFull(c, s); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if _, err := c.Write(s[1 : 1+1536]); err != nil { // C2 echoes S1
		t.Fatal(err)
	}
	return c
}

// closedByServer waits for the server to close c (reading and dropping what it sends).
func closedByServer(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the server did not close the hostile connection within %v: %v", within, err)
	}
}

func hostileEnv(t *testing.T) *st.Env {
	return st.Start(t, st.BystanderSettings)
}

// Case 1 of the issue: a connect command whose app property is an AMF0 strict array declaring
// 0x7fffffff elements and carrying none (about 70 bytes). go-amf0 allocated them all: the whole
// server died of "out of memory", with every recording in progress.
func TestRTMPHostileStrictArrayConnect(t *testing.T) {
	e := hostileEnv(t)
	b := st.StartBystander(e, "bystander")
	c := hostileRTMP(t, e)
	body := amf0.Append(nil, "connect", 1)
	body = append(body, 0x03, 0, 3, 'a', 'p', 'p', 0x0a, 0x7f, 0xff, 0xff, 0xff)
	var msg bytes.Buffer
	if err := chunk.NewWriter(&msg).Write(&chunk.Message{ChunkStream: 3, Type: chunk.TypeCommandAMF0, Payload: body}); err != nil {
		t.Fatal(err)
	}
	t.Logf("hostile connect: %d bytes", msg.Len())
	if _, err := c.Write(msg.Bytes()); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, c, 5*time.Second)
	b.Check()
}

// Case 2 of the issue: one connection opens 40 chunk streams, each holding the first chunk of a
// message that never completes (320 MB sent). With go-rtmp RSS went from 31 MB to 873 MB and
// stayed there. Now a message may declare at most 4 MB and a connection hold at most 8 MB of
// unfinished messages: RSS must grow by less than 64 MB and come back within 32 MB.
func TestRTMPHostileUnfinishedMessagesFlood(t *testing.T) {
	e := hostileEnv(t)
	b := st.StartBystander(e, "bystander")
	for _, tc := range []struct {
		name              string
		chunkSize, msgLen int
	}{
		{"issue: 8 MB chunks of 16 MB messages", 8 << 20, 16<<20 - 1}, // 16 MB - 1: the 24-bit maximum
		{"4 MB messages within the limit", 1 << 20, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.FreeOSMemory()
			start := rss(t)
			var peak atomic.Int64
			stop := sampleRSS(t, &peak)
			c := hostileRTMP(t, e)
			sent := flood(c, tc.chunkSize, tc.msgLen, 40)
			closedByServer(t, c, 10*time.Second)
			stop()
			time.Sleep(500 * time.Millisecond)
			debug.FreeOSMemory()
			after := rss(t)
			t.Logf("sent %d MB before the server closed the connection; RSS %d MB at start, peak %d MB, %d MB after",
				sent>>20, start>>20, peak.Load()>>20, after>>20)
			if grown := peak.Load() - start; grown >= 64<<20 {
				t.Errorf("RSS grew by %d MB under the flood (limit 64 MB)", grown>>20)
			}
			if after-start >= 32<<20 {
				t.Errorf("RSS %d MB after the connection closed, %d MB at start (limit +32 MB)", after>>20, start>>20)
			}
		})
	}
	b.Check()
}

// flood sets the chunk size, then on each of n chunk streams sends the first chunk of a video
// message of msgLen bytes. It returns the bytes written before the server closed the connection.
func flood(c net.Conn, chunkSize, msgLen, n int) int64 {
	w := bufio.NewWriterSize(c, 1<<20)
	var sent int64
	write := func(b []byte) bool {
		k, err := w.Write(b)
		sent += int64(k)
		return err == nil
	}
	var hdr []byte
	hdr = append(hdr, 0x02, 0, 0, 0, 0, 0, 4, chunk.TypeSetChunkSize, 0, 0, 0, 0)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(chunkSize))
	if !write(hdr) {
		return sent
	}
	payload := make([]byte, chunkSize)
	for i := range n {
		h := []byte{byte(4 + i), 0, 0, 0, byte(msgLen >> 16), byte(msgLen >> 8), byte(msgLen), chunk.TypeVideo, 1, 0, 0, 0}
		if !write(h) || !write(payload) {
			return sent
		}
	}
	w.Flush()
	return sent
}

// rss is this process's resident memory (the server runs in the test process).
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// sampleRSS records the peak RSS every 20 ms until the returned stop is called.
func sampleRSS(t *testing.T, peak *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if r := rss(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}
