package servertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
)

// Source describes a test clip made by ffmpeg: a moving test picture and a tone.
type Source struct {
	Seconds    int
	FPS        int
	GOP        int // keyframe interval in frames
	SampleRate int // 0: no audio
	NoVideo    bool
	BFrames    int
}

// Frames is the number of video frames in the clip.
func (s Source) Frames() int { return s.Seconds * s.FPS }

var (
	sourcesMu sync.Mutex
	sources   = map[Source]string{}
	sourceDir string
)

// RequireFFmpeg is mediatest.NeedFFmpeg, under the name the end-to-end tests call.
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	mediatest.NeedFFmpeg(t)
}

// Make returns the path of an FLV clip with H.264 + AAC, made once per test binary.
func Make(t testing.TB, s Source) string {
	t.Helper()
	RequireFFmpeg(t)
	sourcesMu.Lock()
	defer sourcesMu.Unlock()
	if p, ok := sources[s]; ok {
		return p
	}
	if sourceDir == "" {
		d, err := os.MkdirTemp("", "streamrec-sources-")
		if err != nil {
			t.Fatal(err)
		}
		sourceDir = d
	}
	p := filepath.Join(sourceDir, fmt.Sprintf("src-%d-%d-%d-%d-%v-%d.flv", s.Seconds, s.FPS, s.GOP, s.SampleRate, s.NoVideo, s.BFrames))
	var args []string
	if !s.NoVideo {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=%d:duration=%d", s.FPS, s.Seconds))
	}
	if s.SampleRate > 0 {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d:duration=%d", s.SampleRate, s.Seconds))
	}
	if !s.NoVideo {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-g", strconv.Itoa(s.GOP), "-keyint_min", strconv.Itoa(s.GOP), "-sc_threshold", "0", "-bf", strconv.Itoa(s.BFrames))
	}
	if s.SampleRate > 0 {
		args = append(args, "-c:a", "aac", "-b:a", "96k")
	}
	mediatest.FFmpeg(t, append(args, "-f", "flv", p)...)
	sources[s] = p
	return p
}

// Publisher is a running ffmpeg publishing a file.
type Publisher struct {
	cmd  *exec.Cmd
	done chan error
	out  *syncBuffer
}

// Publish starts ffmpeg sending src in real time (-re) to url with -c copy.
func Publish(t testing.TB, src, url string, extra ...string) *Publisher {
	t.Helper()
	args := append([]string{"-v", "error", "-re", "-i", src, "-c", "copy"}, extra...)
	args = append(args, "-f", "flv", url)
	p := &Publisher{cmd: exec.Command("ffmpeg", args...), done: make(chan error, 1), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// Wait waits for ffmpeg to finish and returns its error and output.
func (p *Publisher) Wait(timeout time.Duration) (string, error) {
	select {
	case err := <-p.done:
		return p.out.String(), err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		return p.out.String(), fmt.Errorf("ffmpeg still running after %v", timeout)
	}
}

// Kill ends ffmpeg abruptly, as a publisher whose network drops.
func (p *Publisher) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// Probe is what ffprobe says of a file (the end-to-end tests' name for it).
type Probe = mediatest.Probe

// ProbeFile runs ffprobe, counting every frame (a full decode): mediatest.CountFrames.
func ProbeFile(t testing.TB, path string) Probe {
	t.Helper()
	return mediatest.CountFrames(t, path)
}

// Count parses a frame count field: mediatest.Count.
func Count(s string) int { return mediatest.Count(s) }

// Decodes fully decodes a file and returns what ffmpeg printed at -v error (nothing for a clean
// file): mediatest.DecodeErrors.
func Decodes(t testing.TB, path string) string {
	t.Helper()
	return mediatest.DecodeErrors(t, path)
}
