package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	"github.com/streamrec/streamrec/internal/server"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/stream"
)

// The test IP camera: GStreamer's RTSP server (Debian's gst-rtsp-server through python3-gi)
// driven by internal/rtsp/testdata/camera.py. Not our code: an independent RTSP implementation.
const (
	cameraScript = "../rtsp/testdata/camera.py"
	cameraFPS    = 25
)

type testCamera struct {
	t    *testing.T
	port int
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startCamera runs the test camera on a free port; extra are camera.py options (--user ...).
func startCamera(t *testing.T, extra ...string) *testCamera {
	t.Helper()
	st.RequireFFmpeg(t)
	if out, err := exec.Command("/usr/bin/python3", "-c",
		"import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer").CombinedOutput(); err != nil {
		t.Fatalf("GStreamer's RTSP server for Python is not installed: run `make test`, which installs it\n%s", out)
	}
	c := &testCamera{t: t, port: st.FreePort(t), args: extra}
	c.start()
	t.Cleanup(c.kill)
	return c
}

func (c *testCamera) start() {
	c.t.Helper()
	args := append([]string{cameraScript, "--port", strconv.Itoa(c.port), "--fps", strconv.Itoa(cameraFPS)}, c.args...)
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("camera: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		out.Close()
	}()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case ok := <-ready:
		if !ok {
			c.t.Fatal("the test camera did not start")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		c.t.Fatal("the test camera did not start within 20 s")
	}
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
}

// kill ends the camera abruptly, as a camera that loses power.
func (c *testCamera) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-done
	}
}

// url is the camera's address for a mount point, with credentials when given.
func (c *testCamera) url(userinfo, path string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return fmt.Sprintf("rtsp://%s127.0.0.1:%d/%s", userinfo, c.port, path)
}

// rtspCamera is the part of /rest-api/rtsp/find_all's camera object tests look at.
type rtspCamera struct {
	URI             string `json:"uri"`
	LocalStreamName string `json:"localStreamName"`
	Status          string `json:"status"`
	Info            string `json:"info"`
	MediaSessionID  string `json:"mediaSessionId"`
	MediaProvider   string `json:"mediaProvider"`
	ActiveTransport string `json:"activeTransport"`
}

func addCamera(t *testing.T, e *st.Env, body map[string]string) {
	t.Helper()
	b, _ := json.Marshal(body)
	if code, resp := e.Post("/rest-api/rtsp/startup", string(b)); code != 200 {
		t.Fatalf("rtsp/startup: %d %s", code, resp)
	}
}

func terminateCamera(t *testing.T, e *st.Env, name string) {
	t.Helper()
	if code, resp := e.Post("/rest-api/rtsp/terminate", `{"localStreamName":"`+name+`"}`); code != 200 {
		t.Fatalf("rtsp/terminate: %d %s", code, resp)
	}
}

func cameras(t *testing.T, e *st.Env) ([]rtspCamera, string) {
	t.Helper()
	code, body := e.Post("/rest-api/rtsp/find_all", "")
	if code != 200 {
		t.Fatalf("rtsp/find_all: %d %s", code, body)
	}
	var out []rtspCamera
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("rtsp/find_all: %v: %s", err, body)
	}
	return out, string(body)
}

// waitCamera waits until the camera named name satisfies ok, and returns it.
func waitCamera(t *testing.T, e *st.Env, name string, timeout time.Duration, ok func(rtspCamera) bool) rtspCamera {
	t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		list, body := cameras(t, e)
		last = body
		for _, c := range list {
			if c.LocalStreamName == name && ok(c) {
				return c
			}
		}
	}
	t.Fatalf("camera %q: condition not met within %v; find_all: %s", name, timeout, last)
	return rtspCamera{}
}

