// Package ingest is the one stage every ingest (RTMP, RTSP, WebRTC) writes its frames to once
// it has mapped its protocol to tracks and frames. What the stage hands its Sink (the stream)
// is clean, whatever the publisher sent:
//
//   - nothing before the ingest has said which tracks there are (Publish), and, with video,
//     nothing before the first video keyframe: the output begins at that keyframe, audio older
//     than it is dropped;
//   - audio placed against video by the sender's RTCP sender reports when the ingest has them
//     (Sync), else by arrival;
//   - timestamps that never go back within a track (frames going back are dropped, logged
//     once per track) and that never jump ahead of the wall clock (see Timeline);
//   - frames of all tracks in DTS order (video first on equal DTS). The order is exact as long
//     as no track stalls: a frame waits for the other track's at most InterleaveWait, and at
//     most Limits.Frames frames wait, so a track that goes quiet delays the other only that
//     much. A frame released by that bound may be newer than a frame of the other track that
//     comes later; each track's own order still holds.
//
// Everything the stage holds is bounded (Limits, SyncWait, InterleaveWait). Pooled frames
// (media.Buffer) follow the media package's rules: the stage retains what it keeps and
// releases it once handed on or dropped; the caller keeps its own reference.
package ingest

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Sink is what the stage feeds: a *stream.Stream.
type Sink interface {
	Publish(tracks []media.Track)
	WriteFrame(f media.Frame)
}

// InterleaveWait bounds how long a frame waits for the other track's frames to be released in
// timestamp order: a track that stalls holds the other back at most this long.
const InterleaveWait = 400 * time.Millisecond

// Limits bound the frames the stage holds before its output begins, and the frames waiting to
// be interleaved after. A zero field takes the default: 1000 frames, 32 MB, 5 s.
//
// Before the ingest has published its tracks, Full tells it that a limit is reached (RTMP then
// goes with the tracks it has). While the output waits for its tracks or its first keyframe,
// the oldest frames are dropped beyond a limit (audio sent long before the first keyframe).
// While it waits for sender reports, reaching Frames or Bytes ends the wait (the tracks are
// then aligned by arrival). After it began, more than Frames waiting frames release the oldest.
type Limits struct {
	Frames int           // frames held
	Bytes  int           // their payload bytes
	Media  time.Duration // media time from the oldest held frame to the newest
}

// defaultLimits fill the fields an ingest leaves zero.
var defaultLimits = Limits{Frames: 1000, Bytes: 32 << 20, Media: 5 * time.Second}

// Config is how one ingest uses the stage.
type Config struct {
	Limits Limits
	// SyncWait: with audio and video, the output waits up to this long from the first keyframe
	// for sender reports of both tracks (Sync), so the recording is in sync from its first
	// frame; without them by then, arrival times align the tracks. 0: no wait (RTMP, whose
	// timestamps share one clock).
	SyncWait time.Duration
	// Resync: once aligned, audio moves against video again when sender reports disagree with
	// the current alignment by more than this (clock drift). 0: the tracks are aligned once,
	// when the output begins, and later reports are ignored.
	Resync time.Duration
	// MaxOffset: an alignment moving audio by more than this means a broken sender clock:
	// arrival times are kept. 0: no bound.
	MaxOffset time.Duration
	// Timer: frames waiting for the other track are released by a timer once they waited
	// InterleaveWait, not only when a frame arrives or at Tick. An ingest that does not call
	// Tick sets it: else the last frames of a publisher that stops sending but stays published
	// (or of a track that went quiet with the other) would wait until the next frame or Flush,
	// and a recording stopped meanwhile would miss them.
	Timer bool
}

