// Package recording records streams: a Recording is the subscriber of one stream that owns
// its GOP cache and its current recorder. It starts recording when the settings (or the
// WebRTC publisher) ask for it, starts and stops on demand, resumes in a new file after the
// records disk was full, and reports the file and the last error for the stream's snapshots.
package recording

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
)

var (
	// ErrNotPublishing: only PUBLISHING streams can be recorded.
	ErrNotPublishing = errors.New("stream is not PUBLISHING")
	// ErrRecording: the stream is already being recorded.
	ErrRecording = errors.New("stream is already being recorded")
	// ErrNotRecording: stopRecording on a stream that is not recorded.
	ErrNotRecording = errors.New("stream is not being recorded")
)

// Config wires recording to the rest of the server.
type Config struct {
	Settings func() *conf.Settings // the current settings snapshot
	Files    *records.Store        // the records folder, and the recordings being written
	// OnFile is called for every finished recording file (the hook runner).
	OnFile func(recorder.File)
	// Stats, when set, gets every recorder's frames, bytes and drops (the server's metrics).
	Stats *recorder.Stats
	// Admit, when set, may refuse a new recording (recorder.Options.Admit): retention's
	// record_min_free_space.
	Admit func() error
	// OnStart and OnStartFailed, when set, hear of every recording that starts (with its first
	// file's name) or cannot start (webhooks). They run under the stream's recording lock: they
	// must not block nor call back into the stream.
	OnStart       func(id stream.Identity, file string)
	OnStartFailed func(id stream.Identity, err error)
}

// Recordings gives every stream a Recording.
type Recordings struct{ cfg Config }

// New returns the recordings of a server.
func New(cfg Config) *Recordings {
	return &Recordings{cfg: cfg}
}

// Attach subscribes a Recording to st; it is the registry's stream.Config.Attach.
func (rs *Recordings) Attach(st *stream.Stream) {
	st.AddSubscriber(&Recording{cfg: &rs.cfg, st: st})
}

// Of returns the Recording of st, nil when st has none (a registry without recording).
func Of(st *stream.Stream) *Recording {
	if st == nil {
		return nil
	}
	for _, sub := range st.Subscribers() {
		if r, ok := sub.(*Recording); ok {
			return r
		}
	}
	return nil
}

// State is what a stream's snapshot shows of its recording.
type State struct {
	Recording bool      // a recorder is running
	Name      string    // the current or last recording file; "" when never recorded
	Since     time.Time // when the current recording started; zero when none runs
	Err       string    // why the last recording ended early, or could not start
	// NotRecorded says why the settings did not record the stream when it began publishing
	// ("record_flash_published_streams=false"); "" once a recording started.
	NotRecorded string
}

// StateOf returns the recording state of the stream snap was taken of.
func StateOf(snap stream.Snapshot) State {
	if r := Of(snap.Stream()); r != nil {
		return r.State()
	}
	return State{}
}

// Options are the on-demand (REST startRecording) parameters of a recording.
type Options struct {
	FileName string             // replaces the naming policy
	Template string             // replaces stream_record_policy_template
	Rotation *recorder.Rotation // replaces record_rotation
	// Room marks this recording as one of a conference stream (REST "room": true): never
	// rotated, like a stream published in a room.
	Room bool
}

// Recording is the recording subscriber of one stream.
type Recording struct {
	cfg *Config
	st  *stream.Stream

	mu     sync.Mutex
	live   bool // publishing, not ended: frames come
	tracks []media.Track
	gop    *gop
	rec    *recorder.Recorder
	since  time.Time
	name   string  // the current or last recording file
	err    string  // why the last recording ended early
	skip   string  // why the settings did not record the stream (State.NotRecorded)
	opts   Options // of the current or last recording, for resuming it
}

// errNotLive: the stream is not publishing (yet, or any more).
var errNotLive = errors.New("not live")

// Tracks keeps the stream's tracks for the recordings started from now on; when the stream
// starts publishing it starts recording if the settings (or, for WebRTC, the publisher) ask
// for it. A recording that cannot start leaves the stream publishing and says why in the log
// and in the record error.
func (r *Recording) Tracks(tracks []media.Track, published bool) {
	r.mu.Lock()
	r.tracks = tracks
	if !published || r.live {
		r.mu.Unlock()
		return
	}
	r.live = true
	r.gop = newGOP(stream.CodecOf(tracks, media.Video) != "")
	auto, why := r.auto()
	if !auto {
		r.skip = why
	}
	r.mu.Unlock()
	if !auto {
		r.st.Log().Info("not recorded: " + why)
		return
	}
	if err := r.start(Options{}); err != nil {
		r.st.Log().Error("automatic recording did not start", "err", err)
		if errors.Is(err, recorder.ErrNoSpace) {
			r.resumeLater(Options{})
		}
	}
}

// auto tells whether the settings record this stream from the start, and if not, why: the
// setting that says no, as the log and the dashboard show it.
func (r *Recording) auto() (bool, string) {
	st := r.cfg.Settings()
	if !st.RecordStreams {
		return false, "record_streams=false"
	}
	id := r.st.ID()
	switch id.Provider {
	case stream.ProviderRTMP:
		return st.RecordFlash, "record_flash_published_streams=false"
	case stream.ProviderRTSP:
		return st.RecordRTSP, "record_rtsp_streams=false"
	default:
		return id.Record, "the publisher did not ask for it (record: false)"
	}
}

