package media

import "time"

// FileInfo is what a finished recording file says of itself in its container headers, read
// without reading its media.
type FileInfo struct {
	Duration float64    // seconds; 0 when the file does not say (never finished)
	Created  time.Time  // the container's creation time, zero when it has none
	Video    *TrackInfo // the first video track, nil when none
	Audio    *TrackInfo // the first audio track, nil when none
}

// TrackInfo is one track of a file: its codec as the file names it ("H264", "AAC", "VP8",
// "vorbis", "opus", ...) and its format.
type TrackInfo struct {
	Codec      string
	Width      int
	Height     int
	SampleRate int
	Channels   int
}
