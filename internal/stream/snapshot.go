package stream

import (
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Snapshot is a stream's state at one moment, for the REST API, the signalling and the
// dashboard; each shapes it for its wire (package wcs builds the WCS stream object). What a
// subscriber adds to it (a recording's file) the subscriber reports itself: Stream gives the
// way to ask it.
type Snapshot struct {
	AppKey         string
	SessionID      string
	MediaSessionID string
	Name           string
	HasVideo       bool
	HasAudio       bool
	Status         Status
	Info           string // why it failed or ended, or a warning while it plays; "" when none
	MediaProvider  string
	AudioCodec     string
	VideoCodec     string
	Width, Height  int // of the video track
	Bytes          int64
	Started        time.Time
	Room           bool
	Login          string

	stream *Stream
}

// Stream returns the stream the snapshot was taken of, to ask its subscribers for their part.
func (sn Snapshot) Stream() *Stream { return sn.stream }

// Snapshot returns the stream's current state.
func (s *Stream) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		AppKey:         s.id.AppKey,
		SessionID:      s.id.SessionID,
		MediaSessionID: s.id.MediaSessionID,
		Name:           s.id.Name,
		HasVideo:       hasKind(s.tracks, media.Video),
		HasAudio:       hasKind(s.tracks, media.Audio),
		Status:         s.status,
		Info:           s.info,
		MediaProvider:  s.id.Provider,
		AudioCodec:     CodecOf(s.tracks, media.Audio),
		VideoCodec:     CodecOf(s.tracks, media.Video),
		Bytes:          s.bytes.Load(),
		Started:        s.started,
		Room:           s.id.Room,
		Login:          s.id.Login,
		stream:         s,
	}
	for _, t := range s.tracks {
		if t.Kind == media.Video {
			snap.Width, snap.Height = t.Width, t.Height
		}
	}
	return snap
}
