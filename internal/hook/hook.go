// Package hook runs the finish hook (on_record_hook_script) once for every finished recording
// file. Hooks run on a small pool of workers fed by a bounded queue, so a slow or hanging script
// never holds up recording: when the queue is full the hook is dropped, with an error in the log.
//
// A script is executed directly, never through a shell command line built from names: its
// arguments are $1 = stream name and $2 = absolute path of the file, its environment the server's
// plus STREAMREC_* variables describing the file (STREAMREC_ERROR: why it ended early, or
// empty; STREAMREC_RECOVERED: 1 for a file a crash left open, finished at the next start). Names come from publishers: control and format characters (NUL, bidi overrides) are
// removed from every value passed ([naming.StreamName]), and $1 never starts with '-' (a leading
// '-' becomes '_', as in file names: "-rf" gives "_rf"), so `rm "$1"` or `cp "$2" "$1"` cannot
// take it for an option; STREAMREC_STREAM_NAME holds the stream name exactly, leading '-'
// included. It runs in its own process group, which is
// killed as a whole when the script outlives its timeout. Each run's exit code, duration and the
// tail of its output are logged and kept for the dashboard (Recent).
package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/streamrec/streamrec/internal/history"
	"github.com/streamrec/streamrec/internal/naming"
)

// Defaults of Config.
const (
	DefaultWorkers = 2
	DefaultQueue   = 64
	DefaultKeep    = 100
	// TailBytes is how much of the end of stdout and of stderr a Run keeps.
	TailBytes = 4096
	// pipeGrace bounds how long output is still read once the script has ended (or was killed):
	// a background child that inherited the pipes must not keep a worker busy.
	pipeGrace = 2 * time.Second
)

// Job is one finished file to run the hook for.
type Job struct {
	Script         string        // absolute path of the hook script
	Timeout        time.Duration // the script is killed after this; 0 = no limit
	StreamName     string
	File           string // absolute path of the finished file
	MediaSessionID string
	Duration       time.Duration // the file's media duration
	Part           int           // rotation part number, 0 without rotation
	Err            string        // why the file ended early (a write error), "" for a clean finish
	Recovered      bool          // the file was left open by a crash and finished at the next start
}

// Run is the outcome of one hook run, for the log and the dashboard.
type Run struct {
	Script     string        `json:"script"`
	StreamName string        `json:"streamName"`
	File       string        `json:"file"`
	Part       int           `json:"part,omitempty"`
	Started    time.Time     `json:"started"`
	Took       time.Duration `json:"took"`     // how long the script ran
	ExitCode   int           `json:"exitCode"` // -1 when it did not start or was killed
	TimedOut   bool          `json:"timedOut,omitempty"`
	Error      string        `json:"error,omitempty"`     // why it failed, "" for exit 0
	FileError  string        `json:"fileError,omitempty"` // the file ended by a write error (Job.Err)
	Recovered  bool          `json:"recovered,omitempty"` // the file was finished at start after a crash
	Stdout     string        `json:"stdout,omitempty"`
	Stderr     string        `json:"stderr,omitempty"`
}

// OK tells whether the script ran and exited with 0.
func (r Run) OK() bool { return r.Error == "" }

// Config sets a Runner up; zero values take the defaults.
type Config struct {
	Workers int          // scripts running at once
	Queue   int          // jobs waiting for a worker; past it jobs are dropped
	Keep    int          // runs Recent returns
	History string       // file the runs are kept in across restarts; "" = memory only
	Env     []string     // the base environment; nil = os.Environ()
	Log     *slog.Logger // nil = slog.Default()
	// OnRun, when set, hears of every run once it ended (the server's metrics); it must not block.
	OnRun func(Run)
	// OnDrop, when set, hears of every job never run: the queue was full, or the Runner closed.
	OnDrop func(Job)
}

// Runner runs hooks. Its methods are safe for concurrent use.
type Runner struct {
	cfg    Config
	queue  chan Job
	ctx    context.Context // cancelled when Close gives up waiting: running scripts are killed
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	recent  *history.List[Run]
	pending map[string]int // Job.File of the jobs queued or running: their files are in use
}

// New starts a Runner's workers.
func New(cfg Config) *Runner {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Runner{cfg: cfg, queue: make(chan Job, cfg.Queue), recent: history.Open[Run](cfg.History, cfg.Keep, cfg.Log), pending: map[string]int{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		r.wg.Add(1)
		go r.work()
	}
	return r
}

// Enqueue queues the hook for a finished file. It never blocks: when the queue is full, or the
// Runner is closed, the hook is dropped with an error in the log, and Enqueue returns false.
func (r *Runner) Enqueue(j Job) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.cfg.Log.Error("record hook not run: the server is shutting down", "script", j.Script, "stream", j.StreamName, "file", j.File)
		r.dropped(j)
		return false
	}
	select {
	case r.queue <- j:
		r.pending[j.File]++
		return true
	default:
		r.cfg.Log.Error("record hook not run: too many hooks waiting (scripts too slow?)",
			"script", j.Script, "stream", j.StreamName, "file", j.File, "queue", cap(r.queue))
		r.dropped(j)
		return false
	}
}

// Pending reports whether a hook for the file at path is queued or running: the file must stay
// where it is until the script is done with it (an upload that deletes the local copy waits).
func (r *Runner) Pending(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[path] > 0
}

