package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
)

// Status values, as the WCS protocol names them.
const (
	StatusPending     = "PENDING"
	StatusPublishing  = "PUBLISHING"
	StatusUnpublished = "UNPUBLISHED"
	StatusFailed      = "FAILED"
)

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

// Stream is one published stream.
type Stream struct {
	id  Identity
	reg *Registry
	log *slog.Logger

	bytes   atomic.Int64 // media bytes received, for the dashboard's bitrate
	started time.Time

	mu         sync.Mutex
	status     string
	info       string // why it FAILED or ended, or a warning while it plays (Note)
	tracks     []media.Track
	gop        *recorder.GOP
	rec        *recorder.Recorder
	recSince   time.Time
	recordName string        // the current or last recording file
	recordErr  string        // why the last recording ended early
	recOpts    RecordOptions // the options of the current or last recording, for resuming it
	keyframe   func()        // asks the publisher for a video keyframe; nil when it cannot
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

// Publish sets the stream's tracks and moves it to PUBLISHING. It starts recording when the
// settings (or, for WebRTC, the publisher) ask for it; a recording that cannot start leaves the
// stream publishing and says why in the log and in the stream's record error.
func (s *Stream) Publish(tracks []media.Track) {
	s.mu.Lock()
	if s.status != StatusPending {
		s.mu.Unlock()
		return
	}
	s.tracks = append([]media.Track(nil), tracks...)
	s.gop = recorder.NewGOP(hasKind(tracks, media.Video))
	s.status = StatusPublishing
	auto := s.autoRecord()
	s.mu.Unlock()
	s.log.Info("publishing", "tracks", fmt.Sprint(tracks))
	if auto {
		if err := s.StartRecording(RecordOptions{}); err != nil {
			s.log.Error("automatic recording did not start", "err", err)
			if errors.Is(err, recorder.ErrNoSpace) {
				s.resumeLater(RecordOptions{})
			}
		}
	}
	s.reg.notify(s.Snapshot())
}

// autoRecord tells whether the settings record this stream from the start. Caller holds s.mu.
func (s *Stream) autoRecord() bool {
	st := s.reg.cfg.Settings()
	if !st.RecordStreams {
		return false
	}
	switch s.id.Provider {
	case ProviderRTMP:
		return st.RecordFlash
	case ProviderRTSP:
		return st.RecordRTSP
	default:
		return s.id.Record
	}
}

// WriteFrame passes one frame to the GOP cache and the recorder. Frames come from the ingest
// stage (package ingest): in DTS order, with sane timestamps. It never blocks on disk. A pooled
// frame stays the caller's: the cache and the recorder take references of their own.
func (s *Stream) WriteFrame(f media.Frame) {
	s.bytes.Add(int64(len(f.Data)))
	s.mu.Lock()
	if s.status != StatusPublishing || f.Track < 0 || f.Track >= len(s.tracks) {
		s.mu.Unlock()
		return
	}
	if f.Params != nil {
		s.setTrack(f.Track, *f.Params)
	}
	s.gop.Add(f, s.tracks[f.Track].Kind)
	rec := s.rec
	s.mu.Unlock()
	if rec != nil {
		rec.Push(f)
	}
}

// setTrack replaces a track's description (the publisher changed its parameters), for
// snapshots and recordings started from now on. The slice is copied: a recorder started
// earlier may still hold the old one.
func (s *Stream) setTrack(i int, t media.Track) {
	s.tracks = append([]media.Track(nil), s.tracks...)
	s.tracks[i] = t
}

// RecordBacklog reports the current recording's queue: frames waiting to be written, and frames
// dropped because the recorder could not keep up. Both are 0 when the stream is not recorded.
func (s *Stream) RecordBacklog() (queued int, dropped uint64) {
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	if rec == nil {
		return 0, 0
	}
	return rec.Backlog()
}

// RecordOptions are the REST startRecording parameters.
type RecordOptions struct {
	FileName string             // replaces the naming policy
	Template string             // replaces stream_record_policy_template
	Rotation *recorder.Rotation // replaces record_rotation
	// Room marks this recording as one of a conference stream (REST "room": true): never
	// rotated, like a stream published in a room.
	Room bool
}

// StartRecording records the stream from the last keyframe on. Only PUBLISHING streams can be recorded.
func (s *Stream) StartRecording(o RecordOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != StatusPublishing {
		return fmt.Errorf("%w (it is %s)", ErrNotPublishing, s.status)
	}
	if s.rec != nil {
		return fmt.Errorf("%w to %s", ErrRecording, s.rec.Name())
	}
	frames, requestKeyframe := s.startFrames()
	rec, err := recorder.Start(s.recorderOptions(o), frames) // takes over the frames' references
	if err != nil {
		s.recordErr = err.Error()
		return fmt.Errorf("start recording %s: %w", s.id.Name, err)
	}
	s.rec, s.recSince, s.recordName, s.recordErr, s.recOpts = rec, time.Now(), rec.Name(), "", o
	s.log.Info("recording started", "file", s.recordName, "cached", len(frames), "keyframeRequested", requestKeyframe != nil)
	go s.watch(rec)
	if requestKeyframe != nil {
		go requestKeyframe()
	}
	return nil
}

// recorderOptions builds a recorder's options. Caller holds s.mu.
func (s *Stream) recorderOptions(o RecordOptions) recorder.Options {
	return recorder.Options{
		Dir:      s.reg.cfg.Dir,
		Settings: s.reg.cfg.Settings(),
		Values: naming.Values{
			StreamName:     s.id.Name,
			SessionID:      s.id.SessionID,
			MediaSessionID: s.id.MediaSessionID,
			Login:          s.id.Login,
			AudioCodec:     codecOf(s.tracks, media.Audio),
			VideoCodec:     codecOf(s.tracks, media.Video),
		},
		Tracks:     s.tracks,
		Files:      s.reg.cfg.Files,
		Log:        s.log,
		FileName:   o.FileName,
		Template:   o.Template,
		Rotation:   o.Rotation,
		NoRotation: s.id.Room || o.Room,
		OnFile:     s.reg.cfg.OnFile,
	}
}

// watch notices a recorder that ended on its own (a write error) and detaches it.
func (s *Stream) watch(rec *recorder.Recorder) {
	<-rec.Done()
	s.mu.Lock()
	if s.rec != rec {
		s.mu.Unlock()
		return // stopped normally
	}
	s.rec = nil
	s.recordName = rec.Name()
	err := rec.Err()
	if err != nil {
		s.recordErr = err.Error()
	}
	o := s.recOpts
	s.mu.Unlock()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) { // a full disk or quota
		s.resumeLater(o)
	}
	s.reg.notify(s.Snapshot())
}

