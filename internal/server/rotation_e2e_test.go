package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// probePackets lists the packets ffprobe reads, by kind ("video", "audio").
func probePackets(t *testing.T, path string) map[string][]mediatest.Packet {
	t.Helper()
	p := mediatest.ProbeFile(t, path, "-show_entries", "packet=codec_type,pts_time,dts_time,duration_time,flags")
	byKind := map[string][]mediatest.Packet{}
	for _, pk := range p.Packets {
		byKind[pk.CodecType] = append(byKind[pk.CodecType], pk)
	}
	return byKind
}

// recordings lists the recording files in records/ (not the server's own hidden files).
func recordings(e *st.Env) []string {
	var out []string
	for _, f := range e.RecordFiles() {
		if !strings.HasPrefix(f, ".") {
			out = append(out, f)
		}
	}
	return out
}

// parts returns the rotated parts NAME-1.EXT, NAME-2.EXT, ... in records/, in order, and fails
// on any other file.
func parts(t *testing.T, e *st.Env, name, ext string) []string {
	t.Helper()
	var out []string
	nums := map[string]int{}
	for _, f := range recordings(e) {
		rest, ok := strings.CutPrefix(f, name+"-")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "."+ext))
		if !ok || !strings.HasSuffix(rest, "."+ext) || err != nil {
			t.Errorf("unexpected file in records/: %s", f)
			continue
		}
		nums[f] = n
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return nums[out[i]] < nums[out[j]] })
	for i, f := range out {
		if nums[f] != i+1 {
			t.Errorf("parts %v are not numbered 1..%d", out, len(out))
			break
		}
	}
	return out
}

// checkParts judges rotated parts like a user who joins them: each part begins on a keyframe
// and plays alone; together they hold every source frame once; the audio of each part begins
// exactly where the previous part's ended (the recording's timeline, placing each part at the
// cut, which its container duration gives); and ffmpeg's concat demuxer joins them into a file
// that plays cleanly with every frame.
func checkParts(t *testing.T, dir string, files []string, src st.Source, wantRate int) {
	t.Helper()
	frame := 1 / float64(src.FPS)
	aframe := 1024 / float64(wantRate)
	var list strings.Builder
	var at, sum float64 // where the part begins in the recording; sum of container durations
	var audio []float64 // audio packet times in the recording
	frames := 0
	for _, f := range files {
		path := filepath.Join(dir, f)
		p := st.ProbeFile(t, path)
		v := p.Video(t)
		if a := p.Audio(t); a.CodecName != "aac" || a.SampleRate != strconv.Itoa(wantRate) {
			t.Errorf("%s audio: %s %s Hz, want aac %d", f, a.CodecName, a.SampleRate, wantRate)
		}
		pk := probePackets(t, path)
		if len(pk["video"]) == 0 || !strings.HasPrefix(pk["video"][0].Flags, "K") || mediatest.Seconds(pk["video"][0].PtsTime) != 0 {
			t.Errorf("%s does not begin with a keyframe at 0: %+v", f, pk["video"][:min(1, len(pk["video"]))])
		}
		if out := st.Decodes(t, path); out != "" {
			t.Errorf("%s does not play alone cleanly:\n%s", f, out)
		}
		n := st.Count(v.Frames)
		vdur := float64(n) * frame
		if d, _ := strconv.ParseFloat(v.Duration, 64); math.Abs(d-vdur) > 0.002 {
			t.Errorf("%s: video lasts %.3f s for %d frames", f, d, n)
		}
		for _, a := range pk["audio"] {
			audio = append(audio, at+mediatest.Seconds(a.DtsTime))
		}
		t.Logf("%s: %d video frames, %.3f s; audio %.3f-%.3f s", f, n, p.Duration(), mediatest.Seconds(pk["audio"][0].DtsTime), mediatest.Seconds(pk["audio"][len(pk["audio"])-1].DtsTime)+aframe)
		frames += n
		at += vdur
		sum += p.Duration()
		fmt.Fprintf(&list, "file '%s'\n", path)
	}
	if frames != src.Frames() {
		t.Errorf("the parts hold %d video frames together, the source %d", frames, src.Frames())
	}
	// Audio across the cuts: every frame once, each one AAC frame after the previous one.
	worst := 0.0
	for i := 1; i < len(audio); i++ {
		worst = max(worst, math.Abs(audio[i]-audio[i-1]-aframe))
	}
	t.Logf("audio: %d frames over %.3f s, worst step error across the parts %.2f ms", len(audio), at, worst*1000)
	if worst > 0.001 {
		t.Errorf("audio is not continuous across the cuts: a step is off by %.2f ms", worst*1000)
	}
	if end := audio[len(audio)-1] + aframe; end < float64(src.Seconds)-aframe || end > float64(src.Seconds)+2*aframe {
		t.Errorf("audio ends at %.3f s of a %d s source", end, src.Seconds)
	}

	listFile := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	joined := filepath.Join(t.TempDir(), "joined.mp4")
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", listFile, "-c", "copy", joined); err != nil {
		t.Fatalf("ffmpeg concat: %v\n%s", err, out)
	}
	jp := st.ProbeFile(t, joined)
	if n := st.Count(jp.Video(t).Frames); n != src.Frames() {
		t.Errorf("joined: %d video frames, want %d", n, src.Frames())
	}
	// ffmpeg counts a part whose audio begins a few ms after its keyframe as that much longer
	// (a fragmented MP4 track starting late), and concat places the next part accordingly: at
	// most one audio frame per cut.
	cuts := float64(len(files) - 1)
	if d := jp.Duration(); math.Abs(d-sum) > frame || d < float64(src.Seconds)-frame || d > float64(src.Seconds)+frame+cuts*aframe {
		t.Errorf("joined lasts %.3f s, the parts %.3f s together, the source %d s", d, sum, src.Seconds)
	}
	t.Logf("joined with concat: %.3f s, %d frames", jp.Duration(), st.Count(jp.Video(t).Frames))
	if out := st.Decodes(t, joined); out != "" {
		t.Errorf("joined file does not decode cleanly:\n%s", out)
	}
}