// Frame passes f to the GOP cache and the recorder; it never blocks on disk.
func (r *Recording) Frame(f media.Frame) {
	r.mu.Lock()
	if !r.live {
		r.mu.Unlock()
		return
	}
	rec := r.rec
	if rec == nil {
		r.gop.add(f, r.tracks[f.Track].Kind) // only a recording that starts needs it (see gop)
	}
	r.mu.Unlock()
	if rec != nil {
		rec.Push(f)
	}
}

// Ended finishes the recording, so the stream's last event names a complete file.
func (r *Recording) Ended() {
	r.mu.Lock()
	r.live = false
	rec := r.rec
	r.rec = nil
	if r.gop != nil {
		r.gop.reset()
		r.gop = nil
	}
	r.mu.Unlock()
	if rec == nil {
		return
	}
	_, err := rec.Stop()
	r.mu.Lock()
	r.name = rec.Name()
	if err != nil && !errors.Is(err, recorder.ErrStopped) {
		r.err = err.Error()
	}
	r.mu.Unlock()
}

// State returns what the stream's snapshot shows of its recording.
func (r *Recording) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := State{Recording: r.rec != nil, Name: r.name, Err: r.err, NotRecorded: r.skip}
	if r.rec != nil {
		s.Since = r.since
	}
	return s
}

// Backlog reports the current recording's queue: frames waiting to be written, and frames
// dropped because the recorder could not keep up. Both are 0 when the stream is not recorded.
func (r *Recording) Backlog() (queued int, dropped uint64) {
	r.mu.Lock()
	rec := r.rec
	r.mu.Unlock()
	if rec == nil {
		return 0, 0
	}
	return rec.Backlog()
}

// Start records the stream from the last keyframe on. Only PUBLISHING streams can be recorded.
func (r *Recording) Start(o Options) error {
	err := r.start(o)
	if !errors.Is(err, errNotLive) {
		return err
	}
	status := r.st.Status()
	if status == stream.StatusPublishing {
		return fmt.Errorf("%w (it is ending)", ErrNotPublishing)
	}
	return fmt.Errorf("%w (it is %s)", ErrNotPublishing, status)
}

func (r *Recording) start(o Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live {
		return errNotLive
	}
	if r.rec != nil {
		return fmt.Errorf("%w to %s", ErrRecording, r.rec.Name())
	}
	frames, requestKeyframe := r.startFrames()
	// The recorder holds what it needs of the cache (it takes over the frames' references);
	// the cache begins again when the recording stops.
	r.gop.reset()
	rec, err := recorder.Start(r.options(o), frames)
	if err != nil {
		r.err = err.Error()
		if r.cfg.OnStartFailed != nil {
			r.cfg.OnStartFailed(r.st.ID(), err)
		}
		return fmt.Errorf("start recording %s: %w", r.st.ID().Name, err)
	}
	r.rec, r.since, r.name, r.err, r.skip, r.opts = rec, time.Now(), rec.Name(), "", "", o
	r.st.Log().Info("recording started", "file", r.name, "cached", len(frames), "keyframeRequested", requestKeyframe != nil)
	if r.cfg.OnStart != nil {
		r.cfg.OnStart(r.st.ID(), r.name)
	}
	go r.watch(rec)
	if requestKeyframe != nil {
		go requestKeyframe()
	}
	return nil
}

// options builds a recorder's options. Caller holds r.mu.
func (r *Recording) options(o Options) recorder.Options {
	id := r.st.ID()
	return recorder.Options{
		Settings: r.cfg.Settings(),
		Values: naming.Values{
			StreamName:     id.Name,
			SessionID:      id.SessionID,
			MediaSessionID: id.MediaSessionID,
			Login:          id.Login,
			AudioCodec:     stream.CodecOf(r.tracks, media.Audio),
			VideoCodec:     stream.CodecOf(r.tracks, media.Video),
		},
		Tracks:     r.tracks,
		Files:      r.cfg.Files,
		Log:        r.st.Log(),
		FileName:   o.FileName,
		Template:   o.Template,
		Rotation:   o.Rotation,
		NoRotation: id.Room || o.Room,
		OnFile:     r.cfg.OnFile,
		Stats:      r.cfg.Stats,
		Admit:      r.cfg.Admit,
	}
}

// Stop finishes the stream's recording and returns its files.
func (r *Recording) Stop() ([]recorder.File, error) {
	r.mu.Lock()
	rec := r.rec
	r.rec = nil
	r.mu.Unlock()
	if rec == nil {
		return nil, ErrNotRecording
	}
	files, err := rec.Stop()
	r.mu.Lock()
	r.name = rec.Name()
	if err != nil {
		r.err = err.Error()
	}
	r.mu.Unlock()
	r.st.Log().Info("recording stopped", "file", rec.Name(), "files", len(files))
	r.st.Changed()
	return files, err
}
