package server_test

import (
	"crypto/rand"
	"encoding/json"
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

	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/server"
	st "github.com/streamrec/streamrec/internal/servertest"
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

// hookRun is what the test's hook script saw for one file.
type hookRun struct{ recovered, stream, err string }

// hookRuns reads the lines "FILE|STREAMREC_RECOVERED|STREAMREC_STREAM_NAME|STREAMREC_ERROR" the
// test's hook script wrote, by file name.
func hookRuns(t *testing.T, path string) map[string]hookRun {
	t.Helper()
	b, _ := os.ReadFile(path)
	out := map[string]hookRun{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(line, "|", 4); len(f) == 4 {
			out[filepath.Base(f[0])] = hookRun{f[1], f[2], f[3]}
		}
	}
	return out
}

// libraryIndex reads the library's index by file name.
func libraryIndex(t *testing.T, records string) map[string]map[string]any {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(records, ".streamrec-library.jsonl"))
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil {
			out[e["name"].(string)] = e
		}
	}
	return out
}

// TestSIGKILLRecoveredAtRestart: kill -9 during an RTMP recording, a rotated RTMP recording (parts
// of 3 s) and a WebRTC recording (VP8 + Opus as WebM), then a restart on the same home. Each file
// left open is repaired: its header has its real duration (ffprobe's format duration matches
// the frames it holds and the time it recorded, within the crash bound), it decodes clean, it
// is in the library's index with its stream name and mediaSessionId, and the hook ran for it
// with STREAMREC_RECOVERED=1. Nothing cleanly finished before the kill is touched.
func TestSIGKILLRecoveredAtRestart(t *testing.T) {
	hookOut := filepath.Join(t.TempDir(), "hooks.txt")
	script := writeScript(t, `echo "$STREAMREC_FILE|$STREAMREC_RECOVERED|$STREAMREC_STREAM_NAME|$STREAMREC_ERROR" >> "`+hookOut+`"`+"\n")
	e := st.Prepare(t, map[string]string{"stream_record_policy": "streamName", "on_record_hook_script": script})
	srv := startChild(t, e)
	src := st.Make(t, st.Source{Seconds: 30, FPS: 30, GOP: 30, SampleRate: 44100})
	st.Publish(t, src, e.RTMP+"/plain")
	st.Publish(t, src, e.RTMP+"/rot")
	video, audio := vp8Frames(t, 30), opusPackets(t, 30)
	const webID = "5e1d0c3a-0000-4000-8000-0000000000c1"
	_, webStart := publishVP8(t, e, webID, "web", video, audio)
	ids := map[string]string{"web": webID}
	for _, n := range []string{"plain", "rot"} {
		s := e.WaitStream(n, "PUBLISHING", 10*time.Second)
		ids[n] = s.MediaSessionID
		body := `{"mediaSessionId":"` + s.MediaSessionID + `"}`
		if n == "rot" {
			body = `{"mediaSessionId":"` + s.MediaSessionID + `","config":{"rotation":"3"}}`
		}
		if code, b := e.Post("/rest-api/stream/startRecording", body); code != 200 {
			t.Fatalf("startRecording %s: %d %s", n, code, b)
		}
	}
	e.WaitStream("web", "PUBLISHING", 10*time.Second)
	started := time.Now()
	time.Sleep(7 * time.Second)
	srv.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	recorded := killed.Sub(started).Seconds()
	srv.Wait()
	before := hookRuns(t, hookOut) // the rotated parts finished before the kill

	srv = startChild(t, e)
	open := map[string]string{"plain.mp4": "plain", "web.webm": "web"}
	var runs map[string]hookRun
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if runs = hookRuns(t, hookOut); len(runs) >= len(before)+3 {
			break
		}
	}
	for name := range runs {
		if _, ok := before[name]; !ok && strings.HasPrefix(name, "rot") {
			open[name] = "rot" // the current part (and the one before, if its audio was still open)
		}
	}
	if _, ok := runs["plain.mp4"]; !ok || len(open) < 3 {
		t.Fatalf("hooks after the restart: %v (before it: %v); want one each for plain.mp4, web.webm and the open part of rot", runs, before)
	}
	index := libraryIndex(t, e.Records)
	for name, stream := range open {
		run := runs[name]
		if run.recovered != "1" || run.stream != stream || !strings.Contains(run.err, "recovered after a crash") {
			t.Errorf("%s: the hook saw %+v, want STREAMREC_RECOVERED=1, stream %q and the error saying it was recovered", name, run, stream)
		}
		if ie := index[name]; ie["stream"] != stream || ie["mediaSessionId"] != ids[stream] || !strings.Contains(fmt.Sprint(ie["error"]), "recovered") {
			t.Errorf("%s: library index entry %v, want stream %q, mediaSessionId %s, the recovery noted", name, ie, stream, ids[stream])
		}
		path := filepath.Join(e.Records, name)
		if out := st.Decodes(t, path); out != "" {
			t.Errorf("%s: decode errors: %s", name, out)
		}
		p := st.ProbeFile(t, path)
		frames := float64(st.Count(p.Video(t).Frames)) / 30
		want := recorded // the open part of rot: up to a part's 3 s
		// An RTMP recording asked for with REST starts at the keyframe before the call (up to a
		// second earlier), and ffmpeg sends its first second in a burst: within 1.5 s either way.
		if math.Abs(p.Duration()-frames) > 0.1 || p.Duration() > recorded+1.5 || (stream != "rot" && p.Duration() < want-1.5) {
			t.Errorf("%s: header duration %.2f s, %.2f s of video frames, recorded for %.2f s", name, p.Duration(), frames, recorded)
		}
		t.Logf("%s: %.2f s in the header, %.2f s of frames, recorded %.2f s before the kill", name, p.Duration(), frames, recorded)
		if stream == "web" {
			// The WebRTC recording begins at the first frame sent: what the kill cost is exact.
			lost := killed.Sub(webStart).Seconds() - p.Duration()
			t.Logf("web.webm: the kill cost %.3f s of media (the bound: 0.9 s, plus the path to the recorder)", lost)
			if lost > 1 {
				t.Errorf("web.webm: the kill cost %.3f s of media, more than 1 s", lost)
			}
		}
	}
	// The restarted server counts what it recovered, and nothing else.
	m := scrapeMetrics(t, e, "")
	if got := m.value(t, `streamrec_files_finished_total{result="recovered"}`); got != float64(len(open)) {
		t.Errorf("metrics after the restart: %v files recovered, want %d", got, len(open))
	}
	if got := m.value(t, filesComplete); got != 0 {
		t.Errorf("metrics after the restart: %v files complete, want 0", got)
	}
	for name, run := range before {
		if run.recovered != "0" || run.err != "" {
			t.Errorf("%s, finished before the kill: the hook saw %+v", name, run)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Records, records.JournalDir)); len(ents) != 0 {
		t.Errorf("the journal still holds %d entries after recovery", len(ents))
	}
}

