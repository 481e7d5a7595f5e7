package server_test

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/server"
	st "github.com/streamrec/streamrec/server/servertest"
)

// childHome makes the test binary act as the server (a real separate process to kill).
const childHome = "STREAMREC_TEST_CHILD_HOME"

// childMaxFile limits the size of any file the child server writes (RLIMIT_FSIZE): past it a
// write fails as it would on a full disk.
const childMaxFile = "STREAMREC_TEST_CHILD_MAX_FILE"

func TestMain(m *testing.M) {
	if home := os.Getenv(childHome); home != "" {
		runChild(home)
		return
	}
	os.Exit(m.Run())
}

// runChild is the server's main, inside the test binary.
func runChild(home string) {
	if n, err := strconv.ParseUint(os.Getenv(childMaxFile), 10, 64); err == nil {
		// Go catches SIGXFSZ and does nothing, so an oversize write returns EFBIG.
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(1)
		}
	}
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

// startChild runs the server as a separate process in e's home, with extra environment.
func startChild(t *testing.T, e *st.Env, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childHome+"="+e.Home), env...)
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

// TestWriteFailureIsLoudAndContained: a recording whose file can no longer grow (as on a full disk)
// ends with its error shown on the stream, keeps what it wrote playable, and neither the stream,
// the server nor another recording is disturbed.
func TestWriteFailureIsLoudAndContained(t *testing.T) {
	e := st.Prepare(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	startChild(t, e, childMaxFile+"="+strconv.Itoa(300<<10))
	big := st.Publish(t, st.Make(t, st.Source{Seconds: 10, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/big")
	small := st.Publish(t, st.Make(t, st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100, NoVideo: true}), e.RTMP+"/small")
	e.WaitStream("big", "PUBLISHING", 10*time.Second)

	var failed st.Stream
	for deadline := time.Now().Add(15 * time.Second); failed.RecordError == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, s := range e.Streams() {
			if s.Name == "big" {
				failed = s
			}
		}
	}
	if !strings.Contains(failed.RecordError, "file too large") || failed.Recording || failed.Status != "PUBLISHING" {
		t.Fatalf("after the write failure the stream shows %+v; want it still PUBLISHING, not recording, with the error", failed)
	}
	if out, err := small.Wait(30 * time.Second); err != nil {
		t.Fatalf("the other publisher: %v\n%s", err, out)
	}
	e.WaitGone("small", 10*time.Second)
	p := st.ProbeFile(t, filepath.Join(e.Records, "small.mp4"))
	if a := p.Audio(t); a.CodecName != "aac" || math.Abs(p.Duration()-5) > 0.1 {
		t.Errorf("the other recording: %+v, %.2f s; want a whole 5 s of AAC", a, p.Duration())
	}
	// What the failed recording wrote before the failure still plays.
	p = st.ProbeFile(t, filepath.Join(e.Records, "big.mp4"))
	if n := st.Count(p.Video(t).Frames); n < 15 {
		t.Errorf("the failed recording kept %d frames", n)
	}
	big.Kill()
	e.WaitGone("big", 10*time.Second)
}
