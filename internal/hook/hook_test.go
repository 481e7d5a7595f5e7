package hook

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// script writes an executable shell script into a test folder and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOne runs a single job to the end and returns its Run and the log.
func runOne(t *testing.T, j Job) (Run, string) {
	t.Helper()
	var log bytes.Buffer
	r := New(Config{Workers: 1, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if !r.Enqueue(j) {
		t.Fatal("Enqueue refused a job on an empty queue")
	}
	r.Close(time.Minute)
	runs := r.Recent()
	if len(runs) != 1 {
		t.Fatalf("Recent() = %+v, want one run", runs)
	}
	return runs[0], log.String()
}

func TestArgumentsAndEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := script(t, `printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$#" "$STREAMREC_STREAM_NAME" "$STREAMREC_FILE" "$STREAMREC_MEDIA_SESSION_ID" "$STREAMREC_DURATION" "$STREAMREC_PART" "$STREAMREC_ERROR" "$STREAMREC_RECOVERED" > "$OUT"
echo done`)
	// A name with shell syntax in it stays one argument and runs nothing.
	name := `cam 1; touch "$OUT.pwned" $(id)`
	run, log := func() (Run, string) {
		var buf bytes.Buffer
		r := New(Config{Env: append(os.Environ(), "OUT="+out), Log: slog.New(slog.NewTextHandler(&buf, nil))})
		r.Enqueue(Job{Script: s, Timeout: 10 * time.Second, StreamName: name, File: "/rec/a b.mp4",
			MediaSessionID: "id-1", Duration: 2500 * time.Millisecond, Part: 3, Err: "write a.mp4: no space left on device", Recovered: true})
		r.Close(time.Minute)
		return r.Recent()[0], buf.String()
	}()
	if !run.OK() || run.ExitCode != 0 || run.Stdout != "done\n" || run.FileError == "" || !run.Recovered {
		t.Errorf("run: %+v", run)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := name + "|/rec/a b.mp4|2|" + name + "|/rec/a b.mp4|id-1|2.500|3|write a.mp4: no space left on device|1\n"
	if string(b) != want {
		t.Errorf("the script saw\n%q, want\n%q", b, want)
	}
	if _, err := os.Stat(out + ".pwned"); err == nil {
		t.Error("a stream name was run as shell code")
	}
	if !strings.Contains(log, "record hook finished") || !strings.Contains(log, "exit=0") {
		t.Errorf("log: %s", log)
	}
}

func TestFailingScriptReportsExitCodeAndStderr(t *testing.T) {
	s := script(t, "echo copying\necho 'cp: cannot create regular file: Permission denied' >&2\nexit 3\n")
	run, log := runOne(t, Job{Script: s, Timeout: 10 * time.Second, StreamName: "s", File: "/f.mp4"})
	if run.OK() || run.ExitCode != 3 || run.Error != "exit code 3" || !strings.Contains(run.Stderr, "Permission denied") || run.Stdout != "copying\n" {
		t.Errorf("run: %+v", run)
	}
	for _, want := range []string{"level=ERROR", "exit code 3", s, "Permission denied"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q: %s", want, log)
		}
	}
}

func TestMissingOrNotExecutableScript(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.sh")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	for path, says := range map[string]string{
		filepath.Join(dir, "nope.sh"): "does not exist",
		plain:                         "is not executable",
		dir:                           "is not a regular file",
	} {
		run, log := runOne(t, Job{Script: path, StreamName: "s", File: "/f.mp4"})
		if run.OK() || run.ExitCode != -1 || !strings.Contains(run.Error, path) || !strings.Contains(run.Error, says) {
			t.Errorf("%s: %+v, want an error naming the path and saying %q", path, run, says)
		}
		if !strings.Contains(log, says) {
			t.Errorf("%s: log lacks the reason: %s", path, log)
		}
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

func TestTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	// The script starts a child in the background, then hangs itself.
	s := script(t, "sleep 300 &\necho $! > \""+pids+"\"\necho $$ >> \""+pids+"\"\necho started\nsleep 300\n")
	start := time.Now()
	run, log := runOne(t, Job{Script: s, Timeout: 500 * time.Millisecond, StreamName: "s", File: "/f.mp4"})
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("a hanging hook held the runner for %v with a 500ms timeout", took)
	}
	if !run.TimedOut || run.OK() || run.ExitCode != -1 || !strings.Contains(run.Error, "timeout") || run.Stdout != "started\n" {
		t.Errorf("run: %+v", run)
	}
	if !strings.Contains(log, "killed after the 500ms timeout") {
		t.Errorf("log: %s", log)
	}
	b, _ := os.ReadFile(pids)
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		t.Fatalf("pids: %q", b)
	}
	for _, f := range fields {
		pid, _ := strconv.Atoi(f)
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d of the hook's group survived the timeout", pid)
		}
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := script(t, "while [ ! -e \""+gate+"\" ]; do sleep 0.05; done\n")
	var log bytes.Buffer
	var dropped, ran atomic.Int32
	r := New(Config{Workers: 1, Queue: 2, Log: slog.New(slog.NewTextHandler(&log, nil)),
		OnDrop: func(Job) { dropped.Add(1) }, OnRun: func(Run) { ran.Add(1) }})
	accepted := 0
	start := time.Now()
	for i := range 10 {
		if r.Enqueue(Job{Script: s, Timeout: time.Minute, StreamName: "s", File: "/f" + strconv.Itoa(i)}) {
			accepted++
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Enqueue blocked for %v", took)
	}
	// One running (maybe not yet taken from the queue) and two waiting.
	if accepted < 2 || accepted > 3 {
		t.Errorf("%d of 10 jobs accepted with 1 worker and a queue of 2", accepted)
	}
	if !strings.Contains(log.String(), "too many hooks waiting") {
		t.Errorf("no error logged for dropped hooks: %s", log.String())
	}
	os.WriteFile(gate, nil, 0o644)
	r.Close(time.Minute)
	if n := len(r.Recent()); n != accepted {
		t.Errorf("%d runs recorded, %d accepted", n, accepted)
	}
	if r.Enqueue(Job{Script: s}) {
		t.Error("a closed runner accepted a job")
	}
	// OnRun hears of every run, OnDrop of every job refused (the one after Close too).
	if int(ran.Load()) != accepted || int(dropped.Load()) != 10-accepted+1 {
		t.Errorf("OnRun heard of %d runs, OnDrop of %d drops; %d of 10 accepted, then one refused", ran.Load(), dropped.Load(), accepted)
	}
}