// done ends a job taken off the queue.
func (r *Runner) done(j Job) {
	r.mu.Lock()
	if r.pending[j.File]--; r.pending[j.File] <= 0 {
		delete(r.pending, j.File)
	}
	r.mu.Unlock()
}

func (r *Runner) dropped(j Job) {
	if r.cfg.OnDrop != nil {
		r.cfg.OnDrop(j)
	}
}

// Recent returns the last runs, newest first.
func (r *Runner) Recent() []Run { return r.recent.Recent() }

// Close stops taking jobs and waits up to wait for the queued and running hooks to finish; then
// it kills the scripts still running (their whole process groups) and drops the jobs not started.
func (r *Runner) Close(wait time.Duration) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.queue)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		r.cfg.Log.Warn("record hooks still running at shutdown: killing them", "waited", wait.String())
		r.cancel()
		<-done
	}
	r.cancel()
	r.recent.Flush()
}

func (r *Runner) work() {
	defer r.wg.Done()
	for j := range r.queue {
		if r.ctx.Err() != nil {
			r.cfg.Log.Error("record hook not run: the server is shutting down", "script", j.Script, "stream", j.StreamName, "file", j.File)
			r.dropped(j)
		} else {
			r.record(r.run(j))
		}
		r.done(j)
	}
}

func (r *Runner) record(run Run) {
	attrs := []any{"script", run.Script, "stream", run.StreamName, "file", run.File,
		"exit", run.ExitCode, "took", run.Took.Round(time.Millisecond).String()}
	if run.Stdout != "" {
		attrs = append(attrs, "stdout", run.Stdout)
	}
	if run.Stderr != "" {
		attrs = append(attrs, "stderr", run.Stderr)
	}
	if run.OK() {
		r.cfg.Log.Info("record hook finished", attrs...)
	} else {
		r.cfg.Log.Error("record hook failed: "+run.Error, attrs...)
	}
	if r.cfg.OnRun != nil {
		r.cfg.OnRun(run)
	}
	r.recent.Add(run)
}

// run executes one hook and says how it went.
func (r *Runner) run(j Job) Run {
	run := Run{Script: j.Script, StreamName: j.StreamName, File: j.File, Part: j.Part, FileError: j.Err, Recovered: j.Recovered, Started: time.Now(), ExitCode: -1}
	if err := checkScript(j.Script); err != nil {
		run.Error = err.Error()
		return run
	}
	ctx := r.ctx
	if j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Timeout)
		defer cancel()
	}
	stdout, stderr := &tail{max: TailBytes}, &tail{max: TailBytes}
	name := naming.StreamName(j.StreamName)
	cmd := exec.CommandContext(ctx, j.Script, argName(name), naming.StreamName(j.File))
	cmd.Env = append(append([]string(nil), r.cfg.Env...),
		"STREAMREC_STREAM_NAME="+name,
		"STREAMREC_FILE="+naming.StreamName(j.File),
		"STREAMREC_MEDIA_SESSION_ID="+naming.StreamName(j.MediaSessionID),
		"STREAMREC_DURATION="+strconv.FormatFloat(j.Duration.Seconds(), 'f', 3, 64),
		"STREAMREC_PART="+strconv.Itoa(j.Part),
		"STREAMREC_ERROR="+naming.StreamName(j.Err),
		"STREAMREC_RECOVERED="+recovered(j.Recovered),
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: a script's children (cp, ffmpeg, sleep...) go with it.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = pipeGrace
	err := cmd.Run()
	run.Took = time.Since(run.Started)
	run.Stdout, run.Stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil && (err != nil || cmd.ProcessState == nil):
		run.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded) && r.ctx.Err() == nil
		if run.TimedOut {
			run.Error = fmt.Sprintf("killed after the %v timeout (on_record_hook_timeout)", j.Timeout)
		} else {
			run.Error = "killed: the server is shutting down"
		}
	case errors.As(err, &exit):
		run.ExitCode = exit.ExitCode()
		if run.ExitCode >= 0 {
			run.Error = fmt.Sprintf("exit code %d", run.ExitCode)
		} else {
			run.Error = exit.String()
		}
	case errors.Is(err, exec.ErrWaitDelay):
		// The script ended well; a child it left behind kept the output open.
		run.ExitCode = cmd.ProcessState.ExitCode()
		if run.ExitCode != 0 {
			run.Error = fmt.Sprintf("exit code %d", run.ExitCode)
		}
	case err != nil:
		run.Error = fmt.Sprintf("cannot run %s: %v", j.Script, err)
	default:
		run.ExitCode = 0
	}
	return run
}

// argName is the stream name as $1: a leading '-' becomes '_' so no command takes it for an option.
func argName(name string) string {
	if strings.HasPrefix(name, "-") {
		return "_" + name[1:]
	}
	return name
}

// checkScript says clearly why a script cannot run: missing, not a file, not executable.
func checkScript(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("hook script %s does not exist (on_record_hook_script)", path)
	case err != nil:
		return fmt.Errorf("hook script %s: %v", path, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("hook script %s is not a regular file (%s)", path, st.Mode())
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("hook script %s is not executable (mode %s): chmod +x it", path, st.Mode().Perm())
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu   sync.Mutex
	max  int
	b    []byte
	lost bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
		t.lost = true
	}
	if over := len(t.b) + len(p) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.lost = true
	}
	t.b = append(t.b, p...)
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.b), "") // the cut may have split a character
	if t.lost {
		return "…" + s
	}
	return s
}

// recovered spells Job.Recovered for STREAMREC_RECOVERED.
func recovered(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
