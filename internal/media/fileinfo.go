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

// Recovered tells what a container's Recover did to a file the process died writing.
type Recovered struct {
	Duration time.Duration // media the file holds after the repair
	Size     int64         // file length after the repair
	Cut      int64         // bytes cut off its torn end: the fragment or cluster the crash left (0 if none)
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
