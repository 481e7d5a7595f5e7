package server_test

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/recorder"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// getAuth GETs path on the server's HTTP port with an Authorization header ("" for none).
func getAuth(t *testing.T, e *st.Env, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.HTTP+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// samples are the values of a scrape, by series as the text format writes it
// (`streamrec_streams{protocol="rtmp",status="publishing"}`).
type samples map[string]float64

// scrapeMetrics GETs /metrics with the token and parses the text format.
func scrapeMetrics(t *testing.T, e *st.Env, token string) samples {
	t.Helper()
	code, body := getAuth(t, e, "/metrics", "Bearer "+token)
	if code != 200 {
		t.Fatalf("GET /metrics with the token: %d %s", code, body)
	}
	out := samples{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// value returns a series' value, failing the test when the scrape lacks it.
func (s samples) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := s[series]
	if !ok {
		t.Fatalf("scrape lacks %s", series)
	}
	return v
}

const (
	rtmpRecordings = `streamrec_recordings_in_progress{protocol="rtmp"}`
	rtmpPublishing = `streamrec_streams{protocol="rtmp",status="publishing"}`
	rtmpPublishers = `streamrec_publishers_connected{protocol="rtmp"}`
	rtmpIngest     = `streamrec_ingest_bytes_total{protocol="rtmp"}`
	filesComplete  = `streamrec_files_finished_total{result="complete"}`
	framesWritten  = `streamrec_recorder_frames_written_total`
	bytesWritten   = `streamrec_recorder_written_bytes_total`
	hooksOK        = `streamrec_hook_runs_total{result="ok"}`
)

// A scrape during a real RTMP recording (ffmpeg publishing) sees the stream, its publisher and
// its recording, and the frames and bytes moving; after it, the recording is gone, one file
// more is finished, its bytes and frames are counted, its hook ran. The token is enforced.
func TestMetricsDuringRTMPRecording(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	const token = "m3trics-t0ken"
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"metrics_token":                  token,
	})
	for _, auth := range []string{"", "Bearer wrong", "Basic " + "Og=="} {
		if code, body := getAuth(t, e, "/metrics", auth); code != 401 || strings.Contains(body, "streamrec_") {
			t.Errorf("GET /metrics with %q: %d %.100s, want 401 and no metrics", auth, code, body)
		}
	}
	before := scrapeMetrics(t, e, token)
	if before.value(t, rtmpRecordings) != 0 || before.value(t, filesComplete) != 0 || before.value(t, bytesWritten) != 0 {
		t.Errorf("a fresh server counts something: %v %v %v", before[rtmpRecordings], before[filesComplete], before[bytesWritten])
	}
	if before.value(t, "streamrec_records_disk_free_bytes") <= 0 || before.value(t, "process_cpu_seconds_total") <= 0 {
		t.Error("no disk free space or process CPU time")
	}

	// 48 kHz audio is transcoded to the default 44.1 kHz: the encoder's time is counted.
	src := st.Source{Seconds: 8, FPS: 30, GOP: 30, SampleRate: 48000}
	pub := st.Publish(t, st.Make(t, src), e.RTMP+"/watched")
	e.WaitStream("watched", "PUBLISHING", 10*time.Second)
	var during samples
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		during = scrapeMetrics(t, e, token)
		if during[rtmpRecordings] == 1 && during[framesWritten] > 0 && during[bytesWritten] > 0 || time.Now().After(deadline) {
			break
		}
	}
	for series, want := range map[string]float64{rtmpRecordings: 1, rtmpPublishing: 1, rtmpPublishers: 1,
		`streamrec_streams{protocol="rtsp",status="publishing"}`: 0, `streamrec_recordings_in_progress{protocol="webrtc"}`: 0} {
		if got := during.value(t, series); got != want {
			t.Errorf("while recording: %s = %v, want %v", series, got, want)
		}
	}
	if during.value(t, framesWritten) == 0 || during.value(t, bytesWritten) == 0 || during.value(t, rtmpIngest) == 0 {
		t.Errorf("while recording nothing counted: frames %v, bytes %v, ingest %v", during[framesWritten], during[bytesWritten], during[rtmpIngest])
	}
	time.Sleep(time.Second)
	later := scrapeMetrics(t, e, token)
	for _, series := range []string{framesWritten, bytesWritten, rtmpIngest} {
		if later.value(t, series) <= during[series] {
			t.Errorf("%s did not grow during the recording: %v, a second later %v", series, during[series], later[series])
		}
	}

	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("watched", 10*time.Second)
	fi, err := os.Stat(filepath.Join(e.Records, "watched.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	var after samples
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = scrapeMetrics(t, e, token)
		if after[hooksOK] == 1 || time.Now().After(deadline) { // the default hook, exit 0
			break
		}
	}
	for series, want := range map[string]float64{rtmpRecordings: 0, rtmpPublishing: 0, rtmpPublishers: 0,
		filesComplete: 1, `streamrec_files_finished_total{result="write_error"}`: 0, hooksOK: 1,
		`streamrec_hook_duration_seconds_count`: 1, `streamrec_recorder_frames_dropped_total`: 0,
		`streamrec_recorder_queue_frames`: 0} {
		if got := after.value(t, series); got != want {
			t.Errorf("after the recording: %s = %v, want %v", series, got, want)
		}
	}
	t.Logf("after: file %d bytes; written %v bytes, %v frames; ingest %v bytes; transcode %v s", fi.Size(),
		after[bytesWritten], after[framesWritten], after[rtmpIngest], after["streamrec_audio_transcode_cpu_seconds_total"])
	// Every byte of the file is counted; counting happens as the file grows, and a fragment
	// counted while pending may end up a little smaller, never larger.
	if got, size := after.value(t, bytesWritten), float64(fi.Size()); got < size || got > size*1.01 {
		t.Errorf("bytes written %v, the file has %v", got, size)
	}
	if got := after.value(t, framesWritten); got < float64(src.Frames()) {
		t.Errorf("frames written %v, want at least the %d video frames", got, src.Frames())
	}
	if got := after.value(t, rtmpIngest); got < float64(fi.Size())/2 {
		t.Errorf("ingest bytes %v for a file of %d", got, fi.Size())
	}
	if after.value(t, "streamrec_audio_transcode_cpu_seconds_total") <= 0 {
		t.Error("48 kHz audio transcoded to 44.1 kHz took no CPU time")
	}
}

