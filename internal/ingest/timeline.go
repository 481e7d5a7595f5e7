package ingest

import (
	"math"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// MaxJump is how far a frame's timestamp may run beyond what the stream's frames so far and
// the wall clock justify (see Timeline) before the timeline re-anchors its track.
const MaxJump = time.Second

// shareWindow is how long after one track's jump another track's jump of about the same size
// is taken for the same event (an encoder restart shows on both tracks, a few frames apart).
const shareWindow = 2 * time.Second

// Timeline keeps a stream's timestamps within what the wall clock allows. Timestamps come from
// the publisher: a hostile or broken one can make them jump hours ahead, and every second of
// media time costs the recorder (silence encoded to fill an audio gap, a file hours long).
//
// A frame is justified up to where the stream was by its newest frame (any track) plus the
// wall-clock time since that frame arrived, or where its own track's previous frame was plus
// the time since that one arrived, whichever is later. A frame more than MaxJump beyond that is
// a jump: it is placed where it is justified, and the track's later timestamps are shifted by
// the same amount. Measuring against the stream's newest frame keeps a re-anchored track with
// the other one even when the publisher runs ahead of the wall clock (an initial burst).
//
// Only such jumps are touched. A publisher sending faster than real time (a file sent without
// -re, an RTMP GOP burst at start) has small gaps between frames however early they arrive,
// and keeps its timestamps.
//
// Each track has its own shift, so a jump on one track never moves the other's frames (which
// would push them behind their predecessors, and the containers would drop them). When both
// tracks jump by about the same amount a few frames apart (an encoder restart), the second
// track takes the first one's shift, so the two stay exactly in sync. A track's first frame is
// held to the stream's newest frame the same way, so a track cannot begin hours ahead.
//
// The Stage applies it to every frame as it arrives; it is not safe for concurrent use.
type Timeline struct {
	tracks []trackClock
	newest struct { // the stream's newest frame, any track
		seen bool
		out  time.Duration
		at   time.Time
	}
	last jump // the latest re-anchoring
	// Jumps counts the re-anchorings so far.
	Jumps int
}

// trackClock is where a track's last frame was and when it came.
type trackClock struct {
	seen  bool
	dts   time.Duration // the publisher's DTS
	at    time.Time
	shift time.Duration // added to the track's timestamps
}

// jump is one re-anchoring: the time removed from a track's timeline, and when.
type jump struct {
	track int
	cut   time.Duration
	at    time.Time
}

// Fix returns frame f, arrived at now, on the stream's corrected timeline, and the size of the
// jump removed before it (0 when there was none).
func (t *Timeline) Fix(f media.Frame, now time.Time) (media.Frame, time.Duration) {
	for len(t.tracks) <= f.Track {
		t.tracks = append(t.tracks, trackClock{})
	}
	c := &t.tracks[f.Track]
	var cut time.Duration
	if t.newest.seen {
		justified := t.newest.out + now.Sub(t.newest.at)
		maxCut := time.Duration(math.MaxInt64) // a track's first frame has no predecessor
		if c.seen {
			justified = max(justified, c.dts+c.shift+now.Sub(c.at))
			maxCut = f.DTS - c.dts // more would put the frame before its predecessor
		}
		if excess := f.DTS + c.shift - justified; excess > MaxJump {
			cut = t.shared(f.Track, maxCut, excess, now)
		}
	}
	if cut != 0 {
		c.shift -= cut
		t.last = jump{track: f.Track, cut: cut, at: now}
		t.Jumps++
	}
	c.seen, c.dts, c.at = true, f.DTS, now
	f.DTS += c.shift
	f.PTS += c.shift
	if !t.newest.seen || f.DTS > t.newest.out {
		t.newest.seen, t.newest.out, t.newest.at = true, f.DTS, now
	}
	return f, cut
}

// shared returns the time to cut from a track whose frame is excess beyond what is justified:
// the cut another track took just before for a jump of about the same size (the same event,
// seen on both tracks), else excess.
func (t *Timeline) shared(track int, maxCut, excess time.Duration, now time.Time) time.Duration {
	j := t.last
	if j.cut == 0 || j.track == track || now.Sub(j.at) > shareWindow {
		return excess
	}
	if d := j.cut - excess; d < -MaxJump || d > MaxJump || j.cut > maxCut {
		return excess // another event, or it would put this frame before its predecessor
	}
	return j.cut
}