// checkLiveRecording judges a recording of a live camera: codecs, a frame count that matches
// the camera's rate over the video's duration, a duration close to the time recorded, the audio
// as long as the video, and a clean full decode. The file may begin up to a couple of seconds
// before the stream showed PUBLISHING: frames are held from the first keyframe while the
// tracks are aligned.
func checkLiveRecording(t *testing.T, path, vcodec, acodec string, wantRate int, recorded time.Duration) {
	t.Helper()
	p := st.ProbeFile(t, path)
	v := p.Video(t)
	if v.CodecName != vcodec || v.Width != 320 || v.Height != 240 {
		t.Errorf("video: %s %dx%d, want %s 320x240", v.CodecName, v.Width, v.Height, vcodec)
	}
	d := p.Duration()
	if lo, hi := recorded.Seconds()-1, recorded.Seconds()+2.5; d < lo || d > hi {
		t.Errorf("duration %.3f s after recording for %.1f s", d, recorded.Seconds())
	}
	vd, err := strconv.ParseFloat(v.Duration, 64)
	if err != nil {
		vd = videoSpan(t, path) // WebM keeps only the file's duration
	}
	frames := st.Count(v.Frames)
	if want := vd * cameraFPS; math.Abs(float64(frames)-want) > math.Max(2, want*0.03) {
		t.Errorf("video frames: %d in %.3f s, want %.0f (the camera's %d fps)", frames, vd, want, cameraFPS)
	}
	if acodec == "" {
		if p.Has("audio") {
			t.Errorf("an audio track in a recording of a camera without audio")
		}
	} else {
		a := p.Audio(t)
		if a.CodecName != acodec || a.SampleRate != strconv.Itoa(wantRate) {
			t.Errorf("audio: %s %s Hz, want %s %d Hz", a.CodecName, a.SampleRate, acodec, wantRate)
		}
		if ad, err := strconv.ParseFloat(a.Duration, 64); err == nil && math.Abs(ad-vd) > 0.5 {
			t.Errorf("audio lasts %.3f s, video %.3f s", ad, vd)
		}
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("ffmpeg -v error reports problems decoding %s:\n%s", path, out)
	}
	t.Logf("%s: %d frames, video %.3f s, file %.3f s, recorded for %.1f s after PUBLISHING", filepath.Base(path), frames, vd, d, recorded.Seconds())
}

// videoSpan is the time from the first video frame to the end of the last one, from its packets.
func videoSpan(t *testing.T, path string) float64 {
	t.Helper()
	p := mediatest.ProbeFile(t, path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,duration_time")
	first, end := math.Inf(1), 0.0
	for _, pk := range p.Packets {
		pts, err := strconv.ParseFloat(pk.PtsTime, 64)
		if err != nil {
			continue
		}
		dur, _ := strconv.ParseFloat(pk.DurationTime, 64)
		first, end = math.Min(first, pts), math.Max(end, pts+dur)
	}
	return end - first
}

// mediaFiles lists the recordings in records/ (not the server's hidden bookkeeping files).
func mediaFiles(e *st.Env) []string {
	var out []string
	for _, f := range e.RecordFiles() {
		if !strings.HasPrefix(f, ".") {
			out = append(out, f)
		}
	}
	return out
}

// recordCamera adds a camera, records it for about secs seconds, terminates it and returns how
// long it was recorded.
func recordCamera(t *testing.T, e *st.Env, body map[string]string, secs float64) time.Duration {
	t.Helper()
	addCamera(t, e, body)
	name := body["localStreamName"]
	s := e.WaitStream(name, "PUBLISHING", 20*time.Second)
	if s.MediaProvider != "RTSP" || !s.Recording || len(s.MediaSessionID) != 36 {
		t.Errorf("stream object: %+v, want an RTSP stream being recorded", s)
	}
	start := time.Now()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	terminateCamera(t, e, name)
	recorded := time.Since(start)
	e.WaitGone(name, 10*time.Second)
	return recorded
}

var rtspSettings = map[string]string{"record_rtsp_streams": "true", "stream_record_policy": "streamName"}

func TestRTSPCameraCodecs(t *testing.T) {
	cam := startCamera(t)
	for _, tc := range []struct {
		path, transport  string
		ext, vcodec, aud string
	}{
		{"h264aac", "", "mp4", "h264", "aac"},
		{"h264latm", "", "mp4", "h264", "aac"},
		{"h264pcma", "tcp", "mp4", "h264", "aac"},
		{"h264pcmu", "udp", "mp4", "h264", "aac"},
		{"h264", "", "mp4", "h264", ""},
		{"h264nosps", "", "mp4", "h264", ""},
		{"vp8", "", "webm", "vp8", "vorbis"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e := st.Start(t, rtspSettings)
			recorded := recordCamera(t, e, map[string]string{"uri": cam.url("", tc.path), "localStreamName": "cam", "transport": tc.transport}, 3)
			checkLiveRecording(t, filepath.Join(e.Records, "cam."+tc.ext), tc.vcodec, tc.aud, 44100, recorded)
		})
	}
}

