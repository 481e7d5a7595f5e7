package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// Hostile stream names (issue 10, case 6): a bidi override and a leading '-' published over
// RTMP by ffmpeg, a NUL over the WebSocket signalling (ffmpeg sends "%00" in an RTMP URL as
// those three characters, so RTMP cannot carry one). Files are named and hooks run with the
// clean names: no U+202E in records/, no file starting with '-', no hook failing on a NUL,
// and $1 never option-like.
func TestHostileStreamNames(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	out := filepath.Join(t.TempDir(), "hook.log")
	script := writeScript(t, `printf '%s\t%s\t%s\t%s\n' "$#" "$1" "$(basename "$2")" "$STREAMREC_STREAM_NAME" >> "`+out+`"`)
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"on_record_hook_script":          script,
	})
	clip := st.Make(t, st.Source{Seconds: 2, FPS: 25, GOP: 25, SampleRate: 44100})
	for _, name := range []string{"\u202etxt.exe", "-rf", "nul%00name"} {
		pub := st.Publish(t, clip, e.RTMP+"/"+name)
		if o, err := pub.Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg publishing %q: %v\n%s", name, err, o)
		}
	}
	publishWebRTC(t, e, "5e1d0c3a-0000-4000-8000-0000000000aa", "nul\x00name")

	// What each publication became: file name, the hook's $1, its STREAMREC_STREAM_NAME.
	want := map[string][2]string{
		"txt.exe.mp4":    {"txt.exe", "txt.exe"},
		"_rf.mp4":        {"_rf", "-rf"},
		"nul%00name.mp4": {"nul%00name", "nul%00name"},
		"nulname.mp4":    {"nulname", "nulname"},
	}
	runs := waitRuns(t, e, len(want), 30*time.Second)
	for _, r := range runs {
		if !r.OK() {
			t.Errorf("hook run for %q failed: %+v", r.StreamName, r)
		}
	}
	files := e.RecordFiles()
	sort.Strings(files)
	for _, f := range files {
		if strings.HasPrefix(f, "-") || strings.ContainsFunc(f, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) {
			t.Errorf("records/ holds %q", f)
		}
	}
	for f := range want {
		if _, err := os.Stat(filepath.Join(e.Records, f)); err != nil {
			t.Errorf("no %s in records/ (it holds %q)", f, files)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the hook never wrote: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Errorf("hook line %q", line)
			continue
		}
		w, ok := want[f[2]]
		seen[f[2]] = true
		if !ok || f[0] != "2" || f[1] != w[0] || f[3] != w[1] {
			t.Errorf("hook for %s got $#=%s $1=%q STREAMREC_STREAM_NAME=%q, want 2, %q, %q", f[2], f[0], f[1], f[3], w[0], w[1])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("hook ran for %v, want %d files", seen, len(want))
	}
}

// publishWebRTC publishes one second of the sync clip from a Go WebRTC client under name,
// recorded, and waits for the stream to end.
func publishWebRTC(t *testing.T, e *st.Env, id, name string) {
	t.Helper()
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/names", e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p := newPionPublisher(t)
	if err := p.publish(t, w, id, name); err != nil {
		t.Fatalf("webrtc publish %q: %v", name, err)
	}
	if err := p.send(aus[:45], opus[:75], sendOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the last packets through the reorder buffer
	w.send("unPublishStream", map[string]any{"mediaSessionId": id, "name": name})
	for {
		data, err := w.next("notifyStreamStatusEvent", 15*time.Second)
		if err != nil {
			t.Fatalf("webrtc %q: %v", name, err)
		}
		var ev struct{ Status, Info string }
		json.Unmarshal(data[0], &ev)
		switch ev.Status {
		case "UNPUBLISHED":
			return
		case "FAILED":
			t.Fatalf("webrtc %q FAILED: %s", name, ev.Info)
		}
	}
}
