package stream

import (
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Snapshot is a stream as the REST API, the signalling and the dashboard show it. Its JSON is
// the WCS stream object, plus a few fields of ours that WCS clients ignore.
type Snapshot struct {
	AppKey         string  `json:"appKey"`
	SessionID      string  `json:"sessionId"`
	MediaSessionID string  `json:"mediaSessionId"`
	Name           string  `json:"name"`
	Published      bool    `json:"published"`
	HasVideo       bool    `json:"hasVideo"`
	HasAudio       bool    `json:"hasAudio"`
	Status         string  `json:"status"`
	Info           *string `json:"info"`
	Record         bool    `json:"record"`
	RecordName     string  `json:"recordName,omitempty"`
	MediaProvider  string  `json:"mediaProvider"`
	AudioCodec     string  `json:"audioCodec,omitempty"`
	VideoCodec     string  `json:"videoCodec,omitempty"`

	// Ours.
	Width       int       `json:"width,omitempty"`
	Height      int       `json:"height,omitempty"`
	Bytes       int64     `json:"bytes"`
	Started     time.Time `json:"started"`
	Recording   bool      `json:"recording"`
	RecordSince time.Time `json:"recordSince,omitzero"`
	RecordError string    `json:"recordError,omitempty"`
	Room        bool      `json:"room,omitempty"`
	Login       string    `json:"login,omitempty"`
}

// Snapshot returns the stream's current state.
func (s *Stream) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		AppKey:         s.id.AppKey,
		SessionID:      s.id.SessionID,
		MediaSessionID: s.id.MediaSessionID,
		Name:           s.id.Name,
		Published:      true,
		HasVideo:       hasKind(s.tracks, media.Video),
		HasAudio:       hasKind(s.tracks, media.Audio),
		Status:         s.status,
		Record:         s.rec != nil || s.recordName != "",
		RecordName:     s.recordName,
		MediaProvider:  s.id.Provider,
		AudioCodec:     codecOf(s.tracks, media.Audio),
		VideoCodec:     codecOf(s.tracks, media.Video),
		Bytes:          s.bytes.Load(),
		Started:        s.started,
		Recording:      s.rec != nil,
		RecordError:    s.recordErr,
		Room:           s.id.Room,
		Login:          s.id.Login,
	}
	if s.info != "" {
		info := s.info
		snap.Info = &info
	}
	if s.rec != nil {
		snap.RecordSince = s.recSince
	}
	for _, t := range s.tracks {
		if t.Kind == media.Video {
			snap.Width, snap.Height = t.Width, t.Height
		}
	}
	return snap
}
