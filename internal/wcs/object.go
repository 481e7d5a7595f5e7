package wcs

import (
	"time"

	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
)

// statusNames are the stream statuses as WCS spells them.
var statusNames = map[stream.Status]string{
	stream.StatusPending:     "PENDING",
	stream.StatusPublishing:  "PUBLISHING",
	stream.StatusUnpublished: "UNPUBLISHED",
	stream.StatusFailed:      "FAILED",
}

// StatusName returns a stream status as WCS names it.
func StatusName(s stream.Status) string { return statusNames[s] }

// Stream is the WCS stream object, as the REST API, the signalling's status events and the
// dashboard send it, plus a few fields of ours that WCS clients ignore.
type Stream struct {
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
	NotRecorded string    `json:"notRecorded,omitempty"` // why the settings did not record it
	Room        bool      `json:"room,omitempty"`
	Login       string    `json:"login,omitempty"`
}

// StreamOf returns the WCS stream object of a snapshot, with its recording's state.
func StreamOf(snap stream.Snapshot) Stream {
	rec := recording.StateOf(snap)
	out := Stream{
		AppKey:         snap.AppKey,
		SessionID:      snap.SessionID,
		MediaSessionID: snap.MediaSessionID,
		Name:           snap.Name,
		Published:      true,
		HasVideo:       snap.HasVideo,
		HasAudio:       snap.HasAudio,
		Status:         StatusName(snap.Status),
		Record:         rec.Recording || rec.Name != "",
		RecordName:     rec.Name,
		MediaProvider:  snap.MediaProvider,
		AudioCodec:     snap.AudioCodec,
		VideoCodec:     snap.VideoCodec,
		Width:          snap.Width,
		Height:         snap.Height,
		Bytes:          snap.Bytes,
		Started:        snap.Started,
		Recording:      rec.Recording,
		RecordSince:    rec.Since,
		RecordError:    rec.Err,
		NotRecorded:    rec.NotRecorded,
		Room:           snap.Room,
		Login:          snap.Login,
	}
	if snap.Info != "" {
		info := snap.Info
		out.Info = &info
	}
	return out
}

// Streams returns the WCS stream objects of a list of snapshots, in its order.
func Streams(list []stream.Snapshot) []Stream {
	out := make([]Stream, len(list))
	for i, s := range list {
		out[i] = StreamOf(s)
	}
	return out
}
