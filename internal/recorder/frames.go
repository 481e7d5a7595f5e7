package recorder

import "github.com/streamrec/streamrec/internal/media"

// ReleaseFrames releases one reference of each frame: the references of a GOP handed to Start
// that are not used, or of cached frames a caller decided not to record.
func ReleaseFrames(frames []media.Frame) {
	for _, f := range frames {
		f.Release()
	}
}
