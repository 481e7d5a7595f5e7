package server_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// This file publishes over WHIP (RFC 9725) with the Go publisher of webrtc_pion_e2e_test.go:
// the same clip, the same judge (ffprobe), through the HTTP endpoints instead of WCS.

const whipToken = "wh1p-s3cret"

// whipRequest sends one WHIP request and returns the answer and its body.
func whipRequest(t *testing.T, method, url, token, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// whipOffer makes the publisher's offer without waiting for its candidates, which it trickles:
// the returned func gives the candidates gathered, as an SDP fragment, once gathering is done.
func (p *pionPublisher) whipOffer(t *testing.T) (offer string, fragment func() string) {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(done)
			return
		}
		mu.Lock()
		lines = append(lines, "a="+c.ToJSON().Candidate)
		mu.Unlock()
	})
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	return o.SDP, func() string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		parsed, _ := p.pc.LocalDescription().Unmarshal()
		ufrag, _ := parsed.MediaDescriptions[0].Attribute("ice-ufrag")
		pwd, _ := parsed.MediaDescriptions[0].Attribute("ice-pwd")
		return "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
			strings.Join(lines, "\r\n") + "\r\na=end-of-candidates\r\n"
	}
}

// TestWHIPPion: a Go publisher POSTs its offer to /whip/NAME, trickles its candidates with PATCH,
// sends the clip and DELETEs the resource; the file is the clip (every frame, its duration, a
// clean decode). Around it, every refusal gets the RFC's status: 401 without the token, 415,
// 400 for a bad offer, 409 for a name being published, 412/422 for PATCH, 404 for a resource
// that ended; OPTIONS answers any origin's preflight.
func TestWHIPPion(t *testing.T) {
	e := st.Start(t, map[string]string{"whip_token": whipToken})
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	endpoint := e.HTTP + "/whip/whip-pion"

	resp, _ := whipRequest(t, http.MethodOptions, endpoint, "", "", "", "Origin", "https://studio.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Location") ||
		resp.Header.Get("Accept-Post") != "application/sdp" || len(resp.Header.Values("Link")) != 0 {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	p := newPionPublisher(t)
	offer, fragment := p.whipOffer(t)
	for _, c := range []struct {
		name, token, ctype, body string
		want                     int
	}{
		{"no token", "", "application/sdp", offer, http.StatusUnauthorized},
		{"wrong token", "guess", "application/sdp", offer, http.StatusUnauthorized},
		{"wrong type", whipToken, "text/plain", offer, http.StatusUnsupportedMediaType},
		{"bad offer", whipToken, "application/sdp", "v=0\r\nthis is no SDP\r\n", http.StatusBadRequest},
	} {
		resp, body := whipRequest(t, http.MethodPost, endpoint, c.token, c.ctype, c.body)
		if resp.StatusCode != c.want || strings.TrimSpace(body) == "" {
			t.Errorf("POST %s: %d %q, want %d with a reason", c.name, resp.StatusCode, body, c.want)
		}
	}

	posted := time.Now()
	resp, answer := whipRequest(t, http.MethodPost, endpoint, whipToken, "application/sdp", offer)
	location, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(location, "/whip/whip-pion/") || etag == "" ||
		resp.Header.Get("Content-Type") != "application/sdp" || !strings.HasPrefix(answer, "v=0") {
		t.Fatalf("POST: %d %v %q", resp.StatusCode, resp.Header, answer)
	}
	resource := e.HTTP + location
	frag := fragment()
	for _, c := range []struct {
		name, ctype, ifMatch, body string
		want                       int
	}{
		{"wrong type", "application/sdp", etag, frag, http.StatusUnsupportedMediaType},
		{"stale etag", "application/trickle-ice-sdpfrag", `"stale"`, frag, http.StatusPreconditionFailed},
		{"ice restart", "application/trickle-ice-sdpfrag", "*", frag, http.StatusUnprocessableEntity},
		{"other ufrag", "application/trickle-ice-sdpfrag", etag, strings.Replace(frag, "a=ice-ufrag:", "a=ice-ufrag:x", 1), http.StatusUnprocessableEntity},
		{"trickle", "application/trickle-ice-sdpfrag", etag, frag, http.StatusNoContent},
	} {
		resp, body := whipRequest(t, http.MethodPatch, resource, whipToken, c.ctype, c.body, "If-Match", c.ifMatch)
		if resp.StatusCode != c.want {
			t.Errorf("PATCH %s: %d %q, want %d", c.name, resp.StatusCode, body, c.want)
		}
	}
	if err := p.accept(answer); err != nil {
		t.Fatal(err)
	}

	// A second publisher of the name is refused while the first publishes.
	other, _ := newPionPublisher(t).whipOffer(t)
	if resp, body := whipRequest(t, http.MethodPost, endpoint, whipToken, "application/sdp", other); resp.StatusCode != http.StatusConflict {
		t.Errorf("POST of a name being published: %d %q, want 409", resp.StatusCode, body)
	}

	sent := make(chan error, 1)
	go func() { sent <- p.send(aus, opus, sendOptions{senderReports: true}) }()
	firstFrame := logTime(t, waitLog(t, e, 10*time.Second, "recording started", "whip-pion"))
	t.Logf("POST to the first frame recorded (recording started): %v", firstFrame.Sub(posted).Round(time.Millisecond))
	if s := e.WaitStream("whip-pion", "PUBLISHING", 5*time.Second); s.MediaProvider != "WHIP" {
		t.Errorf("mediaProvider %q, want WHIP", s.MediaProvider)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the last packets through the reorder buffer
	if resp, body := whipRequest(t, http.MethodDelete, resource, "", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("DELETE without the token: %d %q, want 401", resp.StatusCode, body)
	}
	if resp, body := whipRequest(t, http.MethodDelete, resource, whipToken, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d %q", resp.StatusCode, body)
	}
	// DELETE answers once the recording is finished: the file is complete now.
	files := e.RecordFiles()
	if len(files) != 1 {
		t.Fatalf("records: %v", files)
	}
	judgeClip(t, filepath.Join(e.Records, files[0]), len(aus))
	for _, m := range []string{http.MethodDelete, http.MethodPatch} {
		if resp, _ := whipRequest(t, m, resource, whipToken, "application/trickle-ice-sdpfrag", frag); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s of an ended resource: %d, want 404", m, resp.StatusCode)
		}
	}
	if resp, _ := whipRequest(t, http.MethodGet, endpoint, whipToken, "", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

// judgeClip checks a recording of the sync clip: H.264 + AAC, every frame, the clip's duration
// within one frame, a clean decode.
func judgeClip(t *testing.T, path string, frames int) {
	t.Helper()
	p := st.ProbeFile(t, path)
	v := p.Video(t)
	got := st.Count(v.Frames)
	vd, ad := mediatest.Seconds(v.Duration), mediatest.Seconds(p.Audio(t).Duration)
	t.Logf("%s: %d video frames, video %.3f s, audio %.3f s, file %.3f s", filepath.Base(path), got, vd, ad, p.Duration())
	if v.CodecName != "h264" || p.Audio(t).CodecName != "aac" {
		t.Errorf("codecs: %+v", p.Streams)
	}
	if got != frames {
		t.Errorf("%d video frames, want %d", got, frames)
	}
	if vd < clipSeconds-1.0/30 || vd > clipSeconds+1.0/30 {
		t.Errorf("video lasts %.3f s, want %d s within one frame", vd, clipSeconds)
	}
	// Audio is transcoded (Opus to AAC): its encoder's frames are 23 ms, its priming a frame more.
	if ad < clipSeconds-0.1 || ad > clipSeconds+0.1 {
		t.Errorf("audio lasts %.3f s, want %d s within 100 ms", ad, clipSeconds)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}
}

// logTime is the time= of a server log line (slog's text format).
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	_, rest, _ := strings.Cut(line, "time=")
	v, _, _ := strings.Cut(rest, " ")
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("log line without a time: %q", line)
	}
	return at
}

// TestWHIPRecordFalse: ?record=false publishes without recording (record_streams=true); REST
// terminate ends a WHIP publication, its peer connection and resource with it.
func TestWHIPRecordFalse(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, nil)
	p := newPionPublisher(t)
	offer, _ := p.whipOffer(t)
	resp, answer := whipRequest(t, http.MethodPost, e.HTTP+"/whip/norec?record=false", "", "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %q", resp.StatusCode, answer)
	}
	if err := p.accept(answer); err != nil {
		t.Fatal(err)
	}
	h264, ogg := syncSources(t)
	if err := p.send(accessUnits(t, h264)[:60], oggPackets(t, ogg)[:100], sendOptions{}); err != nil {
		t.Fatal(err)
	}
	s := e.WaitStream("norec", "PUBLISHING", 5*time.Second)
	if s.Recording {
		t.Errorf("record=false: the stream is recorded")
	}
	// REST terminate ends the publication: the peer connection too, so the resource is gone.
	if code, b := e.Post("/rest-api/stream/terminate", `{"mediaSessionId":"`+s.MediaSessionID+`"}`); code != 200 {
		t.Fatalf("stream/terminate: %d %s", code, b)
	}
	e.WaitGone("norec", 10*time.Second)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, _ := whipRequest(t, http.MethodDelete, e.HTTP+resp.Header.Get("Location"), "", "", "")
		if r.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resource of a terminated stream answers DELETE with %d, want 404", r.StatusCode)
		}
	}
	if files := e.RecordFiles(); len(files) != 0 {
		t.Errorf("record=false left files %v", files)
	}
}