func TestRTSPCameraAudioAt48k(t *testing.T) {
	cam := startCamera(t)
	settings := map[string]string{"record_audio_codec_sample_rate": "48000"}
	for k, v := range rtspSettings {
		settings[k] = v
	}
	e := st.Start(t, settings)
	recorded := recordCamera(t, e, map[string]string{"uri": cam.url("", "h264pcma"), "localStreamName": "cam48"}, 2.5)
	checkLiveRecording(t, filepath.Join(e.Records, "cam48.mp4"), "h264", "aac", 48000, recorded)
}

func TestRTSPCameraFallsBackToTCP(t *testing.T) {
	cam := startCamera(t)
	e := st.Start(t, rtspSettings)
	addCamera(t, e, map[string]string{"uri": cam.url("", "h264tcp"), "localStreamName": "tcponly"})
	e.WaitStream("tcponly", "PUBLISHING", 20*time.Second)
	start := time.Now()
	c := waitCamera(t, e, "tcponly", 5*time.Second, func(c rtspCamera) bool { return c.Status == "PUBLISHING" })
	if c.ActiveTransport != "TCP" || !strings.Contains(c.Info, "over TCP") {
		t.Errorf("a camera that refuses UDP: %+v, want it pulled over TCP", c)
	}
	time.Sleep(2 * time.Second)
	terminateCamera(t, e, "tcponly")
	recorded := time.Since(start)
	e.WaitGone("tcponly", 10*time.Second)
	checkLiveRecording(t, filepath.Join(e.Records, "tcponly.mp4"), "h264", "aac", 44100, recorded)
}

func TestRTSPCameraCredentials(t *testing.T) {
	for _, method := range []string{"digest", "basic"} {
		t.Run(method, func(t *testing.T) {
			args := []string{"--user", "viewer", "--password", "s3cret-Pw"}
			if method == "digest" {
				args = append(args, "--digest")
			}
			cam := startCamera(t, args...)
			e := st.Start(t, rtspSettings)

			// Wrong password: a clear status, no stream, no file, and no password anywhere.
			addCamera(t, e, map[string]string{"uri": cam.url("viewer:wrong-Pw", "h264aac"), "localStreamName": "locked"})
			c := waitCamera(t, e, "locked", 15*time.Second, func(c rtspCamera) bool { return c.Status == "RECONNECTING" })
			if !strings.Contains(c.Info, "authentication failed") || !strings.Contains(c.Info, "reconnecting in") {
				t.Errorf("status of a camera with a wrong password: %q", c.Info)
			}
			_, body := cameras(t, e)
			if strings.Contains(body, "wrong-Pw") || strings.Contains(body, "viewer:") {
				t.Errorf("find_all shows credentials: %s", body)
			}
			if !strings.Contains(c.URI, "***@127.0.0.1") {
				t.Errorf("uri %q, want the credentials redacted", c.URI)
			}
			for _, s := range e.Streams() {
				if s.Name == "locked" {
					t.Errorf("a stream exists for a camera that refused us: %+v", s)
				}
			}
			terminateCamera(t, e, "locked")

			// The right password records.
			recorded := recordCamera(t, e, map[string]string{"uri": cam.url("viewer:s3cret-Pw", "h264aac"), "localStreamName": "open"}, 2)
			if files := mediaFiles(e); len(files) != 1 || files[0] != "open.mp4" {
				t.Fatalf("records/: %v, want only open.mp4", files)
			}
			checkLiveRecording(t, filepath.Join(e.Records, "open.mp4"), "h264", "aac", 44100, recorded)
		})
	}
}

