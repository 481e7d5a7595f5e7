package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// publishSeconds is how long the browser tests publish.
const publishSeconds = 5

// webrtcCase is one browser publication and what its recording must be.
type webrtcCase struct {
	id          string
	opts        publishOpts
	ext         string // container
	video       string // codec_name, "" for none
	audio       string
	sampleRate  int
	publishTime time.Duration
}

// runPublication publishes, stops after publishTime and returns the UNPUBLISHED event and how
// long the stream was PUBLISHING as the browser saw it. It runs on its own goroutine.
func runPublication(b *browser, c webrtcCase) (browserEvent, time.Duration, error) {
	pub, err := b.await(c.id, "stream", "PUBLISHING", 30*time.Second)
	if err != nil {
		return pub, 0, err
	}
	time.Sleep(c.publishTime)
	stopped, err := b.stop(c.id)
	if err != nil {
		return pub, 0, err
	}
	end, err := b.await(c.id, "stream", "UNPUBLISHED", 20*time.Second)
	return end, stopped.Sub(pub.at), err
}

// checkWebRTCRecording downloads the recording named by the UNPUBLISHED event right away and judges it.
func checkWebRTCRecording(t *testing.T, e *st.Env, c webrtcCase, end browserEvent, published time.Duration) {
	t.Helper()
	if end.RecordName == "" || filepath.Ext(end.RecordName) != "."+c.ext {
		t.Fatalf("%s: UNPUBLISHED names recording %q, want a .%s file", c.id, end.RecordName, c.ext)
	}
	if want := "stream-" + end.MediaSessionID + "-" + c.opts.Login + "." + c.ext; end.RecordName != want {
		t.Errorf("%s: recording %s, want %s (default template stream-{mediaSessionId}-{login}, login from custom.login)", c.id, end.RecordName, want)
	}
	resp, err := st.Client.Get(e.HTTP + "/client/records/" + end.RecordName)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("%s: GET /client/records/%s right after UNPUBLISHED: %d, %d bytes", c.id, end.RecordName, resp.StatusCode, len(body))
	}
	path := filepath.Join(e.Records, end.RecordName)
	p := st.ProbeFile(t, path)
	if c.video != "" {
		v := p.Video(t)
		if v.CodecName != c.video {
			t.Errorf("%s: video codec %s, want %s", c.id, v.CodecName, c.video)
		}
		if n := st.Count(v.Frames); n < publishSeconds*10 {
			t.Errorf("%s: %d video frames in %v of publishing", c.id, n, published)
		}
	} else if p.Has("video") {
		t.Errorf("%s: the recording has a video track though none was published", c.id)
	}
	if c.audio != "" {
		a := p.Audio(t)
		if a.CodecName != c.audio || a.SampleRate != strconv.Itoa(c.sampleRate) {
			t.Errorf("%s: audio %s %s Hz, want %s %d Hz", c.id, a.CodecName, a.SampleRate, c.audio, c.sampleRate)
		}
		// Chromium's microphone Opus is mono (its offer has no sprop-stereo): so is the file.
		if a.Channels != 1 {
			t.Errorf("%s: audio has %d channels, want 1 (Chromium sends mono Opus)", c.id, a.Channels)
		}
	} else if p.Has("audio") {
		t.Errorf("%s: the recording has an audio track though none was published", c.id)
	}
	d := p.Duration()
	derr := d - published.Seconds()
	t.Logf("%s: %s %.3f s for %.3f s of PUBLISHING (error %+.3f s)", c.id, end.RecordName, d, published.Seconds(), derr)
	if math.Abs(derr) > 0.5 {
		t.Errorf("%s: recording lasts %.3f s, published %.3f s: more than 0.5 s apart", c.id, d, published.Seconds())
	}
	if c.video != "" && c.audio != "" {
		off := startOffset(t, path)
		t.Logf("%s: audio starts %+.1f ms after video", c.id, off*1000)
		if math.Abs(off) > 0.040 {
			t.Errorf("%s: audio and video start %.1f ms apart, want at most 40 ms", c.id, off*1000)
		}
	}
	if out := decodeErrors(t, path); out != "" {
		t.Errorf("%s: decode errors: %s", c.id, out)
	}
	if c.ext == "webm" {
		// Seekable in a browser's <video>: a finished WebM has its Cues (element ID 1C 53 BB 6B).
		if !bytes.Contains(body, []byte{0x1c, 0x53, 0xbb, 0x6b}) {
			t.Errorf("%s: the WebM has no Cues", c.id)
		}
	}
}

// startOffset is the first audio packet's time minus the first video packet's, in seconds.
func startOffset(t *testing.T, path string) float64 {
	t.Helper()
	first := func(sel string) float64 {
		p := mediatest.ProbeFile(t, path, "-select_streams", sel, "-show_entries", "packet=pts_time", "-read_intervals", "%+#1")
		if len(p.Packets) == 0 {
			t.Fatalf("ffprobe: no %s packet", sel)
		}
		v, err := strconv.ParseFloat(p.Packets[0].PtsTime, 64)
		if err != nil {
			t.Fatalf("ffprobe first %s packet: %+v", sel, p.Packets[0])
		}
		return v
	}
	return first("a:0") - first("v:0")
}

