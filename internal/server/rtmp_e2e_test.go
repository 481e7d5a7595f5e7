package server_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

var clip = st.Source{Seconds: 4, FPS: 30, GOP: 30, SampleRate: 44100}

// checkRecording judges a finished recording like a user would: codecs, sample rate, every
// frame present, duration, and a clean full decode.
func checkRecording(t *testing.T, path string, src st.Source, wantRate int) st.Probe {
	t.Helper()
	p := st.ProbeFile(t, path)
	v := p.Video(t)
	if v.CodecName != "h264" || v.Width != 320 || v.Height != 240 {
		t.Errorf("video: %+v, want h264 320x240", v)
	}
	if got := st.Count(v.Frames); got != src.Frames() {
		t.Errorf("video frames: %d, want %d (every published frame)", got, src.Frames())
	}
	a := p.Audio(t)
	if a.CodecName != "aac" || a.SampleRate != strconv.Itoa(wantRate) {
		t.Errorf("audio: %s %s Hz, want aac %d Hz", a.CodecName, a.SampleRate, wantRate)
	}
	frame := 1 / float64(src.FPS)
	if d := p.Duration(); math.Abs(d-float64(src.Seconds)) > frame+0.03 {
		t.Errorf("duration %.3f s, want %d s within one frame", d, src.Seconds)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("ffmpeg -v error reports problems decoding %s:\n%s", path, out)
	}
	return p
}

func TestRTMPRecordingNamedAfterStream(t *testing.T) {
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
	})
	src := st.Make(t, clip)
	pub := st.Publish(t, src, e.RTMP+"/stream_ffmpeg")
	e.WaitStream("stream_ffmpeg", "PUBLISHING", 10*time.Second)
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("stream_ffmpeg", 10*time.Second)
	checkRecording(t, filepath.Join(e.Records, "stream_ffmpeg.mp4"), clip, 44100)
}

func TestRTMPAudioResampledToConfiguredRate(t *testing.T) {
	for _, tc := range []struct{ src, want int }{{48000, 44100}, {44100, 48000}, {48000, 48000}, {44100, 44100}} {
		t.Run(strconv.Itoa(tc.src)+"to"+strconv.Itoa(tc.want), func(t *testing.T) {
			e := st.Start(t, map[string]string{
				"record_flash_published_streams": "true",
				"stream_record_policy":           "streamName",
				"record_audio_codec_sample_rate": strconv.Itoa(tc.want),
			})
			src := clip
			src.SampleRate = tc.src
			pub := st.Publish(t, st.Make(t, src), e.RTMP+"/s")
			if out, err := pub.Wait(30 * time.Second); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			e.WaitGone("s", 10*time.Second)
			p := checkRecording(t, filepath.Join(e.Records, "s.mp4"), src, tc.want)
			a := p.Audio(t)
			if d, _ := strconv.ParseFloat(a.Duration, 64); math.Abs(d-float64(src.Seconds)) > 0.1 {
				t.Errorf("audio lasts %.3f s, want %d s", d, src.Seconds)
			}
		})
	}
}

func TestRTMPDefaultTemplateName(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true"})
	pub := st.Publish(t, st.Make(t, clip), e.RTMP+"/cam?token=abc")
	s := e.WaitStream("cam", "PUBLISHING", 10*time.Second)
	if s.MediaProvider != "Flash" || s.VideoCodec != "H264" || len(s.MediaSessionID) != 36 {
		t.Errorf("stream object: %+v", s)
	}
	want := "stream-" + s.MediaSessionID + "-.mp4"
	if s.RecordName != want {
		t.Errorf("recordName while recording: %q, want %q", s.RecordName, want)
	}
	pub.Wait(30 * time.Second)
	e.WaitGone("cam", 10*time.Second)
	checkRecording(t, filepath.Join(e.Records, want), clip, 44100)
}