func TestRTSPCameraDisconnectAndReturn(t *testing.T) {
	cam := startCamera(t)
	e := st.Start(t, map[string]string{"record_rtsp_streams": "true"}) // default template: a name per session
	addCamera(t, e, map[string]string{"uri": cam.url("", "h264aac"), "localStreamName": "door"})
	first := e.WaitStream("door", "PUBLISHING", 20*time.Second)
	start := time.Now()
	time.Sleep(2500 * time.Millisecond)
	cam.kill()
	firstFor := time.Since(start)
	e.WaitGone("door", 15*time.Second)
	c := waitCamera(t, e, "door", 15*time.Second, func(c rtspCamera) bool { return c.Status == "RECONNECTING" })
	if !strings.HasPrefix(c.Info, "reconnecting in ") {
		t.Errorf("status while the camera is away: %q", c.Info)
	}
	t.Logf("while away: %s", c.Info)
	cam.start()
	second := e.WaitStream("door", "PUBLISHING", 30*time.Second)
	if second.MediaSessionID == first.MediaSessionID {
		t.Errorf("the camera came back as the same stream instance %s", first.MediaSessionID)
	}
	start = time.Now()
	time.Sleep(2500 * time.Millisecond)
	terminateCamera(t, e, "door")
	secondFor := time.Since(start)
	e.WaitGone("door", 10*time.Second)

	for _, f := range []struct {
		s   st.Stream
		dur time.Duration
	}{{first, firstFor}, {second, secondFor}} {
		checkLiveRecording(t, filepath.Join(e.Records, f.s.RecordName), "h264", "aac", 44100, f.dur)
	}
	if files := mediaFiles(e); len(files) != 2 {
		t.Errorf("records/: %v, want two files", files)
	}
}

// endInfo collects the info of every stream that ends unpublished, by mediaSessionId.
func endInfo(t *testing.T, e *st.Env) func(id string) string {
	var mu sync.Mutex
	infos := map[string]string{}
	t.Cleanup(e.Server.Streams.Subscribe(func(s stream.Snapshot) {
		if s.Status == stream.StatusUnpublished && s.Info != "" {
			mu.Lock()
			infos[s.MediaSessionID] = s.Info
			mu.Unlock()
		}
	}))
	return func(id string) string {
		mu.Lock()
		defer mu.Unlock()
		return infos[id]
	}
}

// A camera whose media stops while its RTSP session, RTCP reports and keep-alive answers go on
// (checked by hand: GStreamer's RTSP server keeps sending sender reports during the stall) is
// noticed after media_timeout: the file is finished, the reason is in the stream's info, the
// camera's status and the log, and the camera is reconnected once its media is back.
func TestRTSPCameraStallReconnects(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { testCameraStall(t, transport) })
	}
}

func testCameraStall(t *testing.T, transport string) {
	cam := startCamera(t, "--stall-after", "5", "--stall-for", "6")
	e := st.Start(t, map[string]string{"record_rtsp_streams": "true", "media_timeout": "3"}) // a file per session
	info := endInfo(t, e)
	addCamera(t, e, map[string]string{"uri": cam.url("", "h264aac"), "localStreamName": "hall", "transport": transport})
	first := e.WaitStream("hall", "PUBLISHING", 20*time.Second)
	start := time.Now()
	e.WaitGone("hall", 15*time.Second)
	// The stream ends media_timeout after the stall began: that is when its media stopped.
	firstFor := time.Since(start) - 3*time.Second
	const why = "no media from the camera for 3 s"
	if got := info(first.MediaSessionID); got != why {
		t.Errorf("info of the stalled stream: %q, want %q", got, why)
	}
	c := waitCamera(t, e, "hall", 5*time.Second, func(c rtspCamera) bool { return c.Status == "RECONNECTING" })
	if !strings.HasPrefix(c.Info, "reconnecting in ") || !strings.HasSuffix(c.Info, why) {
		t.Errorf("camera status after the stall: %q", c.Info)
	}
	if lines := e.LogLines("camera session ended", why); len(lines) != 1 {
		t.Errorf("log lines about the stall: %q, want one", lines)
	}

	second := e.WaitStream("hall", "PUBLISHING", 30*time.Second)
	if second.MediaSessionID == first.MediaSessionID {
		t.Fatalf("the camera came back as the same stream instance %s", first.MediaSessionID)
	}
	start = time.Now()
	time.Sleep(2500 * time.Millisecond)
	terminateCamera(t, e, "hall")
	secondFor := time.Since(start)
	e.WaitGone("hall", 10*time.Second)
	checkLiveRecording(t, filepath.Join(e.Records, first.RecordName), "h264", "aac", 44100, firstFor)
	checkLiveRecording(t, filepath.Join(e.Records, second.RecordName), "h264", "aac", 44100, secondFor)
	if files := mediaFiles(e); len(files) != 2 {
		t.Errorf("records/: %v, want two files", files)
	}
}

