package servertest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
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

// RequireFFmpeg skips the test when ffmpeg or ffprobe is missing (make test installs them).
func RequireFFmpeg(t testing.TB) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is not installed: run `make test`, which installs it", p)
		}
	}
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
	args := []string{"-y", "-v", "error"}
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
	args = append(args, "-f", "flv", p)
	if out, err := Command(t, 2*time.Minute, "ffmpeg", args...); err != nil {
		t.Fatalf("make source: %v\n%s", err, out)
	}
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

// Probe is what ffprobe says of a file.
type Probe struct {
	Streams []ProbeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// ProbeStream is one stream of a probed file.
type ProbeStream struct {
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	SampleRate string `json:"sample_rate"`
	Channels   int    `json:"channels"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Frames     string `json:"nb_read_frames"`
	Packets    string `json:"nb_read_packets"`
	StartTime  string `json:"start_time"`
	Duration   string `json:"duration"`
}

// ProbeFile runs ffprobe, counting every frame (a full decode).
func ProbeFile(t testing.TB, path string) Probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p
}

// Video returns the video stream, failing the test when there is none.
func (p Probe) Video(t testing.TB) ProbeStream { return p.kind(t, "video") }

// Audio returns the audio stream, failing the test when there is none.
func (p Probe) Audio(t testing.TB) ProbeStream { return p.kind(t, "audio") }

func (p Probe) kind(t testing.TB, kind string) ProbeStream {
	t.Helper()
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return s
		}
	}
	t.Fatalf("no %s stream in %+v", kind, p)
	return ProbeStream{}
}

// Has tells whether there is a stream of that kind.
func (p Probe) Has(kind string) bool {
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return true
		}
	}
	return false
}

// Duration is the container's duration in seconds.
func (p Probe) Duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// Count parses a frame count field.
func Count(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Decodes fully decodes a file and returns what ffmpeg printed at -v error (nothing for a clean file).
func Decodes(t testing.TB, path string) string {
	t.Helper()
	out, err := Command(t, 2*time.Minute, "ffmpeg", "-v", "error", "-i", path, "-f", "null", "-")
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", path, err, out)
	}
	return string(out)
}
