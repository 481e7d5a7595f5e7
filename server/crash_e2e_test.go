package server_test

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/server"
	st "github.com/streamrec/streamrec/server/servertest"
)

// childHome makes the test binary act as the server (a real separate process to kill).
const childHome = "STREAMREC_TEST_CHILD_HOME"

func TestMain(m *testing.M) {
	if home := os.Getenv(childHome); home != "" {
		runChild(home)
		return
	}
	os.Exit(m.Run())
}

// runChild is the server's main, inside the test binary.
func runChild(home string) {
	srv, err := server.New(home, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	srv.Close()
	os.Exit(0)
}

// startChild runs the server as a separate process in e's home.
func startChild(t *testing.T, e *st.Env) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childHome+"="+e.Home)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.Ports["rtmp.port"])); err == nil {
			c.Close()
			return cmd
		}
	}
	t.Fatal("server process did not start listening")
	return nil
}

func TestSIGKILLLeavesPlayableFile(t *testing.T) {
	e := st.Prepare(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	srv := startChild(t, e)
	st.Publish(t, st.Make(t, st.Source{Seconds: 30, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/killed")
	e.WaitStream("killed", "PUBLISHING", 10*time.Second)
	published := time.Now()
	time.Sleep(5 * time.Second)
	srv.Process.Signal(syscall.SIGKILL)
	elapsed := time.Since(published).Seconds()
	srv.Wait()

	path := filepath.Join(e.Records, "killed.mp4")
	p := st.ProbeFile(t, path)
	frames := st.Count(p.Video(t).Frames)
	// Everything up to ~1 s before the kill is on disk (plus slack for publish start-up).
	if min := int((elapsed - 1.5) * 30); frames < min {
		t.Errorf("killed after %.1f s of publishing: %d frames on disk, want at least %d", elapsed, frames, min)
	}
	if st.Count(p.Audio(t).Frames) == 0 {
		t.Errorf("no audio survived the kill")
	}
}

func TestSIGTERMFinishesRecordings(t *testing.T) {
	e := st.Prepare(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	srv := startChild(t, e)
	st.Publish(t, st.Make(t, st.Source{Seconds: 30, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/termed")
	e.WaitStream("termed", "PUBLISHING", 10*time.Second)
	time.Sleep(3 * time.Second)
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("server exit: %v", err)
	}
	path := filepath.Join(e.Records, "termed.mp4")
	p := st.ProbeFile(t, path)
	// A finished file knows its duration from its header, without reading the fragments.
	if d := p.Duration(); d < 2 || d > 5 {
		t.Errorf("duration %.2f s after ~3 s", d)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}
}

// TestBrokenRTMPInput sends garbage to the RTMP port, before and after a handshake, while a real
// publisher records: the server keeps running and the good recording is untouched.
func TestBrokenRTMPInput(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	pub := st.Publish(t, st.Make(t, clip), e.RTMP+"/good")
	e.WaitStream("good", "PUBLISHING", 10*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", e.Ports["rtmp.port"])
	for i := 0; i < 5; i++ {
		garbage(t, addr, i%2 == 1)
	}
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("good publisher: %v\n%s", err, out)
	}
	e.WaitGone("good", 10*time.Second)
	checkRecording(t, filepath.Join(e.Records, "good.mp4"), clip, 44100)
}

// garbage connects and sends random bytes, optionally after a valid-looking handshake.
func garbage(t *testing.T, addr string, handshake bool) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	if handshake {
		c1 := make([]byte, 1537)
		c1[0] = 3
		c.Write(c1)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		s := make([]byte, 3073)
		n := 0
		for n < len(s) {
			m, err := c.Read(s[n:])
			if err != nil {
				break
			}
			n += m
		}
		c.Write(s[1:1537]) // C2 echoes S1
	}
	c.Write(junk)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			return // the server closed the connection (or stopped answering): either is fine
		}
	}
}