// recordParts publishes a clip of src over RTMP as stream, waits until its recording ended, and
// returns its n parts (the test fails on another count).
func recordParts(t *testing.T, e *st.Env, stream string, src st.Source, n int) []string {
	t.Helper()
	recordClip(t, e, stream, src)
	files := parts(t, e, stream, "mp4")
	if len(files) != n {
		t.Fatalf("parts %v: want %d (%d s in parts of 2 s)", files, n, src.Seconds)
	}
	return files
}

// recordClip publishes a clip of src over RTMP as stream and waits until its recording ended.
func recordClip(t *testing.T, e *st.Env, stream string, src st.Source) {
	t.Helper()
	pub := st.Publish(t, st.Make(t, src), e.RTMP+"/"+stream)
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone(stream, 10*time.Second)
}

func TestRotationByTime(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	// Copied audio, and audio resampled (transcoded) to the configured rate.
	for _, rate := range []int{44100, 48000} {
		t.Run(fmt.Sprintf("source %d Hz", rate), func(t *testing.T) {
			e := st.Start(t, map[string]string{
				"record_flash_published_streams": "true",
				"stream_record_policy":           "streamName",
				"record_rotation":                "2",
			})
			src := st.Source{Seconds: 7, FPS: 30, GOP: 30, SampleRate: rate}
			files := recordParts(t, e, "rot", src, 4)
			checkParts(t, e.Records, files, src, 44100)
		})
	}
}

// bigClip makes a clip of about 6 Mbit/s (noisy 640x480 video), so a few seconds fill several
// 1 MB parts.
func bigClip(t *testing.T, seconds int) string {
	t.Helper()
	st.RequireFFmpeg(t)
	p := filepath.Join(t.TempDir(), "big.flv")
	out, err := st.Command(t, 2*time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=640x480:rate=30:duration=%d,noise=alls=40:allf=t", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=44100:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0",
		"-b:v", "6M", "-maxrate", "6M", "-bufsize", "3M", "-c:a", "aac", "-b:a", "96k", "-f", "flv", p)
	if err != nil {
		t.Fatalf("make clip: %v\n%s", err, out)
	}
	return p
}

