package records

import "time"

// File is a finished recording file, as the recorder (or Recover) announces it.
type File struct {
	Name           string // base name inside the records folder
	Path           string // absolute path
	Part           int    // rotation part number, 0 without rotation
	Size           int64
	Duration       time.Duration
	Start, End     time.Time
	StreamName     string
	MediaSessionID string
	Codecs         string // the file's tracks: "h264,aac" (media.CodecNames); "" when recovered
	// Err is why the recording ended early with this file, "" for a clean finish: a write error
	// (a full disk) cut the file short, or kept the next part from being created. The file is
	// complete and plays, up to its last complete fragment.
	Err string
	// Recovered: the process died while writing the file, and Store.Recover finished it at the
	// next start (Err then says so); Cut is how many bytes of its torn end were cut off.
	Recovered bool
	Cut       int64
}
