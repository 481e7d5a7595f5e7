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

	"github.com/streamrec/streamrec/internal/recorder"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/tmpfs"
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

// waitHooks waits until the hook has run for every recording in records, and returns what each
// run saw (hookEnv).
func waitHooks(t *testing.T, e *st.Env, hookOut string) map[string]string {
	t.Helper()
	var env map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		env = hookEnv(t, hookOut)
		missing := false
		for _, name := range e.RecordFiles() {
			_, ok := env[name]
			missing = missing || (strings.HasSuffix(name, ".mp4") && !ok)
		}
		if !missing {
			return env
		}
	}
	t.Fatalf("the hook did not run for every file of %v: %v", e.RecordFiles(), env)
	return nil
}

// The records disk fills up under four RTMP recordings: each file ends at its last complete
// fragment and decodes clean with its real duration; each is announced with its error (REST
// recordError while publishing, the hook's STREAMREC_ERROR); a recording asked for on the full
// disk is refused, saying so; the server stays up. Once space is freed the four streams resume
// recording by themselves, each into a new file, and a new publication records normally.
func TestFullDiskLeavesPlayableFiles(t *testing.T) { fullDisk(t, "") }

// The same with rotation (parts of 3 s): the part being written when the disk fills ends with
// the error (or, when it had no complete fragment yet, is deleted), the parts before it are
// complete, and the resumed recording rotates on.
func TestFullDiskRotatedParts(t *testing.T) { fullDisk(t, "3") }

func fullDisk(t *testing.T, rotation string) {
	hookOut := filepath.Join(t.TempDir(), "hooks.txt") // off the full disk
	script := writeScript(t, `echo "$STREAMREC_FILE|$STREAMREC_ERROR" >> "`+hookOut+`"`+"\n")
	settings := maps.Clone(st.BystanderSettings)
	settings["on_record_hook_script"] = script
	if rotation != "" {
		settings["record_rotation"] = rotation
	}
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
	time.Sleep(4 * time.Second) // a few fragments each (and a rotated part)
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
	ls := e.WaitStream("late", "PUBLISHING", 15*time.Second)
	if msg := waitRecordError(t, e, "late", 10*time.Second); !strings.Contains(msg, "free space") {
		t.Errorf("late: recordError %q, want a refusal for lack of space", msg)
	}
	if code, body := e.Post("/rest-api/stream/startRecording", `{"mediaSessionId":"`+ls.MediaSessionID+`"}`); code != 507 || !strings.Contains(string(body), "free space") {
		t.Errorf("REST startRecording on the full disk: %d %s, want 507 saying there is not enough free space", code, body)
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
			if s.Recording && strings.HasPrefix(s.RecordName, n+"_2") && s.RecordError == "" {
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

	// Every file left plays and has its real duration; the one the disk cut short was announced
	// with the error, every other one as complete.
	env := waitHooks(t, e, hookOut)
	runs := map[string]string{}
	var files, cutShort int // every file left, those announced with the write error
	for _, r := range e.Server.Hooks.Recent() {
		runs[filepath.Base(r.File)] = r.FileError
	}
	for _, n := range names {
		var before, resumed []string
		for _, name := range e.RecordFiles() {
			switch {
			case name == n+".mp4" || strings.HasPrefix(name, n+"-"):
				before = append(before, name)
			case strings.HasPrefix(name, n+"_2"):
				resumed = append(resumed, name)
			}
		}
		var cut []string
		var span, spanResumed float64
		for _, name := range append(before, resumed...) {
			path := filepath.Join(e.Records, name)
			if out := st.Decodes(t, path); out != "" {
				t.Errorf("%s: ffmpeg reports problems decoding it:\n%s", name, out)
			}
			d := st.ProbeFile(t, path).Duration()
			if d <= 0 {
				t.Errorf("%s: duration %.3f s", name, d)
			}
			msg, ok := env[name]
			if !ok {
				t.Errorf("%s: the hook did not run", name)
			}
			if msg != runs[name] {
				t.Errorf("%s: STREAMREC_ERROR=%q, but the hook run says %q", name, msg, runs[name])
			}
			if strings.HasPrefix(name, n+"_2") {
				spanResumed += d
				if msg != "" {
					t.Errorf("%s: resumed after space came back, but the hook saw STREAMREC_ERROR=%q", name, msg)
				}
				continue
			}
			span += d
			if msg != "" {
				if !strings.Contains(msg, "no space left on device") {
					t.Errorf("%s: STREAMREC_ERROR=%q, want the write error", name, msg)
				}
				cut = append(cut, name)
			}
		}
		// A rotated part the disk filled up before its first fragment holds nothing and is deleted:
		// then the part before it (complete) is the last, announced as complete. When the disk
		// fills just after a cut, while the part before it is still open for its last audio, that
		// part is the one cut short, and the new part, ended by the failure, carries the error too.
		last := len(before) - 1
		cutOK := (len(cut) == 0 && rotation != "") || (len(cut) == 1 && cut[0] == before[last]) ||
			(len(cut) == 2 && rotation != "" && last >= 1 && cut[0] == before[last-1] && cut[1] == before[last])
		if !cutOK || span < 3 || spanResumed < 2 {
			t.Errorf("%s: %v (%.2f s) before the disk filled, %v (%.2f s) after: want at least 3 s and 2 s, and a file with the write error; cut short: %v",
				n, before, span, resumed, spanResumed, cut)
		}
		t.Logf("%s: %v (%.2f s; cut short: %v), resumed: %v (%.2f s)", n, before, span, cut, resumed, spanResumed)
		files += len(before) + len(resumed)
		cutShort += len(cut)
	}
	// The metrics count each file by how it ended.
	m := scrapeMetrics(t, e, "")
	if got := m.value(t, `streamrec_files_finished_total{result="write_error"}`); got != float64(cutShort) {
		t.Errorf("metrics: %v files finished with a write error, %d were cut short", got, cutShort)
	}
	if got := m.value(t, filesComplete); got != float64(files-cutShort) {
		t.Errorf("metrics: %v files complete, want %d", got, files-cutShort)
	}
	for _, name := range e.RecordFiles() {
		if strings.HasPrefix(name, "late") {
			t.Errorf("the refused recording left %s", name)
		}
	}

	// A new publication records normally.
	after := st.Source{Seconds: 4, FPS: 25, GOP: 25, SampleRate: 44100}
	pub := st.Publish(t, st.Make(t, after), e.RTMP+"/after")
	e.WaitStream("after", "PUBLISHING", 15*time.Second)
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("after", 15*time.Second)
	if rotation == "" {
		st.CheckComplete(t, filepath.Join(e.Records, "after.mp4"), after)
	}
	if msg, ok := waitHooks(t, e, hookOut)["after.mp4"]; rotation == "" && (!ok || msg != "") {
		t.Errorf("after.mp4: the hook saw STREAMREC_ERROR=%q (ran: %v), want it empty", msg, ok)
	}
}