// /health and /ready need no login, even with rest_token and metrics_token set. /ready answers
// 503 with the reason while the records folder cannot be written (here: replaced by a file;
// tests run as root, for whom a read-only mode changes nothing), and 200 again once it can.
func TestHealthAndReady(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"rest_token": "r", "metrics_token": "m"})
	for _, path := range []string{"/health", "/ready"} {
		if code, body := getAuth(t, e, path, ""); code != 200 || body != "ok\n" {
			t.Errorf("GET %s: %d %q, want 200 ok", path, code, body)
		}
	}
	if code, _ := getAuth(t, e, "/metrics", ""); code != 401 {
		t.Errorf("GET /metrics without the token: %d", code)
	}
	// The answer is the text format, gzipped when asked (as Prometheus asks).
	req, _ := http.NewRequest(http.MethodGet, e.HTTP+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer m")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct, ce := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"); resp.StatusCode != 200 ||
		!strings.HasPrefix(ct, "text/plain; version=0.0.4") || ce != "gzip" {
		t.Errorf("GET /metrics: %d, Content-Type %q, Content-Encoding %q; want the text format, gzipped", resp.StatusCode, ct, ce)
	}
	// Prometheus's basic_auth works too: the token as the password, any user name.
	if code, body := getAuth(t, e, "/metrics", "Basic "+base64.StdEncoding.EncodeToString([]byte("prometheus:m"))); code != 200 ||
		!strings.Contains(body, "\nstreamrec_streams{") {
		t.Errorf("GET /metrics with the token as the Basic password: %d %.200s", code, body)
	}
	if code, _ := getAuth(t, e, "/metrics", "Bearer r"); code != 401 {
		t.Errorf("GET /metrics with rest_token instead of metrics_token: %d", code)
	}
	if err := os.RemoveAll(e.Records); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Records, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, 503, "not ready: records folder not writable")
	if code, body := getAuth(t, e, "/health", ""); code != 200 {
		t.Errorf("GET /health while not ready: %d %q, want 200: the process is alive", code, body)
	}
	if err := os.Remove(e.Records); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.Records, 0o755); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, 200, "ok")
	e.Server.Close()
	// Close begins by answering 503; the listener closes right after, so either is right.
	if resp, err := st.Client.Get(e.HTTP + "/ready"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("GET /ready after Close: %d %s", resp.StatusCode, b)
		}
	}
}

