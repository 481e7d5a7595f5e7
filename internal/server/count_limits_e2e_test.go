package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// max_pending_webrtc_sessions: publishers that negotiated but send no media hold their places;
// past the cap a publish is refused with a FAILED event naming the setting; once one of them
// sends media it is no longer pending and a new publisher is answered.
func TestMaxPendingWebRTCSessions(t *testing.T) {
	e := st.Start(t, map[string]string{"max_pending_webrtc_sessions": "2"})
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	url := fmt.Sprintf("ws://127.0.0.1:%d/pending", e.Ports["ws.port"])
	connect := func() *wcsClient {
		w := dialWCS(t, url)
		w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
		if _, err := w.next("getUserData", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return w
	}
	id := func(i int) string { return fmt.Sprintf("5e1d0c3a-0000-4000-8000-0000000001%02d", i) }
	var pubs []*pionPublisher
	for i := range 2 {
		p := newPionPublisher(t)
		if err := p.publish(t, connect(), id(i), fmt.Sprintf("pending%d", i)); err != nil {
			t.Fatalf("publisher %d within the cap: %v", i, err)
		}
		pubs = append(pubs, p)
	}
	err := newPionPublisher(t).publish(t, connect(), id(2), "pending2")
	if err == nil || !strings.Contains(err.Error(), "FAILED") || !strings.Contains(err.Error(), "max_pending_webrtc_sessions") {
		t.Fatalf("a third negotiating publisher with max_pending_webrtc_sessions=2: %v, want FAILED naming the setting", err)
	}
	// Media from the first: it is publishing, no longer pending.
	if err := pubs[0].send(aus[:30], opus[:50], sendOptions{}); err != nil {
		t.Fatal(err)
	}
	e.WaitStream("pending0", "PUBLISHING", 10*time.Second)
	if err := newPionPublisher(t).publish(t, connect(), id(3), "pending3"); err != nil {
		t.Errorf("a publisher once the first one's media flows: %v", err)
	}
}

// max_rtsp_cameras: /rest-api/rtsp/startup past the cap is a 403 JSON error naming the setting,
// and the camera is neither pulled nor saved.
func TestMaxRTSPCamerasREST(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"max_rtsp_cameras": "1"})
	if code, body := e.Post("/rest-api/rtsp/startup", `{"uri":"rtsp://127.0.0.1:1/first"}`); code != 200 {
		t.Fatalf("the first camera: %d %s", code, body)
	}
	wantError(t, e, "/rest-api/rtsp/startup", `{"uri":"rtsp://127.0.0.1:1/second"}`, 403, "max_rtsp_cameras")
	if l := e.Server.Cameras.List(); len(l) != 1 {
		t.Errorf("cameras %+v, want only the first", l)
	}
}

// SDP offers over sdplimit's bounds, sent over the WebSocket signalling, end FAILED with the
// reason, and an honest recording beside them ends complete.
func TestHostileWebRTCOffers(t *testing.T) {
	e := st.Start(t, st.BystanderSettings)
	b := st.StartBystander(e, "bystander_offers")
	w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/offers", e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	head := "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	section := "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n"
	for i, tc := range []struct{ sdp, says string }{
		{head + strings.Repeat(section, (60<<10)/len(section)), "too many media sections"}, // ~900 sections in 60 KB
		{head + "a=x:" + strings.Repeat("y", 100<<10) + "\r\n", "SDP too large"},
	} {
		id := fmt.Sprintf("5e1d0c3a-0000-4000-8000-0000000002%02d", i)
		w.send("publishStream", map[string]any{"mediaSessionId": id, "name": fmt.Sprintf("hostile%d", i), "published": true,
			"hasVideo": false, "hasAudio": true, "status": "PENDING", "record": true, "mediaProvider": "WebRTC", "sdp": tc.sdp})
		_, err := w.next("setRemoteSDP", 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "FAILED") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("offer %d: %v, want FAILED saying %q", i, err, tc.says)
		}
	}
	b.Check()
}
