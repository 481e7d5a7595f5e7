package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// TestSettingsFileEditedWhileRunning edits conf/flashphoner.properties by hand, as the README's
// "Try it" says to, while the server runs: the next RTMP stream is recorded with the new values,
// a bad value beside them is refused with its line and keeps the old one, and a port change is
// said to need a restart. Before the edit, the unrecorded stream says why, in the log and in the
// stream's state.
func TestSettingsFileEditedWhileRunning(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"record_flash_published_streams": "false", "stream_record_policy": "streamName",
		"record_rotation": "", "media_timeout": "10"})
	src := st.Make(t, st.Source{Seconds: 3, FPS: 25, GOP: 25, SampleRate: 44100})

	p := st.Publish(t, src, e.RTMP+"/before")
	s := e.WaitStream("before", "PUBLISHING", 20*time.Second)
	if s.Recording || s.NotRecorded != "record_flash_published_streams=false" {
		t.Errorf("unrecorded stream does not say why: %+v", s)
	}
	if len(e.LogLines("not recorded: record_flash_published_streams=false", "stream=before")) != 1 {
		t.Errorf("the log does not say once why the stream is not recorded")
	}
	if out, err := p.Wait(time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("before", 10*time.Second)

	path := filepath.Join(e.Home, "conf", "flashphoner.properties")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "record_flash_published_streams=false", "record_flash_published_streams=true", 1)
	text = strings.Replace(text, "media_timeout=10", "media_timeout=forever", 1)
	newPort := st.FreePort(t)
	text = strings.Replace(text, fmt.Sprintf("rtmp.port=%d", e.Ports["rtmp.port"]), fmt.Sprintf("rtmp.port=%d", newPort), 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog(t, e, 5*time.Second, "settings changed in the file, applied", "record_flash_published_streams=true")
	refused := waitLog(t, e, time.Second, "setting refused, the value in effect stays", "key=media_timeout")
	if !strings.Contains(refused, "line=") || strings.Contains(refused, "line=0") {
		t.Errorf("refusal without its line: %s", refused)
	}
	waitLog(t, e, time.Second, "take effect after a restart", fmt.Sprintf("rtmp.port=%d", newPort))
	if got := e.Server.Settings.Current().MediaTimeout; got != 10*time.Second {
		t.Errorf("media_timeout %v after a bad edit, want the old 10s", got)
	}

	p = st.Publish(t, src, e.RTMP+"/after") // the old port: the listener stays until a restart
	if out, err := p.Wait(time.Minute); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("after", 10*time.Second)
	st.CheckComplete(t, filepath.Join(e.Records, "after.mp4"), st.Source{Seconds: 3, FPS: 25, GOP: 25, SampleRate: 44100})
	if _, err := os.Stat(filepath.Join(e.Records, "before.mp4")); err == nil {
		t.Error("the stream published before the edit was recorded")
	}
}

// waitLog waits for a server log line holding every part and returns it.
func waitLog(t *testing.T, e *st.Env, timeout time.Duration, parts ...string) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if l := e.LogLines(parts...); len(l) > 0 {
			return l[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v", parts, timeout)
		}
	}
}