func TestRTSPCameraRefusesUnsupportedVideo(t *testing.T) {
	cam := startCamera(t)
	e := st.Start(t, rtspSettings)
	var mu sync.Mutex
	failed := map[string]string{}
	cancel := e.Server.Streams.Subscribe(func(s stream.Snapshot) {
		if s.Status == stream.StatusFailed && s.Info != "" {
			mu.Lock()
			failed[s.Name] = s.Info
			mu.Unlock()
		}
	})
	defer cancel()
	for _, tc := range []struct{ path, codec string }{{"h265", "H265"}, {"mjpeg", "JPEG"}} {
		addCamera(t, e, map[string]string{"uri": cam.url("", tc.path), "localStreamName": tc.path})
		c := waitCamera(t, e, tc.path, 15*time.Second, func(c rtspCamera) bool { return c.Status == "FAILED" })
		if !strings.Contains(c.Info, tc.codec) || !strings.Contains(c.Info, "cannot be recorded") {
			t.Errorf("%s camera status: %q", tc.path, c.Info)
		}
		mu.Lock()
		info := failed[tc.path]
		mu.Unlock()
		if !strings.Contains(info, tc.codec) {
			t.Errorf("%s stream FAILED info %q, want the codec named", tc.path, info)
		}
	}
	if files := mediaFiles(e); len(files) != 0 {
		t.Errorf("records/ holds %v after refused cameras", files)
	}
}

func TestRTSPCameraListPersistsAndREST(t *testing.T) {
	cam := startCamera(t)
	e := st.Start(t, nil)
	uri := cam.url("admin:hunter22", "h264")
	addCamera(t, e, map[string]string{"uri": uri, "localStreamName": "yard"})
	addCamera(t, e, map[string]string{"uri": cam.url("", "h264aac")}) // named after its URI

	wantError(t, e, "/rest-api/rtsp/startup", `{"uri":"http://example/x"}`, 400, "rtsp://")
	wantError(t, e, "/rest-api/rtsp/startup", `{"uri":"`+cam.url("", "h264aac")+`"}`, 409, "already")
	wantError(t, e, "/rest-api/rtsp/startup", `{"uri":"`+cam.url("", "other")+`","localStreamName":"yard"}`, 409, "yard")
	wantError(t, e, "/rest-api/rtsp/terminate", `{"localStreamName":"nope"}`, 404, "nope")

	// Not recorded (record_rtsp_streams is off) but published, as an RTMP stream would be.
	s := e.WaitStream("yard", "PUBLISHING", 20*time.Second)
	if s.Recording || s.MediaProvider != "RTSP" || s.VideoCodec != "H264" {
		t.Errorf("stream object: %+v", s)
	}
	list := e.Server.Cameras.List()
	if len(list) != 2 || list[1].LocalStreamName != cam.url("", "h264aac") {
		t.Errorf("cameras: %+v", list)
	}

	// The list survives a restart; the file keeps the credentials (owner-only), REST does not show them.
	e.Server.Close()
	path := filepath.Join(e.Home, "conf", "rtsp_cameras.json")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("camera list file: %v %v, want mode 0600", fi, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), uri) {
		t.Errorf("camera list file lacks the camera: %s", b)
	}
	srv, err := server.New(e.Home, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.Server = srv
	e.WaitStream("yard", "PUBLISHING", 20*time.Second)
	c := waitCamera(t, e, "yard", time.Second, func(c rtspCamera) bool { return c.Status == "PUBLISHING" })
	if strings.Contains(c.URI, "hunter22") || !strings.Contains(c.Info, "H264 320x240") {
		t.Errorf("camera after restart: %+v", c)
	}

	// terminate by URI (given with or without the credentials) removes it for good.
	if code, body := e.Post("/rest-api/rtsp/terminate", `{"uri":"`+cam.url("", "h264")+`"}`); code != 200 {
		t.Fatalf("terminate by uri: %d %s", code, body)
	}
	e.WaitGone("yard", 10*time.Second)
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "yard") {
		t.Errorf("terminated camera still in the list file: %s", b)
	}

	// Terminating the camera's stream through the stream API stops the camera too.
	other := e.WaitStream(list[1].LocalStreamName, "PUBLISHING", 20*time.Second)
	if code, body := e.Post("/rest-api/stream/terminate", `{"mediaSessionId":"`+other.MediaSessionID+`"}`); code != 200 {
		t.Fatalf("stream/terminate: %d %s", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if l, _ := cameras(t, e); len(l) == 0 {
			break
		}
		if time.Now().After(deadline) {
			_, body := cameras(t, e)
			t.Fatalf("camera still listed after its stream was terminated: %s", body)
		}
	}
}

