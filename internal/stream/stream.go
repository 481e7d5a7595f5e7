package stream

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Status is where a stream is in its life: PENDING → PUBLISHING → UNPUBLISHED or FAILED.
// String names it for logs and error messages; how a protocol spells it on the wire is that
// protocol's business (see package wcs).
type Status uint8

const (
	StatusPending     Status = iota // created; its tracks are not known yet
	StatusPublishing                // tracks known, frames flow to the subscribers
	StatusUnpublished               // ended by the publisher, the server or an operator
	StatusFailed                    // ended by an error
)

func (st Status) String() string {
	switch st {
	case StatusPending:
		return "PENDING"
	case StatusPublishing:
		return "PUBLISHING"
	case StatusUnpublished:
		return "UNPUBLISHED"
	case StatusFailed:
		return "FAILED"
	}
	return fmt.Sprintf("status(%d)", uint8(st))
}

// Ended tells whether the stream is over (UNPUBLISHED or FAILED).
func (st Status) Ended() bool { return st == StatusUnpublished || st == StatusFailed }

// Identity is who published a stream and how.
type Identity struct {
	Name           string
	MediaSessionID string // a UUID; chosen by the WebRTC client, generated for RTMP and RTSP
	SessionID      string // the connection, WCS style: "/remote:port/local:port"
	Provider       string // ProviderRTMP, ProviderWebRTC or ProviderRTSP
	AppKey         string
	Login          string
	// Record is the publisher's own wish (the SDK's record flag); RTMP and RTSP streams follow the settings.
	Record bool
	// Room marks a stream published in a conference room: never rotated.
	Room bool
}

// Subscriber consumes a stream's media: recording is one, an upload or a thumbnailer would be
// another. The stream calls Tracks and Frame under its lock, one call at a time and in the
// order it accepted them, so they must not block (no disk, no network) and must not call back
// into the Stream; a subscriber that needs time queues the work.
type Subscriber interface {
	// Tracks gives the stream's tracks: first when it starts publishing, then each time a
	// publisher changes a track's parameters (before the frame that carries them). The slice
	// is the subscriber's to keep: the stream never modifies it.
	Tracks(tracks []media.Track, published bool)
	// Frame is one frame. A pooled frame stays the stream's: a subscriber that keeps it takes
	// a reference of its own (media.Frame.Retain).
	Frame(f media.Frame)
	// Ended is called, outside the stream's lock, when the stream ends, before its final
	// status is set and announced: a subscriber finishes its work here (recording closes its
	// file, so the UNPUBLISHED event names a complete one). No frame follows.
	Ended()
}

// Stream is one published stream: its identity, status and tracks, and the subscribers its
// frames fan out to.
type Stream struct {
	id  Identity
	reg *Registry
	log *slog.Logger

	bytes    atomic.Int64 // media bytes received, for the dashboard's bitrate
	started  time.Time
	keyframe atomic.Pointer[func()] // asks the publisher for a video keyframe; nil when it cannot

	mu     sync.Mutex
	status Status
	ending bool   // Ended is being delivered: frames stop
	info   string // why it FAILED or ended, or a warning while it plays (Note)
	tracks []media.Track
	subs   []Subscriber
}

func newStream(r *Registry, id Identity) *Stream {
	return &Stream{
		id:      id,
		reg:     r,
		status:  StatusPending,
		started: time.Now(),
		log:     r.cfg.Log.With("stream", id.Name, "mediaSessionId", id.MediaSessionID, "provider", id.Provider),
	}
}

// ID returns the stream's identity.
func (s *Stream) ID() Identity { return s.id }

// Log returns a logger carrying the stream's name and mediaSessionId.
func (s *Stream) Log() *slog.Logger { return s.log }

// Bytes returns how many media bytes the stream received so far.
func (s *Stream) Bytes() int64 { return s.bytes.Load() }

// Status returns the stream's current status.
func (s *Stream) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// AddSubscriber makes sub receive the stream's tracks and frames from now on. The registry's
// Config.Attach adds a stream's subscribers before anyone can publish on it.
func (s *Stream) AddSubscriber(sub Subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, sub)
	if s.status == StatusPublishing {
		sub.Tracks(s.tracks, true)
	}
}

