package admin

import (
	"time"

	"github.com/streamrec/streamrec/internal/format"
)

// MediaInfo is what the library shows of a recording file, read from its container headers
// (MP4: mvhd, tkhd, mdhd, hdlr, stsd; WebM: Info and Tracks) without reading any media.
type MediaInfo struct {
	Duration float64   `json:"duration"`          // seconds; 0 when the file does not say (never finished)
	Created  time.Time `json:"created,omitzero"`  // the container's creation time, when it has one
	Video    *Track    `json:"video,omitempty"`   // the first video track
	Audio    *Track    `json:"audio,omitempty"`   // the first audio track
	Problem  string    `json:"problem,omitempty"` // why the headers could not be read
}

// Track is one track's codec and format (media.TrackInfo, as the library sends it).
type Track struct {
	Codec      string `json:"codec"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	SampleRate int    `json:"sampleRate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
}

// Probe reads the container headers of a recording file, by the format its extension names
// (each container reads its own files, within bounds: see format.Format.Probe).
func Probe(path string) MediaInfo {
	fi, err := format.ProbeFile(path)
	info := MediaInfo{Duration: fi.Duration, Created: fi.Created, Video: (*Track)(fi.Video), Audio: (*Track)(fi.Audio)}
	if err != nil {
		info.Problem = err.Error()
	}
	return info
}
