package mediatest

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clip makes a 1 s MP4 of 64x48 H.264 at 10 fps and 8 kHz mono AAC.
func clip(t *testing.T) string {
	t.Helper()
	NeedFFmpeg(t)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1", path)
	return path
}

func TestCountFrames(t *testing.T) {
	p := CountFrames(t, clip(t))
	v, a := p.Video(t), p.Audio(t)
	if v.CodecName != "h264" || v.Width != 64 || v.Height != 48 || Count(v.Frames) != 10 {
		t.Errorf("video %+v; want h264 64x48, 10 frames", v)
	}
	if a.CodecName != "aac" || a.SampleRate != "8000" || a.Channels != 1 || Count(a.Frames) == 0 {
		t.Errorf("audio %+v; want aac 8000 Hz mono, some frames", a)
	}
	if d := p.Duration(); math.Abs(d-1) > 0.1 || !strings.Contains(p.Format.FormatName, "mp4") {
		t.Errorf("format %+v; want mp4 of about 1 s", p.Format)
	}
	if !p.Has("video") || p.Has("subtitle") {
		t.Errorf("Has: video %v, subtitle %v", p.Has("video"), p.Has("subtitle"))
	}
}

func TestProbeFileShowsWhatIsAsked(t *testing.T) {
	path := clip(t)
	p := ProbeFile(t, path, "-select_streams", "v", "-show_entries", "packet=codec_type,pts_time,flags")
	if len(p.Packets) != 10 || p.Packets[0].CodecType != "video" || !strings.HasPrefix(p.Packets[0].Flags, "K") {
		t.Fatalf("packets %+v; want 10 video packets, the first a keyframe", p.Packets)
	}
	p = ProbeFile(t, path, "-select_streams", "v", "-show_entries", "frame=pts_time,key_frame")
	if len(p.Frames) != 10 || p.Frames[0].KeyFrame != 1 || Seconds(p.Frames[9].PtsTime) < 0.85 {
		t.Errorf("frames %+v; want 10, the first a keyframe, the last near 0.9 s", p.Frames)
	}
}

func TestDecodeErrors(t *testing.T) {
	path := clip(t)
	if msg := DecodeErrors(t, path); msg != "" {
		t.Errorf("clean clip: %q", msg)
	}
	if msg := DecodeErrors(t, path, "-ss", "0.5"); msg != "" {
		t.Errorf("clean clip from 0.5 s: %q", msg)
	}
	if msg := DecodeErrors(t, filepath.Join(t.TempDir(), "missing.mp4")); !strings.HasPrefix(msg, "ffmpeg failed") {
		t.Errorf("missing file: %q; want ffmpeg's failure", msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(t.TempDir(), "torn.mp4")
	if err := os.WriteFile(torn, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := DecodeErrors(t, torn); msg == "" {
		t.Error("a file cut at two thirds decodes without a word")
	}
}

func TestSecondsAndCount(t *testing.T) {
	if Seconds("1.500000") != 1.5 || Seconds("N/A") != -1 || Seconds("") != -1 {
		t.Errorf("Seconds: %v %v %v", Seconds("1.500000"), Seconds("N/A"), Seconds(""))
	}
	if Count("42") != 42 || Count("N/A") != 0 {
		t.Errorf("Count: %v %v", Count("42"), Count("N/A"))
	}
}
