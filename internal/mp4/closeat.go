package mp4

import "time"

// CloseAt finishes the file like Close, but makes every track end at end (a time from the
// origin, as WriteFrame's timestamps): the newest sample of each track lasts until end, shorter
// than a whole frame where it reaches past it, so the track and movie durations are exactly end.
//
// A rotating recorder closes a part with the time of the keyframe the next part begins on. The
// part's last audio frame usually reaches a few milliseconds past that keyframe (audio and video
// frames are not aligned), and the next part's audio begins where that frame ends; with the
// part's duration fixed at the cut, players and ffmpeg's concat demuxer place the next part at
// the cut and both tracks continue without a gap or an overlap. A sample that begins at or after
// end keeps Close's duration.
func (w *Writer) CloseAt(end time.Duration) error {
	w.mu.Lock()
	if !w.closed && w.err == nil && end > 0 {
		for i := range w.tracks {
			t := &w.tracks[i]
			if !t.hasHeld {
				continue
			}
			if d := toTicks(end, t.timescale) - t.held.dt - int64(t.held.cto); d > 0 {
				t.held.dur = clampUint32(d)
				w.complete(t)
			}
		}
	}
	w.mu.Unlock()
	return w.Close()
}
