package server_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

type apiError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// wantError checks a REST error answer: the status and a JSON body saying why.
func wantError(t *testing.T, e *st.Env, path, body string, status int, says string) {
	t.Helper()
	code, b := e.Post(path, body)
	var ae apiError
	if code != status || json.Unmarshal(b, &ae) != nil || ae.Status != status || !strings.Contains(ae.Message, says) {
		t.Errorf("POST %s %s: %d %s, want %d with a JSON error saying %q", path, body, code, b, status, says)
	}
}

func TestRESTRecordOnDemand(t *testing.T) {
	t.Parallel()          // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, nil) // RTMP streams are not recorded automatically by default
	src := st.Source{Seconds: 12, FPS: 30, GOP: 30, SampleRate: 44100}
	pub := st.Publish(t, st.Make(t, src), e.RTMP+"/ondemand")
	s := e.WaitStream("ondemand", "PUBLISHING", 10*time.Second)
	if s.Recording {
		t.Fatalf("recording without being asked: %+v", s)
	}

	wantError(t, e, "/rest-api/stream/startRecording", `{"mediaSessionId":"5a072377-73c1-4caf-abd3"}`, 404, "5a072377-73c1-4caf-abd3")
	wantError(t, e, "/rest-api/stream/startRecording", `{"mediaSessionId":`, 400, "malformed JSON")
	wantError(t, e, "/rest-api/stream/startRecording", `{}`, 400, "mediaSessionId")
	wantError(t, e, "/rest-api/stream/stopRecording", `{"mediaSessionId":"`+s.MediaSessionID+`"}`, 409, "not being recorded")
	wantError(t, e, "/rest-api/stream/stopRecording", `{"mediaSessionId":"nope"}`, 404, "nope")

	time.Sleep(2500 * time.Millisecond)
	body := `{"mediaSessionId":"` + s.MediaSessionID + `"}`
	code, b := e.Post("/rest-api/stream/startRecording", body)
	if code != 200 {
		t.Fatalf("startRecording: %d %s", code, b)
	}
	wantError(t, e, "/rest-api/stream/startRecording", body, 409, "already being recorded")
	code, b = e.Post("/rest-api/recorder/find_all", "")
	var active []struct{ FileName, MediaSessionID string }
	json.Unmarshal(b, &active)
	want := "stream-" + s.MediaSessionID + "-.mp4"
	if code != 200 || len(active) != 1 || active[0].FileName != want || active[0].MediaSessionID != s.MediaSessionID {
		t.Errorf("recorder/find_all: %d %s, want %s", code, b, want)
	}

	time.Sleep(3 * time.Second)
	started := time.Now()
	code, b = e.Post("/rest-api/stream/stopRecording", body)
	stop := time.Since(started)
	if code != 200 {
		t.Fatalf("stopRecording: %d %s", code, b)
	}
	t.Logf("stopRecording answered in %v", stop)
	if stop > 3*time.Second {
		t.Errorf("stopRecording took %v: finishing must not wait for the stream", stop)
	}
	// The file is complete the moment stop answers, while the stream goes on.
	path := filepath.Join(e.Records, want)
	p := st.ProbeFile(t, path)
	frames := st.Count(p.Video(t).Frames)
	// 3 s recorded, plus up to one GOP (1 s) from before the request: it starts at the cached keyframe.
	if frames < 3*30 || frames > 5*30 {
		t.Errorf("on-demand recording holds %d frames, want 90..150", frames)
	}
	if first := firstVideoFrameKey(t, path); !first {
		t.Errorf("on-demand recording does not start with a keyframe")
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}

	// The WCS aliases do the same; a second recording of the stream never overwrites the first.
	if code, b := e.Post("/rest-api/recorder/startup", body); code != 200 {
		t.Fatalf("recorder/startup: %d %s", code, b)
	}
	time.Sleep(1500 * time.Millisecond)
	if code, b := e.Post("/rest-api/recorder/terminate", body); code != 200 || !strings.Contains(string(b), "_2.mp4") {
		t.Fatalf("recorder/terminate: %d %s, want a second file with a new name", code, b)
	}
	if st.Count(st.ProbeFile(t, path).Video(t).Frames) != frames {
		t.Errorf("the first recording changed after a second one")
	}
	pub.Wait(30 * time.Second)
	e.WaitGone("ondemand", 10*time.Second)
	wantError(t, e, "/rest-api/stream/startRecording", body, 404, s.MediaSessionID)
}

