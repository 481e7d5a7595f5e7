package thumb

import (
	"bytes"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMakeFromMP4 makes a thumbnail of a fragmented MP4 made by ffmpeg (as a recording is: moov,
// then moof+mdat), from a real H.264 keyframe: a JPEG 160 px wide, 4:3 as the source, whose
// picture is the source's (testsrc is not black). Both ways a fragment may say where its data
// is (relative to the moof, or a base offset) are read, and plain MP4 (moov first, or last as
// ffmpeg puts it by default: +use_metadata_tags changes nothing of the layout).
func TestMakeFromMP4(t *testing.T) {
	for _, flags := range []string{"frag_keyframe+empty_moov+default_base_moof", "frag_keyframe+empty_moov", "faststart", "+use_metadata_tags"} {
		checkThumb(t, "clip.mp4", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", flags)
	}
}

// TestMakeFromWebM: the same from a WebM with VP8 and Vorbis (as a WebRTC VP8 recording is).
func TestMakeFromWebM(t *testing.T) {
	checkThumb(t, "clip.webm", "-c:v", "libvpx", "-g", "25", "-b:v", "300k", "-c:a", "libvorbis")
}

func checkThumb(t *testing.T, name string, codecs ...string) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg (a test dependency) is not installed")
	}
	src := filepath.Join(t.TempDir(), name)
	args := append([]string{"-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
		"-f", "lavfi", "-i", "sine", "-shortest"}, codecs...)
	out, err := exec.Command("ffmpeg", append(args, src)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	b, err := Make(src, 160, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 160 || r.Dy() != 120 {
		t.Errorf("thumbnail of %v, want 160×120", r)
	}
	var sum uint32
	for x := 0; x < 160; x += 8 {
		r, g, b, _ := img.At(x, 60).RGBA()
		sum += r + g + b
	}
	if sum == 0 {
		t.Error("the thumbnail is black: nothing was decoded")
	}
}

// TestMakeAudioOnly: an audio-only recording has no picture.
func TestMakeAudioOnly(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg (a test dependency) is not installed")
	}
	src := filepath.Join(t.TempDir(), "a.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac",
		"-movflags", "frag_keyframe+empty_moov", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	if _, err := Make(src, 160, 16<<20); err != ErrNoVideo {
		t.Errorf("audio only: %v, want ErrNoVideo", err)
	}
	if _, err := Make(filepath.Join(t.TempDir(), "gone.mp4"), 160, 1<<20); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
