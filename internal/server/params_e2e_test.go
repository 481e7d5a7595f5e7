package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// A publisher that changes its video parameters mid-stream (a new resolution) gets one file per
// set of parameters: NAME.mp4 under the first, NAME-2.mp4 from the change on. Both decode
// cleanly and together last as long as what was sent.

const segSeconds = 3

var segSizes = [][2]int{{640, 360}, {1280, 720}}

// segments encodes the two segments (25 fps, a keyframe each second, no B-frames) with ffmpeg,
// as FLV with AAC (withAudio) or as Annex B H.264. It returns their paths.
func segments(t *testing.T, withAudio bool) []string {
	t.Helper()
	st.RequireFFmpeg(t)
	dir := t.TempDir()
	var out []string
	for _, s := range segSizes {
		args := []string{"-y", "-v", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25:duration=%d", s[0], s[1], segSeconds)}
		if withAudio {
			args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=44100:duration=%d", segSeconds))
		}
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "0")
		p := filepath.Join(dir, fmt.Sprintf("%dx%d", s[0], s[1]))
		if withAudio {
			p += ".flv"
			args = append(args, "-c:a", "aac", "-b:a", "96k", "-f", "flv", p)
		} else {
			p += ".h264"
			args = append(args, "-f", "h264", p)
		}
		if o, err := st.Command(t, time.Minute, "ffmpeg", args...); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, o)
		}
		out = append(out, p)
	}
	return out
}

// avTag is one audio or video tag (its payload) of an FLV file.
type avTag struct {
	typ  uint8 // chunk.TypeAudio or chunk.TypeVideo
	ts   uint32
	body []byte
}

// avTags reads the audio and video tags of an FLV file.
func avTags(t *testing.T, path string) []avTag {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tags []avTag
	for i := 9 + 4; i+11 <= len(b); {
		size := int(b[i+1])<<16 | int(b[i+2])<<8 | int(b[i+3])
		ts := flvTime(b[i+4:])
		if i+11+size > len(b) {
			t.Fatalf("%s: tag cut short", path)
		}
		if typ := b[i]; typ == chunk.TypeAudio || typ == chunk.TypeVideo {
			tags = append(tags, avTag{typ, ts, b[i+11 : i+11+size]})
		}
		i += 11 + size + 4
	}
	return tags
}

// publishTags publishes FLV tags over RTMP in real time, through the repository's own chunk
// writer: each segment's tags follow the previous one's, with its sequence headers, so the
// change arrives as a new AVC sequence header mid-stream (ffmpeg's flv muxer would keep the
// first one). The connection is closed at the end.
func publishTags(t *testing.T, e *st.Env, name string, segs [][]avTag) {
	t.Helper()
	c := hostileRTMP(t, e)
	go io.Copy(io.Discard, c) // the server's replies
	w := chunk.NewWriter(c)
	send := func(streamID uint32, vals ...any) {
		if err := w.Write(&chunk.Message{ChunkStream: 3, Type: chunk.TypeCommandAMF0, StreamID: streamID, Payload: amf0.Append(nil, vals...)}); err != nil {
			t.Fatal(err)
		}
	}
	send(0, "connect", 1, amf0.Object{{Key: "app", Value: "live"}})
	send(0, "createStream", 2, nil)
	send(1, "publish", 3, nil, name, "live")
	start := time.Now()
	var offset uint32
	for _, tags := range segs {
		var end uint32 // where the segment's media ends: the next one begins there
		for _, tag := range tags {
			ts := offset + tag.ts
			time.Sleep(time.Until(start.Add(time.Duration(ts) * time.Millisecond)))
			cs := uint32(4)
			if tag.typ == chunk.TypeVideo {
				cs = 6
			}
			if err := w.Write(&chunk.Message{ChunkStream: cs, Type: tag.typ, StreamID: 1, Timestamp: ts, Payload: tag.body}); err != nil {
				t.Fatal(err)
			}
			d := uint32(40) // a video frame at 25 fps
			if tag.typ == chunk.TypeAudio {
				d = 24 // an AAC frame at 44.1 kHz, rounded up
			}
			end = max(end, tag.ts+d)
		}
		offset += end
	}
	time.Sleep(500 * time.Millisecond)
	c.Close()
}

// checkParams judges the files of a stream whose parameters changed once: NAME.mp4 and
// NAME-2.mp4, of the segments' sizes, each decoding cleanly, together as long as the source.
func checkParams(t *testing.T, e *st.Env, name string) {
	t.Helper()
	checkSizeParts(t, e, name, "mp4", "h264")
}

// checkSizeParts is checkParams for files of any container and video codec.
func checkSizeParts(t *testing.T, e *st.Env, name, ext, codec string) {
	t.Helper()
	files := recordings(e)
	want := []string{name + "-2." + ext, name + "." + ext} // as listed: sorted
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("records: %v, want %v", files, want)
	}
	var total float64
	for i, f := range []string{want[1], want[0]} {
		path := filepath.Join(e.Records, f)
		p := st.ProbeFile(t, path)
		v := p.Video(t)
		if v.CodecName != codec || v.Width != segSizes[i][0] || v.Height != segSizes[i][1] {
			t.Errorf("%s: video %s %dx%d, want %s %dx%d", f, v.CodecName, v.Width, v.Height, codec, segSizes[i][0], segSizes[i][1])
		}
		if out := st.Decodes(t, path); out != "" {
			t.Errorf("ffmpeg -v error reports problems decoding %s:\n%s", f, out)
		}
		t.Logf("%s: %dx%d, %.3f s", f, v.Width, v.Height, p.Duration())
		total += p.Duration()
	}
	if src := float64(len(segSizes) * segSeconds); math.Abs(total-src) > 0.15 {
		t.Errorf("parts last %.3f s together, want %.0f s", total, src)
	}
	if n := len(e.LogLines("video parameters changed: new part")); n != 1 {
		t.Errorf("%d log lines on the change, want 1", n)
	}
}