// TestWHIPLimitsOriginsHTTPS: whip_allowed_origins narrows CORS (403 for another origin, the
// origin echoed for a listed one); WHIP answers on https.port too; past
// max_pending_webrtc_sessions a POST gets 503 with Retry-After; a publisher that never connects
// is ended after the connect timeout and its resource is gone (404).
func TestWHIPLimitsOriginsHTTPS(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"whip_allowed_origins": "https://studio.example.com", "max_pending_webrtc_sessions": "1"})
	for origin, want := range map[string]int{"https://evil.example": http.StatusForbidden, "https://studio.example.com": http.StatusNoContent} {
		resp, body := whipRequest(t, http.MethodOptions, e.HTTP+"/whip/x", "", "", "", "Origin", origin, "Access-Control-Request-Method", "POST")
		if resp.StatusCode != want || (want == http.StatusNoContent && resp.Header.Get("Access-Control-Allow-Origin") != origin) {
			t.Errorf("OPTIONS from %s: %d %v %q, want %d", origin, resp.StatusCode, resp.Header, body, want)
		}
	}
	https := fmt.Sprintf("https://127.0.0.1:%d", e.Ports["https.port"])
	offer, _ := newPionPublisher(t).whipOffer(t)
	req, _ := http.NewRequest(http.MethodPost, https+"/whip/never-connects", strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST over https: %d", resp.StatusCode)
	}
	posted, resource := time.Now(), e.HTTP+resp.Header.Get("Location")
	other, _ := newPionPublisher(t).whipOffer(t)
	resp, body := whipRequest(t, http.MethodPost, e.HTTP+"/whip/second", "", "application/sdp", other)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "max_pending_webrtc_sessions") {
		t.Errorf("POST past max_pending_webrtc_sessions: %d %v %q, want 503 naming the setting", resp.StatusCode, resp.Header, body)
	}
	e.WaitGone("never-connects", 30*time.Second)
	t.Logf("a publisher that never connected was ended after %v", time.Since(posted).Round(100*time.Millisecond))
	if resp, _ := whipRequest(t, http.MethodDelete, resource, "", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of the ended resource: %d, want 404", resp.StatusCode)
	}
}