func TestRTMPNoRecordingWhenOff(t *testing.T) {
	for name, settings := range map[string]map[string]string{
		"flash off":   {},
		"streams off": {"record_streams": "false", "record_flash_published_streams": "true"},
	} {
		t.Run(name, func(t *testing.T) {
			e := st.Start(t, settings)
			pub := st.Publish(t, st.Make(t, st.Source{Seconds: 2, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/quiet")
			if s := e.WaitStream("quiet", "PUBLISHING", 10*time.Second); s.Recording {
				t.Errorf("recording although settings say no: %+v", s)
			}
			pub.Wait(30 * time.Second)
			e.WaitGone("quiet", 10*time.Second)
			if files := e.RecordFiles(); len(files) != 0 {
				t.Errorf("records/ holds %v, want nothing", files)
			}
		})
	}
}

func TestRTMPSecondPublisherRefused(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	src := st.Make(t, st.Source{Seconds: 6, FPS: 30, GOP: 30, SampleRate: 44100})
	first := st.Publish(t, src, e.RTMP+"/dup")
	e.WaitStream("dup", "PUBLISHING", 10*time.Second)
	second := st.Publish(t, src, e.RTMP+"/dup")
	out, err := second.Wait(15 * time.Second)
	if err == nil {
		t.Fatalf("second publisher of the same name was accepted")
	}
	if !strings.Contains(out, "already in use") {
		t.Errorf("ffmpeg was not told why: %s", out)
	}
	if _, err := first.Wait(30 * time.Second); err != nil {
		t.Errorf("first publisher disturbed: %v", err)
	}
	e.WaitGone("dup", 10*time.Second)
	checkRecording(t, filepath.Join(e.Records, "dup.mp4"), st.Source{Seconds: 6, FPS: 30, GOP: 30, SampleRate: 44100}, 44100)
}

func TestRTMPPublisherDropEndsRecordingCleanly(t *testing.T) {
	e := st.Start(t, map[string]string{"record_flash_published_streams": "true", "stream_record_policy": "streamName"})
	pub := st.Publish(t, st.Make(t, st.Source{Seconds: 20, FPS: 30, GOP: 30, SampleRate: 44100}), e.RTMP+"/drop")
	e.WaitStream("drop", "PUBLISHING", 10*time.Second)
	time.Sleep(3 * time.Second)
	pub.Kill()
	e.WaitGone("drop", 10*time.Second)
	path := filepath.Join(e.Records, "drop.mp4")
	p := st.ProbeFile(t, path)
	if n := st.Count(p.Video(t).Frames); n < 60 {
		t.Errorf("only %d frames recorded from ~3 s of publishing", n)
	}
	if d := p.Duration(); d < 2 || d > 5 {
		t.Errorf("duration %.2f s after ~3 s of publishing", d)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}
}

// findStream returns the stream objects /rest-api/stream/find returns for a name.
func findStream(t *testing.T, e *st.Env, name string) []st.Stream {
	code, body := e.Post("/rest-api/stream/find", `{"name":"`+name+`","published":true}`)
	if code != 200 {
		t.Fatalf("find %s: %d %s", name, code, body)
	}
	var out []st.Stream
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Publishers of other RTMP implementations than ffmpeg's: GStreamer's rtmp2sink and librtmp
// (rtmpsink; the library OBS uses), through GStreamer's Python bindings.
func TestRTMPGStreamerPublishers(t *testing.T) {
	for _, sink := range []string{"rtmp2sink", "rtmpsink"} {
		t.Run(sink, func(t *testing.T) {
			e := st.Start(t, st.BystanderSettings)
			out, err := st.Command(t, time.Minute, "/usr/bin/python3", "testdata/gst_rtmp_publish.py", sink, e.RTMP+"/gst")
			if err != nil {
				t.Fatalf("%s: %v\n%s", sink, err, out)
			}
			e.WaitGone("gst", 10*time.Second)
			p := st.ProbeFile(t, filepath.Join(e.Records, "gst.mp4"))
			if v := p.Video(t); v.CodecName != "h264" || st.Count(v.Frames) != 100 || v.Width != 320 {
				t.Errorf("video %s %dx%d, %s frames; want h264 320x240, 100 frames", v.CodecName, v.Width, v.Height, v.Frames)
			}
			if a := p.Audio(t); a.CodecName != "aac" {
				t.Errorf("audio %s, want aac", a.CodecName)
			}
			if d := p.Duration(); math.Abs(d-4) > 0.1 {
				t.Errorf("duration %.3f s, want 4 s", d)
			}
			if out := st.Decodes(t, filepath.Join(e.Records, "gst.mp4")); out != "" {
				t.Errorf("decoding: %s", out)
			}
		})
	}
}
