package recorder

import (
	"sync/atomic"
	"time"
)

// Stats are the running totals of every recorder of a server, for its metrics. The recorders
// add to them once per batch (not per frame), so hundreds of recordings do not contend on them.
// A nil *Stats counts nothing. Safe for concurrent use.
type Stats struct {
	frames    atomic.Uint64 // frames handed to a container
	dropped   atomic.Uint64 // frames dropped because a recorder's queue was full
	bytes     atomic.Uint64 // bytes the recording files grew by
	transcode atomic.Int64  // nanoseconds of CPU time the audio transcoders took
}

// Totals is a reading of Stats.
type Totals struct {
	Frames    uint64        // frames written to recording files
	Dropped   uint64        // frames dropped because the recorder could not keep up (disk too slow)
	Bytes     uint64        // bytes written to recording files
	Transcode time.Duration // CPU time spent transcoding audio (decoding, resampling, encoding)
}

// Totals returns the totals so far.
func (s *Stats) Totals() Totals {
	if s == nil {
		return Totals{}
	}
	return Totals{Frames: s.frames.Load(), Dropped: s.dropped.Load(), Bytes: s.bytes.Load(),
		Transcode: time.Duration(s.transcode.Load())}
}

func (s *Stats) drop() {
	if s != nil {
		s.dropped.Add(1)
	}
}

// tally is what one recorder's goroutine counted since it last added to Stats.
type tally struct {
	frames    uint64
	bytes     uint64
	transcode time.Duration
}

// flushTo adds the tally to s and empties it.
func (t *tally) flushTo(s *Stats) {
	if s == nil || *t == (tally{}) {
		*t = tally{}
		return
	}
	s.frames.Add(t.frames)
	s.bytes.Add(t.bytes)
	s.transcode.Add(int64(t.transcode))
	*t = tally{}
}