func TestRTSPPublish(t *testing.T) {
	bframes := clip
	bframes.BFrames = 2
	for _, tc := range []struct {
		name, transport string
		src             st.Source
	}{{"tcp", "tcp", clip}, {"udp", "udp", clip}, {"bframes", "tcp", bframes}} {
		t.Run(tc.name, func(t *testing.T) {
			e := st.Start(t, rtspSettings)
			src := st.Make(t, tc.src)
			url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/push_%s", e.Ports["rtsp.port"], tc.name)
			out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy",
				"-f", "rtsp", "-rtsp_transport", tc.transport, url)
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			e.WaitGone("push_"+tc.name, 10*time.Second)
			checkRecording(t, filepath.Join(e.Records, "push_"+tc.name+".mp4"), tc.src, 44100)
		})
	}
}

// GStreamer's rtspclientsink sends AAC as MP4A-LATM (RFC 6416): the audio is recorded as AAC,
// every frame of it, over TCP and UDP.
func TestRTSPPublishGStreamerLATM(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			e := st.Start(t, rtspSettings)
			name := "gst_" + transport
			url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/%s", e.Ports["rtsp.port"], name)
			out, err := st.Command(t, time.Minute, "/usr/bin/python3", "testdata/gst_rtsp_publish.py", url, transport)
			if err != nil {
				t.Fatalf("rtspclientsink: %v\n%s", err, out)
			}
			e.WaitGone(name, 10*time.Second)
			path := filepath.Join(e.Records, name+".mp4")
			p := st.ProbeFile(t, path)
			if v := p.Video(t); v.CodecName != "h264" || st.Count(v.Frames) < 95 {
				t.Errorf("video %s, %s frames; want h264, 100 frames", v.CodecName, v.Frames)
			}
			a := p.Audio(t)
			if a.CodecName != "aac" || a.SampleRate != "44100" || a.Channels != 2 {
				t.Errorf("audio %s %s Hz %d channels, want aac 44100 Hz stereo", a.CodecName, a.SampleRate, a.Channels)
			}
			// 172 buffers of 1024 samples were sent; the encoder's priming frame may be left out.
			// GStreamer's live sources start apart (by up to a few hundred ms on a loaded machine):
			// audio sent before the first keyframe is dropped by design, and the audio then ends
			// that much before the video. Every frame from the keyframe on must be there.
			const frame = 1024.0 / 44100
			ad, vd := mediatest.Seconds(a.Duration), mediatest.Seconds(p.Video(t).Duration)
			early := max(0, vd-ad) // audio sent before the video began
			want := 172 - int(math.Round(early/frame))
			if n := st.Count(a.Frames); early > 0.5 || n < want-3 || n > 173 {
				t.Errorf("audio frames: %d, %.3f s before a %.3f s video; want %d", n, ad, vd, want)
			}
			if out := st.Decodes(t, path); out != "" {
				t.Errorf("decoding: %s", out)
			}
			t.Logf("audio %s frames, %s s", a.Frames, a.Duration)
		})
	}
}

// An RTSP publisher that stops sending but keeps its connection (ffmpeg stopped with SIGSTOP:
// no RTP, no RTCP, the TCP connection open) is dropped after media_timeout, not after
// gortsplib's fixed 10 s read timeout; its file is finished and the reason is the stream's info.
func TestRTSPPublisherGoneSilent(t *testing.T) {
	e := st.Start(t, map[string]string{"record_rtsp_streams": "true", "stream_record_policy": "streamName", "media_timeout": "3"})
	info := endInfo(t, e)
	src := st.Make(t, st.Source{Seconds: 20, FPS: 30, GOP: 30, SampleRate: 44100})
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/quiet", e.Ports["rtsp.port"])
	ff := exec.Command("ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", url)
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ff.Process.Kill(); ff.Wait() })
	s := e.WaitStream("quiet", "PUBLISHING", 15*time.Second)
	start := time.Now()
	time.Sleep(3 * time.Second)
	if err := ff.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer ff.Process.Signal(syscall.SIGCONT)
	stopped := time.Now()
	recorded := stopped.Sub(start)
	e.WaitGone("quiet", 8*time.Second)
	took := time.Since(stopped)
	t.Logf("the silent publisher was dropped %.1f s after it stopped", took.Seconds())
	if took > 5*time.Second {
		t.Errorf("the silent publisher was dropped after %v, want about media_timeout (3 s)", took)
	}
	if got, want := info(s.MediaSessionID), "no media from the publisher for 3 s"; got != want {
		t.Errorf("info of the silent publisher's stream: %q, want %q", got, want)
	}
	path := filepath.Join(e.Records, "quiet.mp4")
	p := st.ProbeFile(t, path)
	d := p.Duration()
	if d < recorded.Seconds()-1 || d > recorded.Seconds()+2 {
		t.Errorf("duration %.3f s after publishing for %.1f s", d, recorded.Seconds())
	}
	if frames, want := st.Count(p.Video(t).Frames), d*30; math.Abs(float64(frames)-want) > math.Max(3, want*0.05) {
		t.Errorf("video frames: %d in %.3f s, want about %.0f: no frozen stretch", frames, d, want)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("ffmpeg -v error reports problems decoding %s:\n%s", path, out)
	}
}

