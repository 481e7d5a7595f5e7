package server_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/hook"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// writeScript writes an executable hook script and returns its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "on_record.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitRuns waits until the server's hook runner has recorded n runs, and returns them.
func waitRuns(t *testing.T, e *st.Env, n int, timeout time.Duration) []hook.Run {
	t.Helper()
	var runs []hook.Run
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if runs = e.Server.Hooks.Recent(); len(runs) >= n {
			return runs
		}
	}
	t.Fatalf("%d hook runs after %v, want %d: %+v", len(runs), timeout, n, runs)
	return nil
}

// The hook runs once per rotated part, after the part is complete: the script itself probes
// $2 with ffprobe and must see the whole file.
func TestHookSeesEachCompletePart(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	out := t.TempDir()
	script := writeScript(t, `
out="`+out+`/$(basename "$2").txt"
{
  echo "args=$#|$1|$2"
  echo "env=$STREAMREC_STREAM_NAME|$STREAMREC_FILE|$STREAMREC_PART|$STREAMREC_DURATION|$STREAMREC_MEDIA_SESSION_ID"
  ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames:format=duration -of default=nw=1 "$2"
} > "$out.tmp" 2>&1
mv "$out.tmp" "$out"
`)
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"record_rotation":                "2",
		"on_record_hook_script":          script,
	})
	src := st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100}
	pub := st.Publish(t, st.Make(t, src), e.RTMP+"/hooked")
	s := e.WaitStream("hooked", "PUBLISHING", 10*time.Second)
	if o, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, o)
	}
	e.WaitGone("hooked", 10*time.Second)
	runs := waitRuns(t, e, 3, 30*time.Second)
	if len(runs) != 3 {
		t.Fatalf("%d hook runs for 3 parts: %+v", len(runs), runs)
	}
	for _, r := range runs {
		if !r.OK() || r.ExitCode != 0 {
			t.Errorf("hook run failed: %+v", r)
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("hooked-%d.mp4", i)
		path := filepath.Join(e.Records, name)
		b, err := os.ReadFile(filepath.Join(out, name+".txt"))
		if err != nil {
			t.Errorf("the hook left no result for %s: %v", name, err)
			continue
		}
		res := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			k, v, _ := strings.Cut(line, "=")
			res[k] = v
		}
		// What the hook saw is what the finished file holds.
		p := st.ProbeFile(t, path)
		if want := "2|hooked|" + path; res["args"] != want {
			t.Errorf("%s: hook arguments %q, want %q", name, res["args"], want)
		}
		if res["nb_read_frames"] != p.Video(t).Frames {
			t.Errorf("%s: the hook saw %s video frames, the file holds %s: the hook ran on an incomplete file", name, res["nb_read_frames"], p.Video(t).Frames)
		}
		d, _ := strconv.ParseFloat(res["duration"], 64)
		if math.Abs(d-p.Duration()) > 0.001 || d < 0.9 {
			t.Errorf("%s: the hook saw %.3f s, the file lasts %.3f s", name, d, p.Duration())
		}
		env := strings.Split(res["env"], "|")
		if len(env) != 5 || env[0] != "hooked" || env[1] != path || env[2] != strconv.Itoa(i) || env[4] != s.MediaSessionID {
			t.Errorf("%s: hook environment %q", name, res["env"])
		} else if ed, _ := strconv.ParseFloat(env[3], 64); math.Abs(ed-p.Duration()) > 0.05 {
			t.Errorf("%s: STREAMREC_DURATION=%s, the file lasts %.3f s", name, env[3], p.Duration())
		}
	}
}

// A failing hook is reported with its exit code and stderr; a hanging one is killed at the
// timeout with its whole process group; neither disturbs recording.
func TestHookFailingAndHanging(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	script := writeScript(t, `
case "$1" in
fail)
  echo "cp: cannot create regular file '/var/www/x': Permission denied" >&2
  exit 3 ;;
hang)
  sleep 300 &
  echo $! >> "`+pids+`"
  echo $$ >> "`+pids+`"
  sleep 300 ;;
esac
`)
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"on_record_hook_script":          script,
		"on_record_hook_timeout":         "1",
	})
	src := st.Source{Seconds: 2, FPS: 30, GOP: 30, SampleRate: 44100}
	clip := st.Make(t, src)
	fail := st.Publish(t, clip, e.RTMP+"/fail")
	hang := st.Publish(t, clip, e.RTMP+"/hang")
	for _, p := range []*st.Publisher{fail, hang} {
		if o, err := p.Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, o)
		}
	}
	e.WaitGone("fail", 10*time.Second)
	e.WaitGone("hang", 10*time.Second)
	runs := waitRuns(t, e, 2, 30*time.Second)
	byStream := map[string]hook.Run{}
	for _, r := range runs {
		byStream[r.StreamName] = r
	}
	if r := byStream["fail"]; r.OK() || r.ExitCode != 3 || !strings.Contains(r.Stderr, "Permission denied") || r.Script != script {
		t.Errorf("failing hook: %+v, want exit 3 with its stderr", r)
	}
	r := byStream["hang"]
	if !r.TimedOut || r.OK() || r.Took < time.Second || r.Took > 20*time.Second {
		t.Errorf("hanging hook: %+v, want killed after the 1 s timeout", r)
	}
	m := scrapeMetrics(t, e, "")
	for series, want := range map[string]float64{`streamrec_hook_runs_total{result="failed"}`: 1,
		`streamrec_hook_runs_total{result="timeout"}`: 1, hooksOK: 0, `streamrec_hook_duration_seconds_count`: 2} {
		if got := m.value(t, series); got != want {
			t.Errorf("metrics: %s = %v, want %v", series, got, want)
		}
	}
	if got := m.value(t, `streamrec_hook_duration_seconds_bucket{le="1"}`); got != 1 {
		t.Errorf("metrics: %v hook runs within 1 s, want the failing one (the hanging one is killed after 1 s)", got)
	}
	b, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		for deadline := time.Now().Add(10 * time.Second); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d of the hanging hook's group is still alive", pid)
		}
	}
	if len(strings.Fields(string(b))) != 2 {
		t.Errorf("the hanging hook's pids: %q", b)
	}
	// Recording was not disturbed.
	for _, name := range []string{"fail.mp4", "hang.mp4"} {
		checkRecording(t, filepath.Join(e.Records, name), src, 44100)
	}
}

// alive tells whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}