// Subscribers returns the stream's subscribers, for a caller looking for one of its own kind.
func (s *Stream) Subscribers() []Subscriber {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Subscriber(nil), s.subs...)
}

// Changed announces the stream's current snapshot to the registry's watchers: a subscriber
// whose state shows in it (a recording that stopped) calls it.
func (s *Stream) Changed() { s.reg.notify(s.Snapshot()) }

// Publish sets the stream's tracks and moves it to PUBLISHING; the subscribers get the tracks
// (a recording the settings ask for starts) before the change is announced.
func (s *Stream) Publish(tracks []media.Track) {
	s.mu.Lock()
	if s.status != StatusPending {
		s.mu.Unlock()
		return
	}
	s.tracks = append([]media.Track(nil), tracks...)
	s.status = StatusPublishing
	s.log.Info("publishing", "tracks", fmt.Sprint(tracks))
	for _, sub := range s.subs {
		sub.Tracks(s.tracks, true)
	}
	s.mu.Unlock()
	s.Changed()
}

// WriteFrame passes one frame to each subscriber. Frames come from the ingest stage (package
// ingest): in DTS order, with sane timestamps. It never blocks on disk. A pooled frame stays the
// caller's: subscribers take references of their own.
func (s *Stream) WriteFrame(f media.Frame) {
	s.bytes.Add(int64(len(f.Data)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != StatusPublishing || s.ending || f.Track < 0 || f.Track >= len(s.tracks) {
		return
	}
	if f.Params != nil {
		s.setTrack(f.Track, *f.Params)
	}
	for _, sub := range s.subs {
		sub.Frame(f)
	}
}

// setTrack replaces a track's description (the publisher changed its parameters), for
// snapshots and subscribers. The slice is copied: subscribers may still hold the old one.
// Caller holds s.mu.
func (s *Stream) setTrack(i int, t media.Track) {
	s.tracks = append([]media.Track(nil), s.tracks...)
	s.tracks[i] = t
	for _, sub := range s.subs {
		sub.Tracks(s.tracks, false)
	}
}

// Unpublish ends the stream: its subscribers finish first (a recording closes its file), so
// the UNPUBLISHED event names a complete file.
func (s *Stream) Unpublish() { s.end(StatusUnpublished, "") }

// UnpublishBecause is Unpublish for a publication the server ended, with the reason in the
// stream's info (an idle publisher, a protocol violation).
func (s *Stream) UnpublishBecause(info string) { s.end(StatusUnpublished, info) }

// Fail ends the stream with status FAILED and the reason.
func (s *Stream) Fail(reason string) { s.end(StatusFailed, reason) }

// Note puts a warning about a live publication in the stream's info (audio that cannot be
// recorded, say), for the dashboard and the REST API; a reason the stream ends replaces it.
func (s *Stream) Note(info string) {
	s.mu.Lock()
	s.info = info
	live := s.status == StatusPublishing // a pending stream shows it when it publishes
	s.mu.Unlock()
	if live {
		s.Changed()
	}
}

func (s *Stream) end(status Status, info string) {
	s.mu.Lock()
	if s.status.Ended() {
		s.mu.Unlock()
		return
	}
	first := !s.ending
	s.ending = true
	subs := s.subs
	s.mu.Unlock()
	if first {
		for _, sub := range subs {
			sub.Ended()
		}
	}
	s.mu.Lock()
	s.status = status
	if info != "" || status == StatusFailed {
		s.info = info
	}
	s.mu.Unlock()
	s.reg.remove(s)
	s.log.Info("stream ended", "status", status, "info", info)
	s.Changed()
}

func hasKind(tracks []media.Track, k media.Kind) bool {
	return CodecOf(tracks, k) != ""
}

// CodecOf returns the codec of the first track of kind k, "" when there is none.
func CodecOf(tracks []media.Track, k media.Kind) string {
	for _, t := range tracks {
		if t.Kind == k {
			return string(t.Codec)
		}
	}
	return ""
}