// Stage cleans and orders one publication's frames. It is safe for concurrent use; its Sink
// is called with the stage's lock held, so frames reach it one at a time, in order.
type Stage struct {
	sink Sink
	log  *slog.Logger
	cfg  Config

	mu        sync.Mutex
	tracks    [2]track             // by media.Kind
	published bool                 // Publish or PublishAtStart was called
	started   bool                 // the output began
	readyAt   time.Time            // when the output could first begin: the sync wait runs from here
	describe  func() []media.Track // PublishAtStart: describes the tracks when the output begins
	held      []arrival            // before the output begins, in arrival order
	heldBytes int
	queued    int // frames in the tracks' queues
	timeline  Timeline
	align     alignment
	wake      *time.Timer // Config.Timer: armed while frames wait for the other track
	wakeDue   time.Time   // when wake fires; zero when it is not armed (set only with wake)
}

// track is one published track: its index, its timestamps so far and its waiting frames.
type track struct {
	on     bool
	kind   media.Kind
	index  int
	seen   bool
	last   time.Duration // DTS of the newest frame accepted
	warned bool          // a frame going back was logged
	queue  []arrival
}

// arrival is a frame and when it arrived.
type arrival struct {
	kind media.Kind
	f    media.Frame
	at   time.Time
}

// New returns a stage feeding sink; log carries the stream's name.
func New(sink Sink, log *slog.Logger, cfg Config) *Stage {
	l, d := &cfg.Limits, defaultLimits
	if l.Frames <= 0 {
		l.Frames = d.Frames
	}
	if l.Bytes <= 0 {
		l.Bytes = d.Bytes
	}
	if l.Media <= 0 {
		l.Media = d.Media
	}
	return &Stage{sink: sink, log: log, cfg: cfg}
}

// Publish declares the publication's tracks, at most one video and one audio (the ingest
// knows them: from its metadata, sequence headers or first keyframe) and publishes them to the
// sink. Later calls, and PublishAtStart after it, are ignored. now is the time of the call.
func (s *Stage) Publish(tracks []media.Track, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declare(tracks) {
		s.sink.Publish(tracks)
		s.tryStart(now)
	}
}

// PublishAtStart is Publish for an ingest whose track descriptions are final only when the
// output begins (RTSP: the parameter sets the frames held meanwhile carried in-band). tracks
// says which tracks there are; describe, called with the stage's lock held when the output
// begins, returns their descriptions for the sink.
func (s *Stage) PublishAtStart(tracks []media.Track, describe func() []media.Track, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declare(tracks) {
		s.describe = describe
		s.tryStart(now)
	}
}

// declare notes the tracks' kinds and indices, once. Caller holds s.mu.
func (s *Stage) declare(tracks []media.Track) bool {
	if s.published {
		return false
	}
	for i, t := range tracks {
		if t.Kind == media.Video || t.Kind == media.Audio {
			s.tracks[t.Kind] = track{on: true, kind: t.Kind, index: i}
		}
	}
	s.published = true
	s.dropLeadingVideo()
	return true
}

// Full tells whether the frames held reached a limit: an ingest still deciding its tracks
// should publish what it has.
func (s *Stage) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.cfg.Limits
	return len(s.held) >= l.Frames || s.heldBytes >= l.Bytes || s.heldSpan() >= l.Media
}

// Write takes a frame of the track of that kind (its Track field is set by the stage),
// arrived at now. The caller keeps its reference to a pooled frame.
func (s *Stage) Write(kind media.Kind, f media.Frame, now time.Time) {
	if kind != media.Video && kind != media.Audio {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.published && !s.tracks[kind].on {
		return // a track that was not published
	}
	if !s.started {
		s.hold(arrival{kind, f, now})
		return
	}
	f.Retain()
	s.enter(arrival{kind, f, now})
	s.release(now, false)
}

// Tick releases frames that waited long enough and ends the sync wait when it is over; an
// ingest calls it periodically (without it, that happens as frames arrive).
func (s *Stage) Tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.tryStart(now)
	}
	if s.started {
		s.release(now, false)
	}
}

