// Package stream is the server's registry of published streams and the hub each one is: its
// identity (name, mediaSessionId), status transitions (PENDING → PUBLISHING → UNPUBLISHED/
// FAILED), tracks, and the subscribers its frames fan out to (package recording is one).
// Every ingest protocol publishes through it, so the REST API, the signalling and the
// dashboard see one list, and every subscriber works the same for each protocol.
package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/streamrec/streamrec/internal/naming"
)

// Providers, as WCS names them in the stream object's "mediaProvider".
const (
	ProviderRTMP   = "Flash"
	ProviderWebRTC = "WebRTC"
	ProviderRTSP   = "RTSP"
	// ProviderWHIP is a WebRTC publisher that came over WHIP (RFC 9725) rather than WCS signalling.
	ProviderWHIP = "WHIP"
)

var (
	// ErrNameInUse refuses a second publisher of a name; the text is the WCS SDK's ERROR_INFO.
	ErrNameInUse = errors.New("Stream name is already in use")
	// ErrIDInUse refuses a mediaSessionId that another stream already has.
	ErrIDInUse = errors.New("mediaSessionId is already in use")
	// ErrNotFound: no stream with that mediaSessionId or name.
	ErrNotFound = errors.New("stream not found")
)

// Config wires a registry to the rest of the server.
type Config struct {
	Log *slog.Logger
	// Attach adds a new stream's subscribers (Stream.AddSubscriber), before anyone can
	// publish on it: the server attaches recording; nil attaches none.
	Attach func(*Stream)
}

// Registry holds the published streams. Safe for concurrent use.
type Registry struct {
	cfg Config

	mu     sync.Mutex
	byName map[string]*Stream
	byID   map[string]*Stream
	subs   map[int]func(Snapshot)
	nextID int
	closed bool
	// endedBytes are the media bytes of the streams that ended, by provider (IngestBytes).
	endedBytes map[string]int64
}

// New returns an empty registry.
func New(cfg Config) *Registry {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Registry{cfg: cfg, byName: map[string]*Stream{}, byID: map[string]*Stream{}, subs: map[int]func(Snapshot){},
		endedBytes: map[string]int64{}}
}

// Create registers a new stream in status PENDING. It fails with ErrNameInUse when the name is
// published already. An empty MediaSessionID gets a new UUID.
//
// Every ingest creates its streams here, so this is where a publisher's name is cleaned
// (naming.StreamName: control and format characters such as NUL and U+202E removed): the
// REST API, the dashboard, file names and hooks all see the same clean name.
func (r *Registry) Create(id Identity) (*Stream, error) {
	raw := id.Name
	id.Name = naming.StreamName(raw)
	if id.Name == "" {
		if raw != "" {
			return nil, fmt.Errorf("stream name %q is empty once control and format characters are removed", raw)
		}
		return nil, errors.New("stream name is empty")
	}
	if id.Name != raw {
		r.cfg.Log.Info("stream name cleaned of control and format characters", "name", fmt.Sprintf("%q", raw), "stream", id.Name)
	}
	if id.MediaSessionID == "" {
		id.MediaSessionID = uuid.NewString()
	}
	s := newStream(r, id)
	if r.cfg.Attach != nil {
		r.cfg.Attach(s) // before the stream is listed, so no frame misses a subscriber
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("server is shutting down")
	}
	if _, ok := r.byName[id.Name]; ok {
		return nil, ErrNameInUse
	}
	if _, ok := r.byID[id.MediaSessionID]; ok {
		return nil, ErrIDInUse
	}
	r.byName[id.Name] = s
	r.byID[id.MediaSessionID] = s
	return s, nil
}

// Get returns the stream with that mediaSessionId.
func (r *Registry) Get(mediaSessionID string) (*Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[mediaSessionID]
	if !ok {
		return nil, fmt.Errorf("%w: no stream has mediaSessionId %q", ErrNotFound, mediaSessionID)
	}
	return s, nil
}

// ByName returns the stream published under that name (as published or as cleaned by Create).
func (r *Registry) ByName(name string) (*Stream, error) {
	name = naming.StreamName(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: no stream is named %q", ErrNotFound, name)
	}
	return s, nil
}

// All returns a snapshot of every stream, ordered by name.
func (r *Registry) All() []Snapshot {
	r.mu.Lock()
	list := make([]*Stream, 0, len(r.byID))
	for _, s := range r.byID {
		list = append(list, s)
	}
	r.mu.Unlock()
	out := make([]Snapshot, len(list))
	for i, s := range list {
		out[i] = s.Snapshot()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IngestBytes returns the media bytes received since the registry was made, by provider
// (ProviderRTMP...): of the streams that ended and of those listed now. It only grows: a
// stream's bytes move from the listed to the ended ones, under one lock, when it leaves the
// list (bytes a publisher sends while its stream is being removed are not counted).
func (r *Registry) IngestBytes() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.endedBytes)+3)
	for p, n := range r.endedBytes {
		out[p] = n
	}
	for _, s := range r.byID {
		out[s.id.Provider] += s.bytes.Load()
	}
	return out
}

// Subscribe calls fn with a snapshot of a stream each time its status, info or a subscriber's
// state (its recording) changes.
// fn runs on the caller's goroutine of the change and must not block. The returned func unsubscribes.
func (r *Registry) Subscribe(fn func(Snapshot)) (cancel func()) {
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.subs[id] = fn
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.subs, id)
		r.mu.Unlock()
	}
}

func (r *Registry) notify(s Snapshot) {
	r.mu.Lock()
	subs := make([]func(Snapshot), 0, len(r.subs))
	for _, fn := range r.subs {
		subs = append(subs, fn)
	}
	r.mu.Unlock()
	for _, fn := range subs {
		fn(s)
	}
}

func (r *Registry) remove(s *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[s.id.MediaSessionID] == s {
		delete(r.byID, s.id.MediaSessionID)
		r.endedBytes[s.id.Provider] += s.bytes.Load()
	}
	if r.byName[s.id.Name] == s {
		delete(r.byName, s.id.Name)
	}
}

// Close refuses new streams and unpublishes every stream, finishing their recordings.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	list := make([]*Stream, 0, len(r.byID))
	for _, s := range r.byID {
		list = append(list, s)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Unpublish()
		}()
	}
	wg.Wait()
}