// TestSIGKILLCostsUnderASecond: kill -9 of WebRTC recordings of H.264 + Opus (MP4, whose newest
// frame of each track waits for its successor) costs at most 1 s of video, measured exactly: a
// recording begins at the first frame sent, sent at a known time. Four publishers start a
// quarter of a second apart, so their recorders' flush ticks fall at four phases of the second
// before the kill, the worst within 250 ms. After the restart each file is recovered with
// that duration.
func TestSIGKILLCostsUnderASecond(t *testing.T) {
	e := st.Prepare(t, map[string]string{"stream_record_policy": "streamName"})
	srv := startChild(t, e)
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	const n = 4
	var sent [n]time.Time
	for i := range n {
		w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"]))
		w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
		if _, err := w.next("getUserData", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		p := newPionPublisher(t)
		if err := p.publish(t, w, fmt.Sprintf("5e1d0c3a-0000-4000-8000-0000000000d%d", i), fmt.Sprintf("h264-%d", i)); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			time.Sleep(time.Until(sent[i-1].Add(250 * time.Millisecond)))
		}
		sent[i] = time.Now()
		go p.send(aus, opus, sendOptions{senderReports: true}) // ends with an error once the server is gone
	}
	time.Sleep(time.Until(sent[0].Add(5 * time.Second)))
	srv.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	srv.Wait()

	startChild(t, e)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ents, _ := os.ReadDir(filepath.Join(e.Records, records.JournalDir)); len(ents) == 0 {
			break
		}
	}
	var worst time.Duration
	for i := range n {
		pr := st.ProbeFile(t, filepath.Join(e.Records, fmt.Sprintf("h264-%d.mp4", i)))
		frames := st.Count(pr.Video(t).Frames)
		// Video frame k was sent at videoDelay + k/30 after sent[i], and lasts 1/30 s.
		lost := killed.Sub(sent[i]) - videoDelay - time.Duration(frames)*time.Second/30
		worst = max(worst, lost)
		t.Logf("h264-%d: kill -9 after %v of sending: %d video frames recorded, %v of video lost; header %.3f s",
			i, killed.Sub(sent[i]).Round(time.Millisecond), frames, lost.Round(time.Millisecond), pr.Duration())
		if lost > time.Second || lost < 0 {
			t.Errorf("h264-%d: the kill cost %v of video, want at most 1 s", i, lost)
		}
		if math.Abs(pr.Duration()-float64(frames)/30) > 0.1 {
			t.Errorf("h264-%d: header duration %.3f s for %d frames: not recovered", i, pr.Duration(), frames)
		}
	}
	t.Logf("the worst of %d phases: %v of video lost", n, worst.Round(time.Millisecond))
}