// Flush hands every waiting frame on: the publication is ending. Frames held before the
// output could begin (no tracks, no keyframe) are dropped.
func (s *Stage) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if !s.started && s.published && s.keyed() {
		s.start(now)
	}
	if !s.started {
		for _, a := range s.held {
			a.f.Release()
		}
		s.held, s.heldBytes = nil, 0
		return
	}
	s.release(now, true) // and stops the timer: nothing waits
}

// hold keeps a frame until the output begins. Caller holds s.mu.
func (s *Stage) hold(a arrival) {
	if a.kind == media.Video && !a.f.Key && !s.hasKey() {
		return // undecodable: the output begins at a keyframe
	}
	a.f.Retain()
	s.held = append(s.held, a)
	s.heldBytes += len(a.f.Data)
	s.tryStart(a.at)
	if !s.started && (!s.published || !s.keyed()) {
		s.trim()
	}
}

// hasKey tells whether a video keyframe is held. Caller holds s.mu.
func (s *Stage) hasKey() bool {
	for _, a := range s.held {
		if a.kind == media.Video && a.f.Key {
			return true
		}
	}
	return false
}

// keyed tells whether the output can begin: the stream has no video, or its keyframe is held.
func (s *Stage) keyed() bool {
	return !s.tracks[media.Video].on || s.hasKey()
}

// heldSpan is the media time from the oldest held frame to the newest. Caller holds s.mu.
func (s *Stage) heldSpan() time.Duration {
	if len(s.held) == 0 {
		return 0
	}
	return s.held[len(s.held)-1].f.DTS - s.held[0].f.DTS
}

// trim drops the oldest held frames beyond the limits, and video that no longer follows a
// held keyframe. Caller holds s.mu.
func (s *Stage) trim() {
	l := s.cfg.Limits
	n := 0
	for len(s.held)-n > 1 && (len(s.held)-n > l.Frames || s.heldBytes > l.Bytes ||
		s.held[len(s.held)-1].f.DTS-s.held[n].f.DTS > l.Media) {
		s.heldBytes -= len(s.held[n].f.Data)
		s.held[n].f.Release()
		n++
	}
	if n == 0 {
		return
	}
	s.held = append(s.held[:0], s.held[n:]...)
	s.dropLeadingVideo()
}

// dropLeadingVideo drops held video before the first held keyframe, and held frames of tracks
// that were not published. Caller holds s.mu.
func (s *Stage) dropLeadingVideo() {
	key := false
	out := s.held[:0]
	for _, a := range s.held {
		key = key || (a.kind == media.Video && a.f.Key)
		if (a.kind == media.Video && !key) || (s.published && !s.tracks[a.kind].on) {
			s.heldBytes -= len(a.f.Data)
			a.f.Release()
			continue
		}
		out = append(out, a)
	}
	clear(s.held[len(out):])
	s.held = out
}

// tryStart begins the output once it can: published, keyed, and the tracks aligned or the
// wait for sender reports over. Caller holds s.mu.
func (s *Stage) tryStart(now time.Time) {
	if s.started || !s.published || !s.keyed() {
		return
	}
	if s.readyAt.IsZero() {
		s.readyAt = now
	}
	l := s.cfg.Limits
	waiting := s.tracks[media.Video].on && s.tracks[media.Audio].on && s.cfg.SyncWait > 0 &&
		!s.align.ready(s.cfg) && now.Sub(s.readyAt) < s.cfg.SyncWait &&
		len(s.held) < l.Frames && s.heldBytes < l.Bytes
	if !waiting {
		s.start(now)
	}
}

// start begins the output: the held frames enter the tracks' queues, from the first keyframe
// on. Caller holds s.mu.
func (s *Stage) start(now time.Time) {
	s.started = true
	if s.describe != nil {
		s.sink.Publish(s.describe())
		s.describe = nil
	}
	if s.tracks[media.Video].on && s.tracks[media.Audio].on {
		s.align.begin(s.cfg, s.log)
	}
	held := s.held
	s.held, s.heldBytes = nil, 0
	for _, a := range held {
		s.enter(a)
	}
	if v := &s.tracks[media.Video]; v.on && len(v.queue) > 0 {
		s.dropBefore(&s.tracks[media.Audio], v.queue[0].f.DTS)
	}
	s.release(now, false)
}