// TestWebRTCRecordsH264AndVP8 publishes from Chromium with the npm Web SDK: H.264 goes to MP4
// with AAC, VP8 (the SDK's stripCodecs:"H264") to WebM with Vorbis, both from Opus.
func TestWebRTCRecordsH264AndVP8(t *testing.T) {
	e := st.Start(t, map[string]string{"record_audio_codec_sample_rate": "48000"})
	b := startBrowser(t)
	ws := fmt.Sprintf("ws://127.0.0.1:%d/anything", e.Ports["ws.port"])
	cases := []webrtcCase{
		{id: "h264", opts: publishOpts{URL: ws, Name: "cam-h264", Record: true, Login: "alice"}, ext: "mp4", video: "h264", audio: "aac", sampleRate: 48000},
		{id: "vp8", opts: publishOpts{URL: ws, Name: "cam-vp8", Record: true, StripCodecs: "H264"}, ext: "webm", video: "vp8", audio: "vorbis", sampleRate: 48000},
	}
	runWebRTCCases(t, e, b, cases)
}

func runWebRTCCases(t *testing.T, e *st.Env, b *browser, cases []webrtcCase) {
	for _, c := range cases {
		b.publish(c.id, c.opts)
	}
	type result struct {
		end       browserEvent
		published time.Duration
		err       error
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i := range cases {
		if cases[i].publishTime == 0 {
			cases[i].publishTime = publishSeconds * time.Second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			end, published, err := runPublication(b, cases[i])
			results[i] = result{end, published, err}
		}()
	}
	wg.Wait()
	for i, c := range cases {
		if results[i].err != nil {
			t.Errorf("%s: %v", c.id, results[i].err)
			continue
		}
		checkWebRTCRecording(t, e, c, results[i].end, results[i].published)
	}
}

// TestWebRTCTrackSets: audio-only goes to MP4 with AAC at the default 44.1 kHz, video-only to
// MP4 without an audio track, and a browser offering only codecs we cannot record (stripCodecs
// "H264,VP8" leaves VP9 and AV1) gets FAILED with a reason instead of an empty file.
func TestWebRTCTrackSets(t *testing.T) {
	e := st.Start(t, nil)
	b := startBrowser(t)
	ws := fmt.Sprintf("ws://127.0.0.1:%d", e.Ports["ws.port"])
	b.publish("vp9", publishOpts{URL: ws, Name: "cam-vp9", Record: true, StripCodecs: "H264,VP8"})
	cases := []webrtcCase{
		{id: "audio", opts: publishOpts{URL: ws, Name: "mic-only", Record: true, NoVideo: true}, ext: "mp4", audio: "aac", sampleRate: 44100},
		{id: "video", opts: publishOpts{URL: ws, Name: "cam-only", Record: true, NoAudio: true}, ext: "mp4", video: "h264"},
	}
	failed := b.wait("vp9", "stream", "FAILED", 30*time.Second)
	if !strings.Contains(failed.Info, "No common codecs") || !strings.Contains(failed.Info, "VP9") {
		t.Errorf("VP9/AV1-only publisher FAILED with info %q, want No common codecs naming VP9", failed.Info)
	}
	runWebRTCCases(t, e, b, cases)
	if files := recordings(e); len(files) != 2 {
		t.Errorf("records: %v, want the two recordings only", files)
	}
}

// TestWebRTCRecordOnDemand publishes over wss:// with record:false, records it on demand by
// its mediaSessionId through REST (the recording starts on a fresh keyframe the server asks the
// browser for), then drops the browser mid-publish: the stream ends and a recording started
// then is finished.
func TestWebRTCRecordOnDemand(t *testing.T) {
	e := st.Start(t, nil)
	b := startBrowser(t)
	wss := fmt.Sprintf("wss://127.0.0.1:%d/ondemand", e.Ports["wss.port"])
	b.publish("od", publishOpts{URL: wss, Name: "ondemand", Record: false})
	pub := b.wait("od", "stream", "PUBLISHING", 30*time.Second)
	if pub.RecordName != "" {
		t.Errorf("record:false stream has a recording: %q", pub.RecordName)
	}
	s := e.WaitStream("ondemand", "PUBLISHING", 5*time.Second)
	if s.Recording || s.MediaProvider != "WebRTC" || s.VideoCodec != "H264" || s.AudioCodec != "opus" {
		t.Errorf("stream %+v: want WebRTC H264/opus, not recording", s)
	}
	time.Sleep(3 * time.Second) // the cached keyframe is older than what on-demand recordings start from
	body := `{"mediaSessionId":"` + s.MediaSessionID + `"}`
	started := time.Now()
	if code, b := e.Post("/rest-api/stream/startRecording", body); code != 200 {
		t.Fatalf("startRecording: %d %s", code, b)
	}
	time.Sleep(3 * time.Second)
	code, out := e.Post("/rest-api/stream/stopRecording", body)
	stopped := time.Now()
	var res struct{ Files []string }
	if code != 200 || json.Unmarshal(out, &res) != nil || len(res.Files) != 1 {
		t.Fatalf("stopRecording: %d %s", code, out)
	}
	path := filepath.Join(e.Records, res.Files[0])
	p := st.ProbeFile(t, path)
	if p.Video(t).CodecName != "h264" || p.Audio(t).CodecName != "aac" {
		t.Errorf("on-demand recording: %+v", p.Streams)
	}
	if !firstVideoFrameKey(t, path) {
		t.Error("the on-demand recording does not start with a keyframe")
	}
	want := stopped.Sub(started).Seconds()
	t.Logf("on-demand recording %.3f s for %.3f s between startRecording and stopRecording", p.Duration(), want)
	if math.Abs(p.Duration()-want) > 0.5 {
		t.Errorf("on-demand recording lasts %.3f s, recorded for %.3f s", p.Duration(), want)
	}
	if out := decodeErrors(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}

	// Recording again, then the browser vanishes: the stream ends, the recording is finished.
	if code, b := e.Post("/rest-api/stream/startRecording", body); code != 200 {
		t.Fatalf("startRecording: %d %s", code, b)
	}
	time.Sleep(2 * time.Second)
	b.drop("od")
	e.WaitGone("ondemand", 15*time.Second)
	var second string
	for _, f := range recordings(e) {
		if f != res.Files[0] {
			second = f
		}
	}
	if second == "" {
		t.Fatalf("no second recording after the drop: %v", e.RecordFiles())
	}
	p = st.ProbeFile(t, filepath.Join(e.Records, second))
	t.Logf("recording of the dropped publisher: %s, %.3f s", second, p.Duration())
	if p.Duration() < 1.5 || st.Count(p.Video(t).Frames) < 20 {
		t.Errorf("recording of the dropped publisher: %.3f s, %s frames", p.Duration(), p.Video(t).Frames)
	}
	if out := decodeErrors(t, filepath.Join(e.Records, second)); out != "" {
		t.Errorf("decode errors: %s", out)
	}
}

// decodeErrors fully decodes a file and returns what ffmpeg reports at -v error. Browsers send
// variable frame rate video (capture times, frames dropped under load): the decoded frames keep
// the file's own time base, or ffmpeg's frame-rate time base would merge close frames.
func decodeErrors(t *testing.T, path string) string {
	t.Helper()
	out, err := st.Command(t, 2*time.Minute, "ffmpeg", "-v", "error", "-i", path, "-enc_time_base", "-1", "-f", "null", "-")
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// TestWebRTCSIGKILLLeavesPlayableFiles kills the server process while Chromium publishes H.264
// and VP8: the MP4 and the WebM on disk play up to about a second before the kill.
func TestWebRTCSIGKILLLeavesPlayableFiles(t *testing.T) {
	e := st.Prepare(t, nil)
	srv := startChild(t, e)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.Ports["ws.port"]))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server process does not listen on ws.port")
		}
	}
	b := startBrowser(t)
	ws := fmt.Sprintf("ws://127.0.0.1:%d", e.Ports["ws.port"])
	b.publish("mp4", publishOpts{URL: ws, Name: "killed-h264", Record: true})
	b.publish("webm", publishOpts{URL: ws, Name: "killed-vp8", Record: true, StripCodecs: "H264"})
	pubs := map[string]browserEvent{}
	for _, id := range []string{"mp4", "webm"} {
		pubs[id] = b.wait(id, "stream", "PUBLISHING", 30*time.Second)
	}
	time.Sleep(4 * time.Second)
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	for id, codecs := range map[string][2]string{"mp4": {"h264", "aac"}, "webm": {"vp8", "vorbis"}} {
		elapsed := time.Since(pubs[id].at).Seconds()
		path := filepath.Join(e.Records, pubs[id].RecordName)
		p := st.ProbeFile(t, path)
		frames := st.Count(p.Video(t).Frames)
		t.Logf("%s: %s holds %d video frames, %s audio frames after %.1f s of publishing", id, pubs[id].RecordName, frames, p.Audio(t).Frames, elapsed)
		if p.Video(t).CodecName != codecs[0] || p.Audio(t).CodecName != codecs[1] {
			t.Errorf("%s: %+v", id, p.Streams)
		}
		// Browsers send 15-30 fps; what was flushed up to ~1.5 s before the kill must be there.
		if min := int((elapsed - 2) * 10); frames < min || st.Count(p.Audio(t).Frames) == 0 {
			t.Errorf("%s: %d video frames, %s audio frames on disk after %.1f s, want at least %d video frames and audio",
				id, frames, p.Audio(t).Frames, elapsed, min)
		}
		if out := decodeErrors(t, path); out != "" {
			t.Errorf("%s: decode errors: %s", id, out)
		}
	}
}