func TestParamsChangeRTMPSequenceHeader(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	var segs [][]avTag
	for _, p := range segments(t, true) {
		segs = append(segs, avTags(t, p))
	}
	publishTags(t, e, "change", segs)
	e.WaitGone("change", 10*time.Second)
	checkParams(t, e, "change")
	t.Run("chromium", func(t *testing.T) { playsInChromium(t, e, "change") })
}

func TestParamsChangeRTSP(t *testing.T) {
	e := st.Start(t, rtspSettings)
	src := joinedH264(t)
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/change", e.Ports["rtsp.port"])
	out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-f", "h264", "-framerate", "25", "-i", src,
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", url)
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("change", 10*time.Second)
	checkParams(t, e, "change")
	t.Run("chromium", func(t *testing.T) { playsInChromium(t, e, "change") })
}

// joinedH264 writes the two Annex B segments one after the other: one H.264 stream whose SPS
// changes at the second segment's first keyframe, in-band.
func joinedH264(t *testing.T) string {
	t.Helper()
	var joined []byte
	for _, p := range segments(t, false) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, b...)
	}
	src := filepath.Join(t.TempDir(), "joined.h264")
	if err := os.WriteFile(src, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// ffmpeg publishing the joined stream over RTMP keeps the first sequence header: the new
// parameter sets arrive in-band, in the keyframe.
func TestParamsChangeRTMPInBand(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	src := filepath.Join(t.TempDir(), "joined.flv")
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error", "-f", "h264", "-framerate", "25", "-i", joinedH264(t),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=44100:duration=%d", 2*segSeconds),
		"-c:v", "copy", "-c:a", "aac", "-shortest", "-f", "flv", src); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	pub := st.Publish(t, src, e.RTMP+"/change")
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("change", 10*time.Second)
	checkParams(t, e, "change")
}

// playsInChromium plays each part of a parameter change in Chromium, from the server's
// /client/records/ URL: each must play to its end without a media error, at its own size.
func playsInChromium(t *testing.T, e *st.Env, name string) {
	t.Helper()
	requireBrowser(t)
	names := []string{name + ".mp4", name + "-2.mp4"}
	var urls []string
	for _, n := range names {
		urls = append(urls, e.HTTP+"/client/records/"+n)
	}
	out, err := st.Command(t, 2*time.Minute, "node", append([]string{filepath.Join("testdata", "play.mjs")}, urls...)...)
	if err != nil {
		t.Fatalf("node play.mjs: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(names) {
		t.Fatalf("play.mjs said:\n%s", out)
	}
	for i, line := range lines {
		var r struct {
			Error           string
			Ended           bool
			Width, Height   int
			Duration        float64
			Frames, Dropped int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("play.mjs: %v: %s", err, line)
		}
		t.Logf("Chromium played %s: %s", names[i], line)
		if r.Error != "" || !r.Ended || r.Width != segSizes[i][0] || r.Height != segSizes[i][1] || r.Frames != segSeconds*25 {
			t.Errorf("Chromium playing %s: error %q, ended %v, %dx%d, %d frames; want played to the end at %dx%d, %d frames",
				names[i], r.Error, r.Ended, r.Width, r.Height, r.Frames, segSizes[i][0], segSizes[i][1], segSeconds*25)
		}
	}
}

// A VP8 publisher whose picture size changes (two WebM segments joined by ffmpeg's concat
// demuxer, published over RTSP) gets a WebM file per size.
func TestParamsChangeRTSPVP8(t *testing.T) {
	st.RequireFFmpeg(t)
	e := st.Start(t, rtspSettings)
	dir := t.TempDir()
	var list string
	for _, s := range segSizes {
		p := filepath.Join(dir, fmt.Sprintf("%dx%d.webm", s[0], s[1]))
		if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error",
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=25:duration=%d", s[0], s[1], segSeconds),
			"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "25", "-b:v", "1M", "-f", "webm", p); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		list += fmt.Sprintf("file '%s'\n", p)
	}
	listFile := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(listFile, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/vp8change", e.Ports["rtsp.port"])
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-re", "-f", "concat", "-safe", "0", "-i", listFile,
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", url); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("vp8change", 10*time.Second)
	checkSizeParts(t, e, "vp8change", "webm", "vp8")
}

// A WebRTC publisher (pion) whose H.264 resolution changes mid-stream, as a browser's does when
// it adapts to the bandwidth: the new SPS/PPS come in-band with the keyframe.
func TestParamsChangeWebRTC(t *testing.T) {
	e := st.Start(t, map[string]string{"stream_record_policy": "streamName"})
	_, ogg := syncSources(t)
	dir := t.TempDir()
	var aus [][]byte
	for _, s := range segSizes {
		p := filepath.Join(dir, fmt.Sprintf("%dx%d.h264", s[0], s[1]))
		if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error",
			"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=30:duration=%d", s[0], s[1], clipSeconds/2),
			"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0", "-x264-params", "aud=1", "-f", "h264", p); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		aus = append(aus, accessUnits(t, p)...)
	}
	w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p := newPionPublisher(t)
	const id = "5e1d0c3a-0000-4000-8000-0000000000bb"
	if err := p.publish(t, w, id, "change"); err != nil {
		t.Fatal(err)
	}
	if err := p.send(aus, oggPackets(t, ogg), sendOptions{senderReports: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.unpublish(id, "change"); err != nil {
		t.Fatal(err)
	}
	e.WaitGone("change", 10*time.Second)
	checkParams(t, e, "change")
}
