package format

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamrec/streamrec/internal/media"
)

// Every container of media.Containers has its format, found by its video codec and by its
// extension, and the table holds nothing else.
func TestTableCoversContainers(t *testing.T) {
	if len(formats) != len(media.Containers()) {
		t.Fatalf("%d formats for %d containers", len(formats), len(media.Containers()))
	}
	for _, c := range media.Containers() {
		f, ok := ForVideo(c.Video)
		if !ok || f.Container != c || f.create == nil || f.recover == nil || f.probe == nil {
			t.Errorf("ForVideo(%s): %+v, %v", c.Video, f.Container, ok)
		}
		for _, ext := range []string{c.Name, "." + c.Name, "." + strings.ToUpper(c.Name)} {
			if f, ok := ForExt(ext); !ok || f.Container != c {
				t.Errorf("ForExt(%q): %+v, %v", ext, f.Container, ok)
			}
		}
	}
	if f := AudioOnly(); f.Container != media.MP4 {
		t.Errorf("audio-only recordings go to %s, want mp4", f.Name)
	}
	for _, c := range []media.Codec{media.Opus, "H265", ""} {
		if f, ok := ForVideo(c); ok {
			t.Errorf("ForVideo(%q) gave %s", c, f.Name)
		}
	}
	if _, ok := ForExt("mkv"); ok {
		t.Error("ForExt(mkv) found a format")
	}
}

// ProbeFile reads a file by the format its extension names.
func TestProbeFile(t *testing.T) {
	for _, tc := range []struct{ path, video, audio string }{
		{"../mp4/testdata/probe/moov-at-end.mp4", "H264", "AAC"},
		{"../webm/testdata/probe/recording.webm", "VP8", "vorbis"},
	} {
		info, err := ProbeFile(tc.path)
		if err != nil || info.Video == nil || info.Audio == nil || info.Duration <= 0 {
			t.Fatalf("%s: %+v, %v", tc.path, info, err)
		}
		if info.Video.Codec != tc.video || info.Audio.Codec != tc.audio {
			t.Errorf("%s: video %s, audio %s", tc.path, info.Video.Codec, info.Audio.Codec)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk.txt")
	if err := os.WriteFile(junk, []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ProbeFile(junk); !errors.Is(err, ErrNotRecording) {
		t.Errorf("a .txt file: %v", err)
	}
}
