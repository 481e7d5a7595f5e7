package server_test

import (
	"bufio"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// TestLibraryEventOnFinishedFile: the dashboard's event stream says "recordings" when an RTMP
// recording's file is finished (the library page lists again on it), and not before.
func TestLibraryEventOnFinishedFile(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err := login(client, e.HTTP, password(e))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	events, err := client.Get(e.HTTP + "/admin/api/events")
	if err != nil || events.StatusCode != 200 {
		t.Fatalf("events: %v %v", err, events)
	}
	defer events.Body.Close()
	got := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(events.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "event: ") {
				got <- strings.TrimPrefix(line, "event: ")
			}
		}
		close(got)
	}()
	pub := st.Publish(t, st.Make(t, st.Source{Seconds: 3, FPS: 25, GOP: 25, SampleRate: 44100}), e.RTMP+"/ev_cam")
	finished := make(chan struct{})
	go func() { pub.Wait(30 * time.Second); close(finished) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-got:
			if !ok {
				t.Fatal("the event stream ended")
			}
			if ev != "recordings" {
				continue
			}
			select {
			case <-finished:
			case <-time.After(2 * time.Second):
				t.Fatal(`"recordings" came while the publisher was still sending`)
			}
			if e.Server.Files.Writing("ev_cam.mp4") {
				t.Error(`"recordings" came while ev_cam.mp4 was still being written`)
			}
			return
		case <-deadline:
			t.Fatal(`no "recordings" event within 30 s of publishing a 3 s stream`)
		}
	}
}