// On a records disk with less than 64 MB free (a tmpfs filled up), /ready answers 503 saying
// so, and the metrics show the free space; freed, it is ready again.
func TestReadyOnAFullDisk(t *testing.T) {
	e := st.Start(t, nil)
	tmpfs.Mount(t, e.Records, recorder.MinFreeSpace+32<<20)
	waitReady(t, e, 200, "ok")
	ballast := tmpfs.Fill(t, e.Records, 1<<20)
	waitReady(t, e, 503, "not ready: not enough free space on the records disk")
	if free := scrapeMetrics(t, e, "").value(t, "streamrec_records_disk_free_bytes"); free < 0 || free >= recorder.MinFreeSpace {
		t.Errorf("records disk free %v bytes, full below %d", free, recorder.MinFreeSpace)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, 200, "ok")
}

// waitReady waits (the checks are cached for a second) until /ready answers code with a body
// that begins with prefix.
func waitReady(t *testing.T, e *st.Env, code int, prefix string) {
	t.Helper()
	var got int
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, body = getAuth(t, e, "/ready", ""); got == code && strings.HasPrefix(body, prefix) {
			return
		}
	}
	t.Errorf("GET /ready: %d %q, want %d %q...", got, body, code, prefix)
}

// A WebRTC publication (pion: VP8 + Opus, recorded to WebM with Opus transcoded to Vorbis) is
// counted under protocol webrtc, with the transcoder's CPU time.
func TestMetricsDuringWebRTCRecording(t *testing.T) {
	e := st.Start(t, map[string]string{"stream_record_policy": "streamName"})
	stop, _ := publishVP8(t, e, "5e1d0c3a-0000-4000-8000-00000000a7e1", "webcam", vp8Frames(t, 5), opusPackets(t, 5))
	const recording = `streamrec_recordings_in_progress{protocol="webrtc"}`
	var during samples
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		during = scrapeMetrics(t, e, "")
		if during[recording] == 1 && during[framesWritten] > 0 || time.Now().After(deadline) {
			break
		}
	}
	for series, want := range map[string]float64{recording: 1, `streamrec_streams{protocol="webrtc",status="publishing"}`: 1,
		`streamrec_publishers_connected{protocol="webrtc"}`: 1, rtmpPublishers: 0} {
		if got := during.value(t, series); got != want {
			t.Errorf("while recording: %s = %v, want %v", series, got, want)
		}
	}
	if during.value(t, `streamrec_ingest_bytes_total{protocol="webrtc"}`) == 0 || during.value(t, rtmpIngest) != 0 {
		t.Errorf("ingest bytes: webrtc %v, rtmp %v", during[`streamrec_ingest_bytes_total{protocol="webrtc"}`], during[rtmpIngest])
	}
	stop()
	e.WaitGone("webcam", 10*time.Second)
	after := scrapeMetrics(t, e, "")
	if after.value(t, recording) != 0 || after.value(t, filesComplete) != 1 || after.value(t, "streamrec_audio_transcode_cpu_seconds_total") <= 0 {
		t.Errorf("after: recording %v, complete files %v, transcode CPU %v s; want 0, 1 (webcam.webm) and the Opus to Vorbis time",
			after[recording], after[filesComplete], after["streamrec_audio_transcode_cpu_seconds_total"])
	}
	if fi, err := os.Stat(filepath.Join(e.Records, "webcam.webm")); err != nil || after.value(t, bytesWritten) != float64(fi.Size()) {
		t.Errorf("bytes written %v for webcam.webm (%v)", after[bytesWritten], err)
	}
}
