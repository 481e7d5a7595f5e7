package server_test

import (
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// TestRTMPNonAACAudioTranscoded publishes the sound formats FLV carries besides AAC with a real
// ffmpeg: each recording has AAC audio as long as the source's, which decodes and is not silent.
func TestRTMPNonAACAudioTranscoded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec []string
	}{
		{"mp3", []string{"-c:a", "libmp3lame", "-ar", "44100"}},
		{"mp3_22k", []string{"-c:a", "libmp3lame", "-ar", "22050"}},
		{"nellymoser", []string{"-c:a", "nellymoser"}},
		{"alaw", []string{"-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"}},
		{"mulaw", []string{"-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"}},
		{"speex", []string{"-c:a", "libspeex", "-ar", "16000", "-ac", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := st.Start(t, map[string]string{
				"record_flash_published_streams": "true",
				"stream_record_policy":           "streamName",
			})
			pub := st.Publish(t, st.Make(t, clip), e.RTMP+"/a", tc.codec...)
			if out, err := pub.Wait(30 * time.Second); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			e.WaitGone("a", 10*time.Second)
			path := filepath.Join(e.Records, "a.mp4")
			p := checkRecording(t, path, clip, 44100)
			a := p.Audio(t)
			if d, _ := strconv.ParseFloat(a.Duration, 64); math.Abs(d-float64(clip.Seconds)) > 0.2 {
				t.Errorf("audio lasts %.3f s, want %d s within 0.2 s", d, clip.Seconds)
			}
			if v := meanVolume(t, path); v < -50 {
				t.Errorf("audio mean volume %.1f dB: silent", v)
			}
		})
	}
}

var meanVolumeRE = regexp.MustCompile(`mean_volume: (-?[0-9.]+) dB`)

// meanVolume is the recording's audio mean volume as ffmpeg's volumedetect measures it.
func meanVolume(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-i", path, "-map", "0:a", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	m := meanVolumeRE.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("volumedetect: %v\n%s", err, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestRTMPUndecodableAudioRefused publishes ADPCM (FLV sound format 1), which is not recorded:
// the video records alone and the stream's info says why while it plays.
func TestRTMPUndecodableAudioRefused(t *testing.T) {
	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
	})
	src := clip
	src.Seconds = 6
	pub := st.Publish(t, st.Make(t, src), e.RTMP+"/adpcm", "-c:a", "adpcm_swf", "-ar", "44100")
	e.WaitStream("adpcm", "PUBLISHING", 10*time.Second)
	time.Sleep(time.Second)
	found := findStream(t, e, "adpcm")
	if len(found) != 1 || !strings.Contains(found[0].Info, "ADPCM") {
		t.Errorf("stream while publishing: %+v, want info naming ADPCM", found)
	}
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("adpcm", 10*time.Second)
	path := filepath.Join(e.Records, "adpcm.mp4")
	p := st.ProbeFile(t, path)
	if v := p.Video(t); v.CodecName != "h264" || st.Count(v.Frames) != src.Frames() {
		t.Errorf("video: %+v, want every h264 frame", v)
	}
	if p.Has("audio") {
		t.Errorf("the recording has audio")
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decoding %s:\n%s", path, out)
	}
	if n := len(e.LogLines("audio is not recorded")); n != 1 {
		t.Errorf("%d log lines about the audio, want 1", n)
	}
}
