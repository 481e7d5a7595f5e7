// Package control is what an operator can do to the published streams, shared by the WCS
// REST API (package api) and the dashboard (package admin): list and find them, record them
// on demand, stop their recording, terminate them. Each of the two keeps its own wire format;
// which error a call ends with, and the HTTP status that error gets, are decided here once.
package control

import (
	"errors"
	"net/http"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
)

// ErrInvalid marks a request the client got wrong: a missing field, a malformed body.
var ErrInvalid = errors.New("invalid request")

// errNoRecording: a registry built without recording (stream.Config.Attach) has nothing to
// start or stop; the server always attaches it.
var errNoRecording = errors.New("streams are not recorded by this server")

// Invalid marks err as the client's mistake (ErrInvalid); its message is err's.
func Invalid(err error) error { return invalid{err} }

type invalid struct{ error }

func (e invalid) Is(target error) bool { return target == ErrInvalid }
func (e invalid) Unwrap() error        { return e.error }

// HTTPStatus is the status a call's error answers with, for REST and the dashboard alike.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, stream.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, recording.ErrNotPublishing), errors.Is(err, recording.ErrRecording), errors.Is(err, recording.ErrNotRecording):
		return http.StatusConflict
	case errors.Is(err, recorder.ErrNoSpace):
		return http.StatusInsufficientStorage
	default:
		return http.StatusInternalServerError
	}
}

// Service carries out the calls on a registry's streams.
type Service struct {
	streams *stream.Registry
}

// New returns the control service of a registry.
func New(streams *stream.Registry) *Service { return &Service{streams: streams} }

// Streams returns a snapshot of every stream, ordered by name.
func (s *Service) Streams() []stream.Snapshot { return s.streams.All() }

// Watch calls fn with a stream's snapshot on each change (stream.Registry.Subscribe).
func (s *Service) Watch(fn func(stream.Snapshot)) (cancel func()) { return s.streams.Subscribe(fn) }

// Find returns the stream a call names by its mediaSessionId.
func (s *Service) Find(mediaSessionID string) (*stream.Stream, error) {
	if mediaSessionID == "" {
		return nil, Invalid(errors.New(`"mediaSessionId" is required`))
	}
	return s.streams.Get(mediaSessionID)
}

// StartRecording records st from its last keyframe on.
func (s *Service) StartRecording(st *stream.Stream, o recording.Options) error {
	r := recording.Of(st)
	if r == nil {
		return errNoRecording
	}
	return r.Start(o)
}

// StopRecording finishes st's recording and returns the names of its files: on an error too,
// as the files are complete up to the failure.
func (s *Service) StopRecording(st *stream.Stream) ([]string, error) {
	r := recording.Of(st)
	if r == nil {
		return []string{}, recording.ErrNotRecording
	}
	files, err := r.Stop()
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return names, err
}

// Terminate ends st's publication; its recording is finished first.
func (s *Service) Terminate(st *stream.Stream) { st.Unpublish() }