func TestRTSPPublishRefused(t *testing.T) {
	e := st.Start(t, rtspSettings)
	src := st.Make(t, st.Source{Seconds: 6, FPS: 30, GOP: 30, SampleRate: 44100})
	pub := st.Publish(t, src, e.RTMP+"/taken")
	defer pub.Kill()
	e.WaitStream("taken", "PUBLISHING", 10*time.Second)
	rtsp := fmt.Sprintf("rtsp://127.0.0.1:%d/live/", e.Ports["rtsp.port"])
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"name in use", []string{"-re", "-i", src, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", rtsp + "taken"}, "already in use"},
		{"H.265", []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx265", "-preset", "ultrafast",
			"-f", "rtsp", "-rtsp_transport", "tcp", rtsp + "hevc"}, "cannot be recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := st.Command(t, time.Minute, "ffmpeg", append([]string{"-v", "error"}, tc.args...)...)
			if err == nil {
				t.Fatalf("the RTSP publisher was accepted")
			}
			if !strings.Contains(string(out), tc.says) {
				t.Errorf("ffmpeg was not told why (%q): %s", tc.says, out)
			}
		})
	}
	if files := mediaFiles(e); len(files) != 0 {
		t.Errorf("records/: %v", files)
	}
}

// TestPlayStreamOfRTSPURLCapturesCamera: as on WCS, a WebSocket playStream whose name is an
// rtsp:// URL captures that camera: it becomes a stream (here recorded: record_rtsp_streams)
// while the session lasts. Playback itself is not offered, and the client is told so.
func TestPlayStreamOfRTSPURLCapturesCamera(t *testing.T) {
	cam := startCamera(t)
	e := st.Start(t, map[string]string{"record_rtsp_streams": "true", "stream_record_policy": "template",
		"stream_record_policy_template": "played-{mediaSessionId}"})
	w := dialWCS(t, "ws://127.0.0.1:"+strconv.Itoa(e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	uri := cam.url("", "h264aac")
	w.send("playStream", map[string]any{"mediaSessionId": "play-1", "name": uri, "published": false})
	var ev struct{ Status, Info string }
	for deadline := time.Now().Add(5 * time.Second); ev.Status == "" && time.Now().Before(deadline); {
		f, ok := <-w.frames
		if !ok {
			t.Fatal("connection closed")
		}
		var msg string
		var data []json.RawMessage
		json.Unmarshal(f["message"], &msg)
		json.Unmarshal(f["data"], &data)
		if msg == "notifyStreamStatusEvent" && len(data) > 0 {
			json.Unmarshal(data[0], &ev)
		}
	}
	if ev.Status != "FAILED" || !strings.Contains(ev.Info, "captured as stream "+uri) {
		t.Fatalf("playStream answer: %+v; want FAILED saying playback is not offered and the camera is captured", ev)
	}
	s := e.WaitStream(uri, "PUBLISHING", 20*time.Second)
	if s.MediaProvider != "RTSP" || !s.Recording {
		t.Errorf("captured camera: %+v; want an RTSP stream being recorded", s)
	}
	time.Sleep(2 * time.Second)
	w.c.Close() // the session ends: the camera it captured is released, its recording finished
	e.WaitGone(uri, 10*time.Second)
	if got := e.Server.Cameras.List(); len(got) != 0 {
		t.Errorf("the captured camera outlived its session: %+v", got)
	}
	p := st.ProbeFile(t, filepath.Join(e.Records, "played-"+s.MediaSessionID+".mp4"))
	if v := p.Video(t); v.CodecName != "h264" || st.Count(v.Frames) < 25 {
		t.Errorf("captured camera's recording: %+v", v)
	}
}

// An RTSP publisher killed (SIGKILL: no TEARDOWN) frees its name at once: the same name published
// again right away is accepted, and both recordings are finished and playable.
func TestRTSPPublisherKilledRepublish(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			e := st.Start(t, rtspSettings)
			src := st.Make(t, st.Source{Seconds: 20, FPS: 30, GOP: 30, SampleRate: 44100})
			url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/again", e.Ports["rtsp.port"])
			ff := exec.Command("ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy", "-f", "rtsp", "-rtsp_transport", transport, url)
			if err := ff.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ff.Process.Kill(); ff.Wait() })
			e.WaitStream("again", "PUBLISHING", 15*time.Second)
			time.Sleep(2 * time.Second)
			ff.Process.Signal(syscall.SIGKILL)
			ff.Wait()
			killed := time.Now()
			out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-t", "3", "-i", src, "-c", "copy",
				"-f", "rtsp", "-rtsp_transport", transport, url)
			if err != nil {
				t.Fatalf("republish %.1f s after the kill: %v\n%s", time.Since(killed).Seconds(), err, out)
			}
			e.WaitGone("again", 10*time.Second)
			files := e.RecordFiles()
			if len(files) != 2 {
				t.Fatalf("recordings %v, want two", files)
			}
			for _, f := range files {
				path := filepath.Join(e.Records, f)
				if d := st.ProbeFile(t, path).Duration(); d < 1.5 {
					t.Errorf("%s lasts %.3f s", f, d)
				}
				if out := st.Decodes(t, path); out != "" {
					t.Errorf("decoding %s: %s", f, out)
				}
			}
		})
	}
}