// dropBefore drops the frames of t's queue older than dts: audio before the first keyframe.
func (s *Stage) dropBefore(t *track, dts time.Duration) {
	n := 0
	for n < len(t.queue) && t.queue[n].f.DTS < dts {
		t.queue[n].f.Release()
		n++
	}
	t.queue = append(t.queue[:0], t.queue[n:]...)
	s.queued -= n
}

// enter places a frame (with the stage's reference) on the stream's timeline and queues it:
// aligned, re-anchored after a jump, dropped when it goes back. Caller holds s.mu.
func (s *Stage) enter(a arrival) {
	t := &s.tracks[a.kind]
	if !t.on {
		a.f.Release()
		return
	}
	a.f.Track = t.index
	if a.kind == media.Audio {
		a.f.DTS += s.align.offset
		a.f.PTS += s.align.offset
	}
	f, cut := s.timeline.Fix(a.f, a.at)
	if cut != 0 && s.timeline.Jumps == 1 {
		s.log.Warn("timestamps jumped ahead of the wall clock: re-anchored to it (logged once per stream)",
			"track", f.Track, "kind", a.kind, "jump", cut.Round(time.Millisecond).String())
	}
	if t.seen && f.DTS < t.last {
		if !t.warned {
			t.warned = true
			s.log.Warn("timestamps went backwards; frames dropped", "kind", a.kind, "err", fmt.Errorf("%v after %v", f.DTS, t.last))
		}
		f.Release()
		return
	}
	t.seen, t.last = true, f.DTS
	a.f = f
	t.queue = append(t.queue, a)
	s.queued++
}

// wakeAt arms the Config.Timer for due, when the frame at the head of the queues will have
// waited InterleaveWait: the frames waiting are all of one track (the other has none), so the
// head is the earliest due. The timer is moved (not fired) as the head changes, and fires only
// for a frame that really waited. Caller holds s.mu.
func (s *Stage) wakeAt(due, now time.Time) {
	if !s.cfg.Timer || s.wakeDue.Equal(due) {
		return
	}
	if s.wake == nil {
		s.wake = time.AfterFunc(due.Sub(now), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.wakeDue = time.Time{}
			s.release(time.Now(), false)
		})
	} else {
		s.wake.Reset(due.Sub(now))
	}
	s.wakeDue = due
}

// stopWake stops the Config.Timer once nothing waits: a timer firing for nothing wakes the
// process. Caller holds s.mu.
func (s *Stage) stopWake() {
	if !s.wakeDue.IsZero() { // armed, so s.wake is set
		s.wake.Stop()
		s.wakeDue = time.Time{}
	}
}

// release hands queued frames to the sink in DTS order: the earliest head of the tracks'
// queues, as long as every track has a frame waiting, or the frame waited InterleaveWait, or
// too many wait. all releases everything. Caller holds s.mu.
func (s *Stage) release(now time.Time, all bool) {
	for {
		var next *track
		blocked := false
		for k := range s.tracks {
			t := &s.tracks[k]
			switch {
			case !t.on:
			case len(t.queue) == 0:
				blocked = true
			case next == nil || t.queue[0].f.DTS < next.queue[0].f.DTS:
				next = t
			}
		}
		if next == nil {
			s.stopWake()
			return
		}
		a := next.queue[0]
		if blocked && !all && now.Sub(a.at) < InterleaveWait && s.queued <= s.cfg.Limits.Frames {
			s.wakeAt(a.at.Add(InterleaveWait), now)
			return
		}
		next.queue[0] = arrival{}
		next.queue = next.queue[1:]
		s.queued--
		s.sink.WriteFrame(a.f)
		a.f.Release()
	}
}
