package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// whipBrowser is one run of testdata/whip_publish.mjs: Chromium publishing over WHIP with
// @eyevinn/whip-web-client from a page on another origin.
type whipBrowser struct {
	cmd       *exec.Cmd
	connected chan string // the "@event connected" JSON
	result    chan string // the "@result" JSON; closed when the script ends
}

func startWHIPBrowser(t *testing.T, e *st.Env, name, codec, end string, seconds int) *whipBrowser {
	t.Helper()
	requireBrowser(t)
	cmd := exec.Command("node", filepath.Join("testdata", "whip_publish.mjs"))
	cmd.Env = append(os.Environ(), "BASE="+e.HTTP, "WHIP_URL="+e.HTTP+"/whip/"+name, "WHIP_TOKEN="+whipToken,
		"CODEC="+codec, "END="+end, fmt.Sprintf("SECONDS=%d", seconds), "SHOTS="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Chromium in node's group: one kill ends both
	cmd.Stderr = testLog{t, "whip " + name + ": "}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &whipBrowser{cmd: cmd, connected: make(chan string, 1), result: make(chan string, 1)}
	go func() {
		defer close(b.result)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("whip %s: %s", name, line)
			if v, ok := strings.CutPrefix(line, "@event connected "); ok {
				b.connected <- v
			}
			if v, ok := strings.CutPrefix(line, "@result "); ok {
				b.result <- v
			}
		}
	}()
	t.Cleanup(func() { b.kill(); cmd.Wait() })
	return b
}

// kill ends the script and its Chromium at once (SIGKILL to the process group we made).
func (b *whipBrowser) kill() { syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) }

func (b *whipBrowser) await(t *testing.T, ch chan string, what string, timeout time.Duration) string {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("the WHIP browser ended without %s", what)
		}
		return v
	case <-time.After(timeout):
		t.Fatalf("no %s from the WHIP browser within %v", what, timeout)
	}
	return ""
}

// TestWHIPBrowser: Chromium publishes with @eyevinn/whip-web-client (bundled from npm), H.264,
// VP8 and audio alone at once, ends with the client's destroy() (DELETE); H.264 goes to MP4
// with AAC, VP8 to WebM with Vorbis, audio alone to MP4; every frame the browser sent is in the
// file, which decodes cleanly. A
// third publisher's browser is killed: its file is finished all the same.
func TestWHIPBrowser(t *testing.T) {
	e := st.Start(t, map[string]string{"whip_token": whipToken, "record_audio_codec_sample_rate": "48000"})
	cases := []struct{ name, codec, ext, video, audio string }{
		{"whip-h264", "H264", "mp4", "h264", "aac"},
		{"whip-vp8", "VP8", "webm", "vp8", "vorbis"},
		{"whip-audio", "none", "mp4", "", "aac"},
	}
	browsers := map[string]*whipBrowser{}
	for _, c := range cases {
		browsers[c.name] = startWHIPBrowser(t, e, c.name, c.codec, "delete", publishSeconds)
	}
	vanishing := startWHIPBrowser(t, e, "whip-vanish", "H264", "vanish", 0)
	for _, c := range cases {
		b := browsers[c.name]
		b.await(t, b.connected, "connection", 60*time.Second)
		var res struct {
			FramesSent int
			Codec      string
		}
		json.Unmarshal([]byte(b.await(t, b.result, "result", 60*time.Second)), &res)
		files := filesOf(t, e, c.name)
		if len(files) != 1 || filepath.Ext(files[0]) != "."+c.ext {
			t.Errorf("%s: files %v, want one .%s (DELETE answers once it is finished)", c.name, files, c.ext)
			continue
		}
		answered := e.LogLines("whip publisher answered", "stream="+c.name+" ")
		started := e.LogLines("recording started", "stream="+c.name+" ")
		if len(answered) == 1 && len(started) == 1 {
			t.Logf("%s: answered %v, first frame recorded %v after the answer left (%s)", c.name,
				logAfter(answered[0]), logTime(t, started[0]).Sub(logTime(t, answered[0])).Round(time.Millisecond), "log times")
		}
		path := filepath.Join(e.Records, files[0])
		p := st.ProbeFile(t, path)
		if c.video == "" {
			if a := p.Audio(t); p.Has("video") || a.CodecName != c.audio || p.Duration() < publishSeconds {
				t.Errorf("%s: %s, %.3f s: want %s alone, at least %d s", c.name, files[0], p.Duration(), c.audio, publishSeconds)
			}
			continue
		}
		v, a := p.Video(t), p.Audio(t)
		frames := st.Count(v.Frames)
		t.Logf("%s: %s (browser sent %s): %d video frames of %d sent, file %.3f s", c.name, files[0],
			res.Codec, frames, res.FramesSent, p.Duration())
		if v.CodecName != c.video || a.CodecName != c.audio {
			t.Errorf("%s: %s + %s, want %s + %s", c.name, v.CodecName, a.CodecName, c.video, c.audio)
		}
		if frames < res.FramesSent-1 || frames > res.FramesSent {
			t.Errorf("%s: %d video frames recorded, the browser sent %d", c.name, frames, res.FramesSent)
		}
		if out := decodeErrors(t, path); out != "" { // -enc_time_base -1: a browser's frame rate varies
			t.Errorf("%s: decode errors: %s", c.name, out)
		}
	}
	vanishing.await(t, vanishing.connected, "connection", 60*time.Second)
	time.Sleep(publishSeconds * time.Second)
	vanishing.kill()
	killed := time.Now()
	e.WaitGone("whip-vanish", 30*time.Second)
	t.Logf("whip-vanish: stream ended %v after the browser was killed", time.Since(killed).Round(100*time.Millisecond))
	files := filesOf(t, e, "whip-vanish")
	if len(files) != 1 {
		t.Fatalf("whip-vanish: files %v", files)
	}
	path := filepath.Join(e.Records, files[0])
	p := st.ProbeFile(t, path)
	t.Logf("whip-vanish: %s %.3f s", files[0], p.Duration())
	if d := mediatest.Seconds(p.Video(t).Duration); d < publishSeconds-1 {
		t.Errorf("whip-vanish: video %.3f s for about %d s published", d, publishSeconds)
	}
	if out := decodeErrors(t, path); out != "" { // -enc_time_base -1: a browser's frame rate varies
		t.Errorf("whip-vanish: decode errors: %s", out)
	}
}

// filesOf lists the finished recordings of a stream (stream_record_policy=streamName is not set:
// the REST stream list is gone with the stream, so the file is found by the log's recording line).
func filesOf(t *testing.T, e *st.Env, name string) []string {
	t.Helper()
	var out []string
	for _, l := range e.LogLines("recording ready", "stream="+name+" ") {
		_, rest, _ := strings.Cut(l, "file=")
		f, _, _ := strings.Cut(rest, " ")
		out = append(out, strings.Trim(f, `"`))
	}
	return out
}

// logAfter is the after= value of a log line.
func logAfter(line string) string {
	_, rest, _ := strings.Cut(line, "after=")
	v, _, _ := strings.Cut(rest, " ")
	return v
}