func TestRotationBySize(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"record_rotation":                "1M",
	})
	src := st.Source{Seconds: 6, FPS: 30, GOP: 30, SampleRate: 44100}
	pub := st.Publish(t, bigClip(t, src.Seconds), e.RTMP+"/big")
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("big", 10*time.Second)
	files := parts(t, e, "big", "mp4")
	if len(files) < 3 {
		t.Fatalf("parts %v: want at least 3 parts of about 1 MB from a 6 s clip at 6 Mbit/s", files)
	}
	for _, f := range files[:len(files)-1] {
		st, _ := os.Stat(filepath.Join(e.Records, f))
		// Cut at the first keyframe once 1 MB is reached: at most a second (one GOP) more.
		if st.Size() < 1<<20 || st.Size() > 3<<20 {
			t.Errorf("%s holds %d bytes, want 1 MB up to the next keyframe", f, st.Size())
		}
	}
	checkParts(t, e.Records, files, src, 44100)
}

// Changing record_rotation applies to recordings that start afterwards, not to one running.
func TestRotationChangeAppliesToNewRecordings(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
	})
	src := st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100}
	clip := st.Make(t, src)
	before := st.Publish(t, clip, e.RTMP+"/before")
	if s := e.WaitStream("before", "PUBLISHING", 10*time.Second); !s.Recording {
		t.Fatalf("not recording: %+v", s)
	}
	if err := e.Server.Settings.Update(map[string]string{"record_rotation": "2"}); err != nil {
		t.Fatal(err)
	}
	after := st.Publish(t, clip, e.RTMP+"/after")
	for _, p := range []*st.Publisher{before, after} {
		if out, err := p.Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}
	e.WaitGone("before", 10*time.Second)
	e.WaitGone("after", 10*time.Second)
	checkRecording(t, filepath.Join(e.Records, "before.mp4"), src, 44100)
	var rotated []string
	for _, f := range recordings(e) {
		if strings.HasPrefix(f, "after") {
			rotated = append(rotated, f)
		}
	}
	if len(rotated) != 3 {
		t.Fatalf("the recording started after the change: %v, want after-1..3.mp4", rotated)
	}
	checkParts(t, e.Records, []string{"after-1.mp4", "after-2.mp4", "after-3.mp4"}, src, 44100)
}

// A stream published in a room (?room=NAME on the RTMP URL, or "room": true on REST
// startRecording) is never rotated.
func TestRoomStreamNotRotated(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	src := st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100}
	t.Run("rtmp query", func(t *testing.T) {
		e := st.Start(t, map[string]string{
			"record_flash_published_streams": "true",
			"stream_record_policy":           "streamName",
			"record_rotation":                "1",
		})
		pub := st.Publish(t, st.Make(t, src), e.RTMP+"/roomcam?room=meeting")
		e.WaitStream("roomcam", "PUBLISHING", 10*time.Second)
		code, body := e.Post("/rest-api/stream/find_all", "")
		var list []struct {
			Name string `json:"name"`
			Room bool   `json:"room"`
		}
		if json.Unmarshal(body, &list); code != 200 || len(list) != 1 || !list[0].Room {
			t.Errorf("find_all does not show a room stream: %d %s", code, body)
		}
		if out, err := pub.Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		e.WaitGone("roomcam", 10*time.Second)
		if files := recordings(e); len(files) != 1 || files[0] != "roomcam.mp4" {
			t.Fatalf("records/ holds %v, want roomcam.mp4 alone", files)
		}
		checkRecording(t, filepath.Join(e.Records, "roomcam.mp4"), src, 44100)
	})
	t.Run("rest flag", func(t *testing.T) {
		e := st.Start(t, map[string]string{"stream_record_policy": "streamName", "record_rotation": "1"})
		pub := st.Publish(t, st.Make(t, st.Source{Seconds: 6, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/mixer")
		s := e.WaitStream("mixer", "PUBLISHING", 10*time.Second)
		if code, b := e.Post("/rest-api/stream/startRecording", `{"mediaSessionId":"`+s.MediaSessionID+`","room":true}`); code != 200 {
			t.Fatalf("startRecording: %d %s", code, b)
		}
		if out, err := pub.Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		e.WaitGone("mixer", 10*time.Second)
		files := recordings(e)
		if len(files) != 1 || files[0] != "mixer.mp4" {
			t.Fatalf("records/ holds %v, want mixer.mp4 alone", files)
		}
		p := st.ProbeFile(t, filepath.Join(e.Records, "mixer.mp4"))
		if d := p.Duration(); d < 3 {
			t.Errorf("mixer.mp4 lasts %.2f s: not the whole recording", d)
		}
	})
}