func TestOutputTailAndRecentOrder(t *testing.T) {
	// 20 KB of output: only the end is kept.
	s := script(t, "i=0; while [ $i -lt 2000 ]; do echo \"line $i of output\"; i=$((i+1)); done\necho last >&2\n")
	r := New(Config{Workers: 1, Keep: 3, Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	for i := range 5 {
		r.Enqueue(Job{Script: s, Timeout: time.Minute, StreamName: "s", File: "/f" + strconv.Itoa(i)})
	}
	r.Close(time.Minute)
	runs := r.Recent()
	if len(runs) != 3 || runs[0].File != "/f4" || runs[2].File != "/f2" {
		t.Fatalf("Recent() keeps %d runs, newest %q, want 3 newest first", len(runs), runs[0].File)
	}
	out := runs[0].Stdout
	if len(out) > TailBytes+len("…") || !strings.HasSuffix(out, "line 1999 of output\n") || !strings.HasPrefix(out, "…") {
		t.Errorf("stdout tail: %d bytes, ends %q", len(out), out[max(0, len(out)-40):])
	}
	if runs[0].Stderr != "last\n" {
		t.Errorf("stderr: %q", runs[0].Stderr)
	}
}

func TestCloseKillsHooksPastTheWait(t *testing.T) {
	s := script(t, "sleep 300\n")
	var log bytes.Buffer
	r := New(Config{Workers: 1, Log: slog.New(slog.NewTextHandler(&log, nil))})
	r.Enqueue(Job{Script: s, Timeout: time.Hour, StreamName: "s", File: "/f1"})
	r.Enqueue(Job{Script: s, Timeout: time.Hour, StreamName: "s", File: "/f2"})
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	r.Close(300 * time.Millisecond)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Close took %v with a 300ms bound", took)
	}
	runs := r.Recent()
	if len(runs) != 1 || runs[0].OK() || !strings.Contains(runs[0].Error, "shutting down") {
		t.Errorf("runs: %+v", runs)
	}
	if !strings.Contains(log.String(), "not run: the server is shutting down") {
		t.Errorf("the queued job was dropped silently: %s", log.String())
	}
}

// Names from publishers holding NUL, bidi overrides or a leading '-' reach the script cleaned:
// a NUL used to make the run fail ("environment variable contains NUL").
func TestHostileNamesReachTheScriptCleaned(t *testing.T) {
	for _, tc := range []struct{ name, arg, env string }{
		{"a\x00b", "ab", "ab"},
		{"\u202etxt.exe", "txt.exe", "txt.exe"},
		{"-rf", "_rf", "-rf"},
		{"--\x00help", "_-help", "--help"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		s := script(t, `printf '%s|%s|%s|%s' "$#" "$1" "$STREAMREC_STREAM_NAME" "$STREAMREC_MEDIA_SESSION_ID" > `+out)
		run, _ := runOne(t, Job{Script: s, Timeout: 10 * time.Second, StreamName: tc.name, File: "/rec/x.mp4", MediaSessionID: "id\x00\u202e1"})
		if !run.OK() {
			t.Errorf("%q: run failed: %+v", tc.name, run)
			continue
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if want := "2|" + tc.arg + "|" + tc.env + "|id1"; string(b) != want {
			t.Errorf("%q: the script saw %q, want %q", tc.name, b, want)
		}
	}
}

// The runs the dashboard lists are still there after a restart (a new Runner on the same file).
func TestRecentSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hook_runs.json")
	sc := script(t, "echo done $1")
	r := New(Config{History: path, Env: []string{}})
	r.Enqueue(Job{Script: sc, StreamName: "kept", File: "/x/kept.mp4"})
	r.Close(10 * time.Second)
	again := New(Config{History: path, Env: []string{}})
	defer again.Close(time.Second)
	if runs := again.Recent(); len(runs) != 1 || runs[0].StreamName != "kept" || runs[0].Stdout != "done kept\n" {
		t.Errorf("after a restart: %+v", runs)
	}
}