// firstVideoFrameKey tells whether a file's first video frame is a keyframe.
func firstVideoFrameKey(t *testing.T, path string) bool {
	p := mediatest.ProbeFile(t, path, "-select_streams", "v", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame")
	return len(p.Frames) == 1 && p.Frames[0].KeyFrame == 1
}

func TestRESTStreamFindAndTerminate(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true"})
	pub := st.Publish(t, st.Make(t, st.Source{Seconds: 30, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/term")
	s := e.WaitStream("term", "PUBLISHING", 10*time.Second)
	if got := findStream(t, e, "term"); len(got) != 1 || got[0].MediaSessionID != s.MediaSessionID {
		t.Errorf("stream/find: %+v", got)
	}
	// GET without a body and POST with {} mean "no filter".
	resp, err := st.Client.Get(e.HTTP + "/rest-api/stream/find_all")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET find_all: %v %v", err, resp)
	}
	resp.Body.Close()
	wantError(t, e, "/rest-api/stream/find", `{"name":"nobody"}`, 404, "no stream")
	wantError(t, e, "/rest-api/stream/terminate", `{"mediaSessionId":"x"}`, 404, "x")
	time.Sleep(2 * time.Second)
	if code, b := e.Post("/rest-api/stream/terminate", `{"mediaSessionId":"`+s.MediaSessionID+`"}`); code != 200 {
		t.Fatalf("terminate: %d %s", code, b)
	}
	e.WaitGone("term", 5*time.Second)
	if _, err := pub.Wait(15 * time.Second); err == nil {
		t.Errorf("publisher kept publishing after terminate")
	}
	p := st.ProbeFile(t, filepath.Join(e.Records, s.RecordName))
	if n := st.Count(p.Video(t).Frames); n < 30 {
		t.Errorf("terminated stream's recording holds %d frames", n)
	}
}

func TestDownloadRecording(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	pub := st.Publish(t, st.Make(t, clip), e.RTMP+"/dl")
	e.WaitStream("dl", "PUBLISHING", 10*time.Second)
	// Being written: neither listed nor served as finished.
	if code := get(t, e, "/client/records/dl.mp4", "").StatusCode; code != 404 {
		t.Errorf("a recording being written was served: %d", code)
	}
	pub.Wait(30 * time.Second)
	e.WaitGone("dl", 10*time.Second)
	whole, err := os.ReadFile(filepath.Join(e.Records, "dl.mp4"))
	if err != nil {
		t.Fatal(err)
	}

	resp := get(t, e, "/client/records/dl.mp4", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || string(body) != string(whole) {
		t.Errorf("GET: %d %q, %d bytes, want 200 video/mp4 with the file's %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(whole))
	}
	resp = get(t, e, "/client/records/dl.mp4", "bytes=100-199")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(body) != string(whole[100:200]) || resp.Header.Get("Content-Range") != "bytes 100-199/"+strconv.Itoa(len(whole)) {
		t.Errorf("Range 100-199: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
	}
	resp = get(t, e, "/client/records/dl.mp4", "bytes=-10")
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(body) != string(whole[len(whole)-10:]) {
		t.Errorf("Range -10: %d, %d bytes", resp.StatusCode, len(body))
	}
	if code := get(t, e, "/client/records/dl.mp4", "bytes=999999999-").StatusCode; code != 416 {
		t.Errorf("unsatisfiable range: %d, want 416", code)
	}
	for _, bad := range []string{"..%2Fconf%2Fflashphoner.properties", "%2e%2e", "nope.mp4", ".dl.mp4", "dl.mp4%2F", "..%2F..%2Fetc%2Fpasswd"} {
		if code := get(t, e, "/client/records/"+bad, "").StatusCode; code != 404 {
			t.Errorf("GET /client/records/%s: %d, want 404", bad, code)
		}
	}
	os.WriteFile(filepath.Join(e.Records, "notes.txt"), []byte("x"), 0o644)
	if code := get(t, e, "/client/records/notes.txt", "").StatusCode; code != 404 {
		t.Errorf("a non-recording file was served: %d", code)
	}
}

func get(t *testing.T, e *st.Env, path, rng string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.HTTP+path, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestHTTPSSelfSigned: with no certificate configured, https.port serves the same API with a
// certificate made on first start and kept in conf/.
func TestHTTPSSelfSigned(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, nil)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post("https://127.0.0.1:"+strconv.Itoa(e.Ports["https.port"])+"/rest-api/stream/find_all", "application/json", nil)
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("HTTPS find_all: %d", resp.StatusCode)
	}
	cert := resp.TLS.PeerCertificates[0]
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Errorf("certificate does not name localhost: %v", err)
	}
	for _, f := range []string{"streamrec.crt", "streamrec.key"} {
		if _, err := os.Stat(filepath.Join(e.Home, "conf", f)); err != nil {
			t.Errorf("conf/%s: %v", f, err)
		}
	}
}
