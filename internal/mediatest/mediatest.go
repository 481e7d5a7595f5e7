// Package mediatest judges media files in tests the way a user would: ffprobe's view and a full
// decode. It is imported only by tests (and the end-to-end harness, internal/servertest).
package mediatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timeout bounds every ffmpeg and ffprobe run: a tool that hangs fails its test instead of the
// whole test binary.
const timeout = 2 * time.Minute

// NeedFFmpeg fails the test when ffmpeg or ffprobe is missing: make test installs them, so a
// missing one is a broken setup, not a reason to pass without judging anything.
func NeedFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make test`, which installs it", tool)
		}
	}
}

// run runs a tool within the timeout and returns its standard output and error output.
func run(name string, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v", name, timeout)
	}
	return out.Bytes(), errOut.Bytes(), err
}

// FFmpeg runs ffmpeg quietly (errors only, no stdin, overwriting outputs) and returns what it
// wrote to standard output; the test fails if ffmpeg does.
func FFmpeg(t testing.TB, args ...string) []byte {
	t.Helper()
	out, stderr, err := run("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, stderr)
	}
	return out
}

// DecodeErrors decodes the whole file with ffmpeg (pre are options placed before -i, such as
// "-ss 7") and returns what ffmpeg printed at -v error: "" for a clean file. When ffmpeg itself
// fails the text says so, so a caller asserting "" fails too.
func DecodeErrors(t testing.TB, path string, pre ...string) string {
	t.Helper()
	args := append([]string{"-nostdin", "-v", "error"}, pre...)
	out, stderr, err := run("ffmpeg", append(args, "-i", path, "-f", "null", "-")...)
	msg := strings.TrimSpace(string(out) + string(stderr))
	if err != nil {
		return fmt.Sprintf("ffmpeg failed: %v\n%s", err, msg)
	}
	return msg
}

// Probe is what ffprobe says of a file; which parts are filled depends on the options asked.
type Probe struct {
	Streams []Stream `json:"streams"`
	Frames  []Frame  `json:"frames"`
	Packets []Packet `json:"packets"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		StartTime  string `json:"start_time"`
	} `json:"format"`
}

// Stream is one stream of a probed file. ffprobe writes counts and times as strings ("N/A"
// when unknown): Count and Seconds read them.
type Stream struct {
	Index      int    `json:"index"`
	CodecType  string `json:"codec_type"` // "video", "audio"
	CodecName  string `json:"codec_name"`
	SampleRate string `json:"sample_rate"`
	Channels   int    `json:"channels"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Frames     string `json:"nb_read_frames"`  // with -count_frames
	Packets    string `json:"nb_read_packets"` // with -count_packets
	StartTime  string `json:"start_time"`
	Duration   string `json:"duration"`
}

// Frame is one decoded frame (-show_frames or -show_entries frame=...).
type Frame struct {
	MediaType string `json:"media_type"`
	PtsTime   string `json:"pts_time"`
	KeyFrame  int    `json:"key_frame"`
}

// Packet is one packet (-show_packets or -show_entries packet=...).
type Packet struct {
	CodecType    string `json:"codec_type"`
	PtsTime      string `json:"pts_time"`
	DtsTime      string `json:"dts_time"`
	DurationTime string `json:"duration_time"`
	Flags        string `json:"flags"`
}

// ProbeFile runs ffprobe on path with the extra options (which say what to show) and parses its
// JSON; the test fails if ffprobe does.
func ProbeFile(t testing.TB, path string, extra ...string) Probe {
	t.Helper()
	args := append(append([]string{"-v", "error", "-of", "json"}, extra...), path)
	out, stderr, err := run("ffprobe", args...)
	if err != nil {
		t.Fatalf("ffprobe %v %s: %v\n%s", extra, path, err, stderr)
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %v %s: %v\n%s", extra, path, err, out)
	}
	return p
}

// CountFrames probes streams and format, decoding every frame to count it (Stream.Frames).
func CountFrames(t testing.TB, path string) Probe {
	t.Helper()
	return ProbeFile(t, path, "-count_frames", "-show_streams", "-show_format")
}

// Stream returns the first stream of codec type kind ("video", "audio"), failing the test when
// there is none.
func (p Probe) Stream(t testing.TB, kind string) Stream {
	t.Helper()
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return s
		}
	}
	t.Fatalf("ffprobe found no %s stream in %+v", kind, p)
	return Stream{}
}

// Video is Stream(t, "video").
func (p Probe) Video(t testing.TB) Stream { t.Helper(); return p.Stream(t, "video") }

// Audio is Stream(t, "audio").
func (p Probe) Audio(t testing.TB) Stream { t.Helper(); return p.Stream(t, "audio") }

// Has tells whether there is a stream of codec type kind.
func (p Probe) Has(kind string) bool {
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return true
		}
	}
	return false
}

// Duration is the container's duration in seconds (see Seconds).
func (p Probe) Duration() float64 { return Seconds(p.Format.Duration) }

// Count reads a count ffprobe wrote (nb_read_frames, nb_read_packets); 0 when there is none.
func Count(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Seconds reads a time ffprobe wrote in seconds; -1 when there is none ("N/A"), a time no file
// has, so that a range check on it fails.
func Seconds(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v
}