// An RTSP publisher over UDP loses no more audio frames than over TCP (where the last packets
// come before TEARDOWN on the same connection; over UDP they could still be on their way).
func TestRTSPPublishUDPKeepsLastAudio(t *testing.T) {
	e := st.Start(t, rtspSettings)
	src := st.Make(t, clip)
	sent := st.Count(st.ProbeFile(t, src).Audio(t).Frames)
	got := map[string]int{}
	for _, transport := range []string{"tcp", "udp"} {
		name := "tail_" + transport
		url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/%s", e.Ports["rtsp.port"], name)
		out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-i", src, "-c", "copy",
			"-f", "rtsp", "-rtsp_transport", transport, url)
		if err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		e.WaitGone(name, 10*time.Second)
		got[transport] = st.Count(st.ProbeFile(t, filepath.Join(e.Records, name+".mp4")).Audio(t).Frames)
	}
	t.Logf("audio frames sent %d, recorded over TCP %d, over UDP %d", sent, got["tcp"], got["udp"])
	if got["udp"] != got["tcp"] {
		t.Errorf("over UDP %d audio frames recorded, over TCP %d", got["udp"], got["tcp"])
	}
}

// Audio that cannot be recorded (G.722 here) leaves the video recorded alone, and the stream's
// info says which media is left out while it publishes: RTSP gives the publisher no way to hear it.
func TestRTSPPublishSkippedAudioNoted(t *testing.T) {
	e := st.Start(t, rtspSettings)
	src := st.Make(t, clip)
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/g722", e.Ports["rtsp.port"])
	done := make(chan error, 1)
	go func() {
		out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-i", src, "-c:v", "copy",
			"-c:a", "g722", "-ar", "16000", "-f", "rtsp", "-rtsp_transport", "tcp", url)
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		done <- err
	}()
	s := e.WaitStream("g722", "PUBLISHING", 15*time.Second)
	if !strings.Contains(s.Info, "not recorded: audio G722") {
		t.Errorf("stream info %q, want it to name the G.722 audio left out", s.Info)
	}
	if err := <-done; err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	e.WaitGone("g722", 10*time.Second)
	path := filepath.Join(e.Records, "g722.mp4")
	if p := st.ProbeFile(t, path); p.Has("audio") || st.Count(p.Video(t).Frames) != clip.Frames() {
		t.Errorf("want video only with %d frames", clip.Frames())
	}
	if errs := st.Decodes(t, path); errs != "" {
		t.Errorf("decode: %s", errs)
	}
	if n := len(e.LogLines("media not recorded", "G722")); n != 1 {
		t.Errorf("%d log lines about the G.722 audio, want 1", n)
	}
}
