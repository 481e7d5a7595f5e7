package server_test

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/tmpfs"
	"github.com/streamrec/streamrec/recorder"
	st "github.com/streamrec/streamrec/server/servertest"
)

// waitRecordError waits until the stream's recordError (REST find_all) is set, and returns it.
func waitRecordError(t *testing.T, e *st.Env, name string, timeout time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, s := range e.Streams() {
			if s.Name == name && s.RecordError != "" {
				return s.RecordError
			}
		}
	}
	t.Fatalf("stream %q has no recordError after %v: %+v", name, timeout, e.Streams())
	return ""
}

// hookEnv reads the lines "FILE|STREAMREC_ERROR" the test's hook script wrote, by file name.
func hookEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if file, msg, ok := strings.Cut(line, "|"); ok {
			out[filepath.Base(file)] = msg
		}
	}
	return out
}

// The records disk fills up under four RTMP recordings: each file ends at its last complete
// fragment and decodes clean with its real duration; each is announced with its error (REST
// recordError while publishing, the hook's STREAMREC_ERROR); a recording asked for on the full
// disk is refused, saying so; the server stays up. Once space is freed the four streams resume
// recording by themselves, each into a new file, and a new publication records normally.
func TestFullDiskLeavesPlayableFiles(t *testing.T) {
	hookOut := filepath.Join(t.TempDir(), "hooks.txt") // off the full disk
	script := writeScript(t, `echo "$STREAMREC_FILE|$STREAMREC_ERROR" >> "`+hookOut+`"`+"\n")
	settings := maps.Clone(st.BystanderSettings)
	settings["on_record_hook_script"] = script
	e := st.Start(t, settings)
	// Room to start (the minimum is 64 MB), then a ballast fills it up.
	tmpfs.Mount(t, e.Records, recorder.MinFreeSpace+32<<20)

	src := st.Source{Seconds: 30, FPS: 25, GOP: 25, SampleRate: 44100}
	clip := st.Make(t, src)
	names := []string{"full1", "full2", "full3", "full4"}
	var pubs []*st.Publisher
	for _, n := range names {
		pubs = append(pubs, st.Publish(t, clip, e.RTMP+"/"+n))
	}
	for _, n := range names {
		e.WaitStream(n, "PUBLISHING", 15*time.Second)
	}
	time.Sleep(3 * time.Second) // a few fragments each
	ballast := tmpfs.Fill(t, e.Records, 1<<20)
	filled := time.Now()
	for _, n := range names {
		msg := waitRecordError(t, e, n, 15*time.Second)
		if !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, "recording resumes") {
			t.Errorf("%s: recordError %q, want the write error", n, msg)
		}
	}
	t.Logf("every recording hit the full disk within %v", time.Since(filled).Round(time.Millisecond))

	// On the full disk a new recording is refused up front, saying why.
	late := st.Publish(t, st.Make(t, st.Source{Seconds: 3, FPS: 25, GOP: 25, SampleRate: 44100}), e.RTMP+"/late")
	e.WaitStream("late", "PUBLISHING", 15*time.Second)
	if msg := waitRecordError(t, e, "late", 10*time.Second); !strings.Contains(msg, "free space") {
		t.Errorf("late: recordError %q, want a refusal for lack of space", msg)
	}
	late.Wait(30 * time.Second)
	e.WaitGone("late", 15*time.Second)

	// Space freed: the streams resume recording, each into a new file.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for _, n := range names {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			s := e.WaitStream(n, "PUBLISHING", time.Second)
			if s.Recording && s.RecordName == n+"_2.mp4" && s.RecordError == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not resume recording once space was freed: %+v", n, s)
			}
		}
	}
	t.Logf("every stream resumed recording within %v of the space coming back", time.Since(freed).Round(time.Millisecond))
	for _, p := range pubs {
		if out, err := p.Wait(60 * time.Second); err != nil {
			t.Errorf("ffmpeg: %v\n%s", err, out)
		}
	}
	for _, n := range names {
		e.WaitGone(n, 15*time.Second)
	}

	// Every file left plays, has its real duration, and was announced with its error.
	waitRuns(t, e, 2*len(names), 30*time.Second)
	env := hookEnv(t, hookOut)
	runs := map[string]string{}
	for _, r := range e.Server.Hooks.Recent() {
		runs[filepath.Base(r.File)] = r.FileError
	}
	for _, n := range names {
		name := n + ".mp4"
		path := filepath.Join(e.Records, name)
		if out := st.Decodes(t, path); out != "" {
			t.Errorf("%s: ffmpeg reports problems decoding it:\n%s", name, out)
		}
		p := st.ProbeFile(t, path)
		if d := p.Duration(); d < 2 || d > float64(src.Seconds) {
			t.Errorf("%s: duration %.3f s, want the seconds recorded before the disk filled", name, d)
		}
		if msg, ok := env[name]; !ok || !strings.Contains(msg, "no space left on device") {
			t.Errorf("%s: the hook saw STREAMREC_ERROR=%q (ran: %v), want the write error", name, msg, ok)
		}
		if !strings.Contains(runs[name], "no space left on device") {
			t.Errorf("%s: hook run fileError %q", name, runs[name])
		}
		t.Logf("%s: %.2f s, %s video frames", name, p.Duration(), p.Video(t).Frames)

		// The resumed part: complete, without an error.
		name = n + "_2.mp4"
		path = filepath.Join(e.Records, name)
		if out := st.Decodes(t, path); out != "" {
			t.Errorf("%s: ffmpeg reports problems decoding it:\n%s", name, out)
		}
		if d := st.ProbeFile(t, path).Duration(); d < 2 {
			t.Errorf("%s: duration %.3f s, want the seconds recorded after space came back", name, d)
		}
		if msg, ok := env[name]; !ok || msg != "" {
			t.Errorf("%s: the hook saw STREAMREC_ERROR=%q (ran: %v), want it empty", name, msg, ok)
		}
	}
	if _, err := os.Stat(filepath.Join(e.Records, "late.mp4")); err == nil {
		t.Error("the refused recording left a file")
	}

	// A new publication records normally.
	after := st.Source{Seconds: 4, FPS: 25, GOP: 25, SampleRate: 44100}
	pub := st.Publish(t, st.Make(t, after), e.RTMP+"/after")
	e.WaitStream("after", "PUBLISHING", 15*time.Second)
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("after", 15*time.Second)
	st.CheckComplete(t, filepath.Join(e.Records, "after.mp4"), after)
	waitRuns(t, e, 2*len(names)+1, 30*time.Second)
	if msg, ok := hookEnv(t, hookOut)["after.mp4"]; !ok || msg != "" {
		t.Errorf("after.mp4: the hook saw STREAMREC_ERROR=%q (ran: %v), want it empty", msg, ok)
	}
}