// resumeEvery is how often a stream whose recording stopped for lack of space looks again.
const resumeEvery = 2 * time.Second

// resumeLater starts recording the stream again, into a new file, once the records disk has
// recorder.MinFreeSpace free: its recording stopped, or could not start, for lack of space. It
// gives up when the stream ends or is recorded again meanwhile (a REST startRecording).
func (s *Stream) resumeLater(o RecordOptions) {
	s.mu.Lock()
	s.recordErr += fmt.Sprintf(" (recording resumes, in a new file, once %d MB are free)", recorder.MinFreeSpace>>20)
	s.mu.Unlock()
	s.log.Warn("recording stopped for lack of space: it resumes by itself once the records disk has room",
		"needFree", fmt.Sprintf("%d MB", recorder.MinFreeSpace>>20))
	go func() {
		tick := time.NewTicker(resumeEvery)
		defer tick.Stop()
		for range tick.C {
			s.mu.Lock()
			over := s.status != StatusPublishing || s.rec != nil
			s.mu.Unlock()
			if over {
				return
			}
			if recorder.CheckSpace(s.reg.cfg.Dir) != nil {
				continue
			}
			err := s.StartRecording(o)
			if err == nil {
				s.log.Info("recording resumed: the records disk has room again", "file", s.Snapshot().RecordName)
				s.reg.notify(s.Snapshot())
				return
			}
			if !errors.Is(err, recorder.ErrNoSpace) {
				s.log.Error("recording did not resume", "err", err)
				return
			}
		}
	}()
}

// StopRecording finishes the stream's recording and returns its files.
func (s *Stream) StopRecording() ([]recorder.File, error) {
	s.mu.Lock()
	rec := s.rec
	s.rec = nil
	s.mu.Unlock()
	if rec == nil {
		return nil, ErrNotRecording
	}
	files, err := rec.Stop()
	s.mu.Lock()
	s.recordName = rec.Name()
	if err != nil {
		s.recordErr = err.Error()
	}
	s.mu.Unlock()
	s.log.Info("recording stopped", "file", rec.Name(), "files", len(files))
	s.reg.notify(s.Snapshot())
	return files, err
}

// Unpublish ends the stream: its recording is finished first, so the UNPUBLISHED event names a
// complete file.
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
		s.reg.notify(s.Snapshot())
	}
}

func (s *Stream) end(status, info string) {
	s.mu.Lock()
	if s.status == StatusUnpublished || s.status == StatusFailed {
		s.mu.Unlock()
		return
	}
	rec := s.rec
	s.rec = nil
	s.mu.Unlock()
	if rec != nil {
		_, err := rec.Stop()
		s.mu.Lock()
		s.recordName = rec.Name()
		if err != nil && !errors.Is(err, recorder.ErrStopped) {
			s.recordErr = err.Error()
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if s.gop != nil {
		s.gop.Reset()
	}
	s.status, s.gop = status, nil
	if info != "" || status == StatusFailed {
		s.info = info
	}
	s.mu.Unlock()
	s.reg.remove(s)
	s.log.Info("stream ended", "status", status, "info", info)
	s.reg.notify(s.Snapshot())
}

func hasKind(tracks []media.Track, k media.Kind) bool {
	return codecOf(tracks, k) != ""
}

func codecOf(tracks []media.Track, k media.Kind) string {
	for _, t := range tracks {
		if t.Kind == k {
			return string(t.Codec)
		}
	}
	return ""
}
