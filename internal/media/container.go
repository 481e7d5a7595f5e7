package media

import "strings"

// Container is a recording container and what it holds: one video codec, and one audio codec
// to which any other audio is transcoded. The containers, their codecs and the file each one
// writes are listed here once; internal/format adds how each is written and read back.
type Container struct {
	Name  string // "mp4", "webm": as the settings (record_formats) spell it, and the file extension
	Video Codec
	Audio Codec
	MIME  string // the type its files are served as
}

var (
	// MP4 holds H.264 and AAC; audio-only recordings are MP4 too.
	MP4 = Container{Name: "mp4", Video: H264, Audio: AAC, MIME: "video/mp4"}
	// WebM holds VP8 and Vorbis.
	WebM = Container{Name: "webm", Video: VP8, Audio: Vorbis, MIME: "video/webm"}
)

// Containers lists every recording container.
func Containers() []Container { return []Container{MP4, WebM} }

// AudioOnly is the container of a recording without video.
func AudioOnly() Container { return MP4 }

// ContainerFor gives the container that holds the video codec c.
func ContainerFor(c Codec) (Container, bool) {
	for _, k := range Containers() {
		if k.Video == c {
			return k, true
		}
	}
	return Container{}, false
}

// FormatKey is how record_formats spells a video codec: "h264", "vp8".
func FormatKey(c Codec) string { return strings.ToLower(string(c)) }

// DefaultFormats is record_formats when the settings say nothing: each container for its
// video codec, keyed by FormatKey.
func DefaultFormats() map[string]string {
	m := map[string]string{}
	for _, k := range Containers() {
		m[FormatKey(k.Video)] = k.Name
	}
	return m
}
