// Package rtsp brings RTSP into the stream registry: IP cameras pulled as RTSP clients (a
// persistent list managed through REST and the dashboard, reconnected with backoff) and RTSP
// publishers pushing with ANNOUNCE/RECORD (ffmpeg -f rtsp). RTP timing and codec checks end
// here (the frames are rebuilt by internal/rtp); the registry receives media.Tracks and
// media.Frames.
//
// Credentials in camera URIs are never logged nor shown: everything that leaves this package
// carries the redacted form (rtsp://***@host/path).
package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/stream"
)

// Camera statuses, as /rest-api/rtsp/find_all shows them.
const (
	StatusConnecting   = "CONNECTING"   // opening the session
	StatusPending      = "PENDING"      // playing, waiting for the first keyframe
	StatusPublishing   = "PUBLISHING"   // the stream is published (and recorded if the settings say so)
	StatusReconnecting = "RECONNECTING" // waiting before the next attempt
	StatusFailed       = "FAILED"       // refused for good (a codec that cannot be recorded)
	StatusUnpublished  = "UNPUBLISHED"  // removed from the list
)

// Backoff between connection attempts: doubles from minBackoff up to maxBackoff, and starts over
// after a session that published for at least healthySession.
const (
	minBackoff     = time.Second
	maxBackoff     = 30 * time.Second
	healthySession = 5 * time.Second
)

var (
	// ErrBadURI: not an rtsp:// or rtsps:// URI with a host.
	ErrBadURI = errors.New("bad camera URI")
	// ErrExists: a camera with that name or URI is already in the list.
	ErrExists = errors.New("camera already added")
	// ErrSave: the camera list file could not be written.
	ErrSave = errors.New("save the camera list")
	// ErrNoCamera: no camera has that URI or name.
	ErrNoCamera = errors.New("no such camera")
	// ErrTooMany: max_rtsp_cameras cameras are pulled already.
	ErrTooMany = errors.New("too many RTSP cameras")
	// errTerminated: the camera's stream was ended from outside (REST stream/terminate).
	errTerminated = errors.New("the stream was terminated")
)

// Spec is a camera to pull.
type Spec struct {
	URI  string // rtsp://[user:password@]host[:port]/path
	Name string // the stream name; StripCredentials(URI) when empty
	// Transport is "tcp", "udp" or "" (auto: UDP first, TCP when UDP does not work).
	Transport string
	// Temporary cameras are not saved in the list file (a WebSocket playStream of an rtsp:// name).
	Temporary bool
}

// Camera is a camera as the REST API and the dashboard show it. URI is redacted.
type Camera struct {
	URI             string    `json:"uri"`
	LocalStreamName string    `json:"localStreamName"`
	Transport       string    `json:"transport"`                 // requested: auto, tcp or udp
	ActiveTransport string    `json:"activeTransport,omitempty"` // what the session uses: UDP or TCP
	Status          string    `json:"status"`
	Info            string    `json:"info"` // what is happening, in words
	MediaSessionID  string    `json:"mediaSessionId,omitempty"`
	MediaProvider   string    `json:"mediaProvider"`
	Since           time.Time `json:"since"`    // when the status last changed
	Attempts        int       `json:"attempts"` // failed attempts since the last good session
	Temporary       bool      `json:"temporary,omitempty"`
}

// Config wires a Manager.
type Config struct {
	Registry *stream.Registry
	File     string // the camera list (conf/rtsp_cameras.json)
	// Max returns the most cameras pulled at once (max_rtsp_cameras), read at each Add and at
	// Open; nil or <= 0: no limit.
	Max func() int
	// MediaTimeout returns how long a session may go without media (media_timeout) before it is
	// closed and the camera reconnected, read at each session; nil or <= 0: DefaultMediaTimeout.
	MediaTimeout func() time.Duration
	Log          *slog.Logger
}

// DefaultMediaTimeout is media_timeout's default.
const DefaultMediaTimeout = 10 * time.Second

// mediaTimeout reads a MediaTimeout setting: DefaultMediaTimeout when nil or <= 0.
func mediaTimeout(setting func() time.Duration) time.Duration {
	if setting != nil {
		if d := setting(); d > 0 {
			return d
		}
	}
	return DefaultMediaTimeout
}

// Manager pulls the cameras of a persistent list. Safe for concurrent use.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	unsub func()

	refusals *lograte.Limiter // Add refused for max_rtsp_cameras: a log line a minute

	mu     sync.Mutex
	cams   []*camera
	unrun  []Spec // cameras of the list over Max at Open: not pulled, kept in the list
	closed bool
}

// Open loads the camera list and starts pulling every camera in it.
func Open(cfg Config) (*Manager, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	list, err := loadList(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("rtsp camera list: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Log.With("ingest", "rtsp-camera"), refusals: lograte.New(time.Minute, 1)}
	m.unsub = cfg.Registry.Subscribe(m.onStream)
	for _, sc := range list {
		spec, err := normalize(Spec{URI: sc.URI, Name: sc.Name, Transport: sc.Transport})
		if err != nil {
			m.log.Error("camera in the list skipped", "uri", Redact(sc.URI), "err", err)
			continue
		}
		if err := m.room(); err != nil {
			m.log.Error("camera in the list not pulled", "uri", Redact(sc.URI), "stream", spec.Name, "err", err)
			m.unrun = append(m.unrun, spec)
			continue
		}
		m.cams = append(m.cams, m.start(spec))
	}
	return m, nil
}

// room refuses one more camera when Max are pulled. Caller holds m.mu (or owns m, in Open).
func (m *Manager) room() error {
	if m.cfg.Max == nil {
		return nil
	}
	if max := m.cfg.Max(); max > 0 && len(m.cams) >= max {
		return fmt.Errorf("%w: %d are pulled, the most allowed (max_rtsp_cameras)", ErrTooMany, len(m.cams))
	}
	return nil
}

// normalize validates a spec and fills its defaults.
func normalize(s Spec) (Spec, error) {
	s.URI = strings.TrimSpace(s.URI)
	u, err := url.Parse(s.URI)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return s, fmt.Errorf("%w %q: want rtsp://[user:password@]host[:port]/path", ErrBadURI, Redact(s.URI))
	}
	if _, err := base.ParseURL(s.URI); err != nil {
		return s, fmt.Errorf("%w %q: %s", ErrBadURI, Redact(s.URI), scrub(err.Error(), s.URI))
	}
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		s.Name = NameFor(s.URI)
	}
	switch t := strings.ToLower(strings.TrimSpace(s.Transport)); t {
	case "", "auto":
		s.Transport = ""
	case "tcp", "udp":
		s.Transport = t
	default:
		return s, fmt.Errorf("transport %q: want tcp, udp or auto", s.Transport)
	}
	return s, nil
}

// NameFor is the stream name a camera gets when none is given: its URI without credentials,
// the name WCS users play an RTSP stream by.
func NameFor(uri string) string { return StripCredentials(strings.TrimSpace(uri)) }

// Add starts pulling a camera and, unless it is temporary, saves it in the list.
func (m *Manager) Add(s Spec) (Camera, error) {
	s, err := normalize(s)
	if err != nil {
		return Camera{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Camera{}, errors.New("server is shutting down")
	}
	for _, u := range m.unrun {
		if matches(u, s.URI, s.Name) {
			return Camera{}, fmt.Errorf("%w: %q is in the list but not pulled (max_rtsp_cameras)", ErrExists, u.Name)
		}
	}
	for _, c := range m.cams {
		if c.spec.Name == s.Name {
			return Camera{}, fmt.Errorf("%w: a camera is already named %q", ErrExists, s.Name)
		}
		if StripCredentials(c.spec.URI) == StripCredentials(s.URI) {
			return Camera{}, fmt.Errorf("%w: %s is already pulled as %q", ErrExists, Redact(s.URI), c.spec.Name)
		}
	}
	if err := m.room(); err != nil {
		// The caller is told why; the log says it once a minute, however many calls are refused.
		if ok, hidden := m.refusals.Allow("max_rtsp_cameras"); ok {
			m.log.Warn("camera refused", "uri", Redact(s.URI), "stream", s.Name, "err", err, "refused_since_last_line", hidden)
		}
		return Camera{}, err
	}
	if !s.Temporary {
		if err := saveList(m.cfg.File, m.stored(s)); err != nil {
			return Camera{}, fmt.Errorf("%w: %v", ErrSave, err)
		}
	}
	c := m.start(s)
	m.cams = append(m.cams, c)
	m.log.Info("camera added", "uri", Redact(s.URI), "stream", s.Name, "transport", transportName(s.Transport))
	return c.view(), nil
}

// Ensure returns the camera pulling uri (compared without credentials), adding it as a
// temporary camera (not saved in the list) when there is none: what a WebSocket playStream of
// an rtsp:// stream name needs. The stream to play is the returned LocalStreamName, once its
// Status is PUBLISHING; the caller removes a temporary camera with Remove when nobody plays it.
func (m *Manager) Ensure(uri string) (Camera, error) {
	m.mu.Lock()
	for _, c := range m.cams {
		if StripCredentials(c.spec.URI) == StripCredentials(strings.TrimSpace(uri)) {
			m.mu.Unlock()
			return c.view(), nil
		}
	}
	m.mu.Unlock()
	cam, err := m.Add(Spec{URI: uri, Temporary: true})
	if errors.Is(err, ErrExists) { // added meanwhile
		for _, c := range m.List() {
			if c.LocalStreamName == NameFor(uri) {
				return c, nil
			}
		}
	}
	return cam, err
}

// stored is the list file's content, plus extra. Caller holds m.mu.
func (m *Manager) stored(extra ...Spec) []storedCamera {
	var out []storedCamera
	for _, c := range m.cams {
		if !c.spec.Temporary {
			out = append(out, storedCamera{URI: c.spec.URI, Name: c.spec.Name, Transport: c.spec.Transport})
		}
	}
	for _, s := range append(m.unrun[:len(m.unrun):len(m.unrun)], extra...) {
		out = append(out, storedCamera{URI: s.URI, Name: s.Name, Transport: s.Transport})
	}
	return out
}

// Remove stops the camera with that URI (with or without credentials) or that stream name,
// ends its stream (finishing its recording) and removes it from the list.
func (m *Manager) Remove(uri, name string) (Camera, error) {
	m.mu.Lock()
	var c *camera
	for i, cc := range m.cams {
		if matches(cc.spec, uri, name) {
			c = cc
			m.cams = append(m.cams[:i:i], m.cams[i+1:]...)
			break
		}
	}
	if c == nil {
		for i, s := range m.unrun {
			if matches(s, uri, name) { // in the list, never pulled (max_rtsp_cameras): just forgotten
				m.unrun = append(m.unrun[:i:i], m.unrun[i+1:]...)
				err := saveList(m.cfg.File, m.stored())
				m.mu.Unlock()
				m.log.Info("camera removed from the list", "uri", Redact(s.URI), "stream", s.Name)
				return Camera{URI: Redact(s.URI), LocalStreamName: s.Name, Status: StatusUnpublished}, err
			}
		}
		m.mu.Unlock()
		what := name
		if what == "" {
			what = Redact(uri)
		}
		return Camera{}, fmt.Errorf("%w: %s", ErrNoCamera, what)
	}
	var saveErr error
	if !c.spec.Temporary {
		saveErr = saveList(m.cfg.File, m.stored())
	}
	m.mu.Unlock()
	c.stop()
	m.log.Info("camera removed", "uri", Redact(c.spec.URI), "stream", c.spec.Name)
	v := c.view()
	if saveErr != nil {
		return v, fmt.Errorf("the camera is stopped, but the list could not be saved: %w", saveErr)
	}
	return v, nil
}

// matches tells whether s is the camera named name or pulling uri (with or without credentials).
func matches(s Spec, uri, name string) bool {
	uri = strings.TrimSpace(uri)
	return (name != "" && s.Name == name) ||
		(uri != "" && (s.URI == uri || StripCredentials(s.URI) == StripCredentials(uri)))
}

// List returns every camera with its status.
func (m *Manager) List() []Camera {
	m.mu.Lock()
	cams := append([]*camera(nil), m.cams...)
	m.mu.Unlock()
	out := make([]Camera, len(cams))
	for i, c := range cams {
		out[i] = c.view()
	}
	return out
}

// Get returns the camera publishing under that stream name.
func (m *Manager) Get(name string) (Camera, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cams {
		if c.spec.Name == name {
			return c.view(), true
		}
	}
	return Camera{}, false
}

// Close stops every camera, ending their streams so their recordings are finished when it
// returns. The list file is kept: the cameras come back with the next start.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	cams := m.cams
	m.cams = nil
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop()
		}()
	}
	wg.Wait()
	m.unsub()
}

// onStream notices a camera's stream ended by someone else (REST stream/terminate): that
// stops the camera, as WCS does.
func (m *Manager) onStream(s stream.Snapshot) {
	if s.MediaProvider != stream.ProviderRTSP || !s.Status.Ended() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cams {
		c.streamEnded(s.MediaSessionID)
	}
}

// start launches a camera's runner.
func (m *Manager) start(s Spec) *camera {
	ctx, cancel := context.WithCancel(context.Background())
	c := &camera{
		spec: s, m: m, cancel: cancel, done: make(chan struct{}),
		log:    m.log.With("camera", Redact(s.URI), "stream", s.Name),
		status: StatusConnecting, info: "connecting", since: time.Now(),
	}
	go c.run(ctx)
	return c
}

// camera is one camera's runner and status.
type camera struct {
	spec   Spec
	m      *Manager
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	status    string
	info      string
	since     time.Time
	retryAt   time.Time // RECONNECTING: when the next attempt starts
	attempts  int
	transport string // UDP or TCP, while a session runs
	session   string // mediaSessionId of the current stream
	ending    bool   // the runner itself is ending the stream
	ended     chan struct{}
}

func (c *camera) stop() {
	c.cancel()
	<-c.done
}

func (c *camera) set(status, info string) {
	c.mu.Lock()
	if c.status != status {
		c.since = time.Now()
	}
	c.status, c.info = status, info
	c.mu.Unlock()
}

func (c *camera) view() Camera {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := Camera{
		URI: Redact(c.spec.URI), LocalStreamName: c.spec.Name, Transport: transportName(c.spec.Transport),
		Status: c.status, Info: c.info, MediaProvider: stream.ProviderRTSP, Since: c.since,
		Attempts: c.attempts, Temporary: c.spec.Temporary, MediaSessionID: c.session,
	}
	if c.status == StatusReconnecting {
		left := max(int(math.Ceil(time.Until(c.retryAt).Seconds())), 0)
		v.Info = fmt.Sprintf("reconnecting in %d s: %s", left, c.info)
	}
	if c.status == StatusPending || c.status == StatusPublishing {
		v.ActiveTransport = c.transport
	}
	return v
}

// streamEnded is called for every RTSP stream that ends. Caller holds c.m.mu.
func (c *camera) streamEnded(mediaSessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == mediaSessionID && !c.ending && c.ended != nil {
		close(c.ended)
		c.ended = nil
	}
}

func transportName(t string) string {
	if t == "" {
		return "auto"
	}
	return t
}

// run connects, and reconnects with backoff, until the camera is removed or refused.
func (c *camera) run(ctx context.Context) {
	defer close(c.done)
	backoff := minBackoff
	for {
		c.set(StatusConnecting, "connecting")
		published, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return
		}
		var refusal *Refusal
		if errors.As(err, &refusal) {
			c.log.Error("camera refused", "reason", refusal.Reason)
			c.set(StatusFailed, "refused: "+refusal.Reason)
			return
		}
		if errors.Is(err, errTerminated) {
			c.log.Info("camera stream terminated through the stream API: camera removed")
			go c.m.Remove("", c.spec.Name)
			return
		}
		if published >= healthySession {
			backoff = minBackoff
		}
		why := reason(err, c.spec.URI)
		c.mu.Lock()
		c.attempts++
		c.retryAt = time.Now().Add(backoff)
		c.mu.Unlock()
		c.set(StatusReconnecting, why)
		c.log.Warn("camera session ended", "reason", why, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// runSession runs one RTSP session: DESCRIBE, SETUP, PLAY, then frames into a new stream until
// the camera goes away. It returns how long the stream was published.
func (c *camera) runSession(ctx context.Context) (time.Duration, error) {
	u, err := base.ParseURL(c.spec.URI)
	if err != nil {
		return 0, &Refusal{Reason: "bad URI: " + scrub(err.Error(), c.spec.URI)}
	}
	transport := "UDP"
	if c.spec.Transport == "tcp" {
		transport = "TCP"
	}
	c.mu.Lock()
	c.transport = transport
	c.mu.Unlock()
	client := &gortsplib.Client{
		Scheme:    u.Scheme,
		Host:      u.Host,
		Transport: clientTransport(c.spec.Transport),
		UserAgent: "streamrec",
		OnTransportSwitch: func(err error) {
			c.mu.Lock()
			c.transport = "TCP"
			c.mu.Unlock()
			c.log.Info("switching to TCP", "why", err.Error())
		},
		OnPacketsLost: func(uint64) {},
		OnDecodeError: func(err error) { c.log.Debug("RTP decode error", "err", scrub(err.Error(), c.spec.URI)) },
	}
	if err := client.Start2(); err != nil {
		return 0, err
	}
	defer client.Close()
	stopOnCancel := context.AfterFunc(ctx, client.Close)
	defer stopOnCancel()

	desc, _, err := client.Describe(u)
	if err != nil {
		return 0, err
	}
	sel, selErr := selectMedias(desc.Medias)
	st, err := c.m.cfg.Registry.Create(stream.Identity{
		Name:      c.spec.Name,
		SessionID: "/" + u.Host + "/rtsp",
		Provider:  stream.ProviderRTSP,
		AppKey:    "defaultApp",
	})
	if err != nil {
		return 0, err
	}
	ended := c.attach(st)
	if selErr != nil {
		c.finish(st, false, selErr)
		return 0, selErr
	}
	sel.warnSkipped(st)
	for _, m := range sel.medias() {
		if _, err := client.Setup(desc.BaseURL, m, 0, 0); err != nil {
			c.finish(st, false, err)
			return 0, err
		}
	}
	src := newSource(st, sel, client)
	client.OnPacketRTPAny(src.onPacket)
	client.OnPacketRTCPAny(src.onRTCP)
	if _, err := client.Play(nil); err != nil {
		c.finish(st, false, err)
		return 0, err
	}
	c.set(StatusPending, "waiting for the first keyframe")
	st.Log().Info("camera playing", "camera", Redact(c.spec.URI), "tracks", describeSelection(sel))

	waitErr := make(chan error, 1)
	go func() { waitErr <- client.Wait() }()
	keyframe := time.NewTimer(maxKeyframeWait)
	defer keyframe.Stop()
	timeout := mediaTimeout(c.m.cfg.MediaTimeout)
	watch := time.NewTicker(watchPeriod(timeout))
	defer watch.Stop()
	ready := src.ready
	var since time.Time
	publishedFor := func() time.Duration {
		if since.IsZero() {
			return 0
		}
		return time.Since(since)
	}
	for {
		select {
		case <-ready:
			ready = nil
			since = time.Now()
			keyframe.Stop()
			c.mu.Lock()
			tr := c.transport
			c.attempts = 0
			c.mu.Unlock()
			c.set(StatusPublishing, fmt.Sprintf("publishing %s over %s", describeTracks(st.Snapshot()), tr))
		case <-keyframe.C:
			err := fmt.Errorf("no decodable video keyframe within %v", maxKeyframeWait)
			client.Close()
			c.finish(st, false, err)
			return 0, err
		case <-ended:
			client.Close()
			return publishedFor(), errTerminated
		case <-watch.C:
			// gortsplib's own read timeout counts RTCP too: a camera whose encoder stalls while
			// its RTSP server keeps sending reports and answering keep-alives is only noticed here.
			if src.silentFor() < timeout {
				continue
			}
			err := &stallError{"the camera", timeout} // run logs it, with the reconnection
			client.Close()
			src.flush()
			c.finish(st, !since.IsZero(), err)
			return publishedFor(), err
		case err := <-waitErr:
			if ctx.Err() != nil {
				err = nil
			}
			src.flush()
			c.finish(st, !since.IsZero(), err)
			return publishedFor(), err
		}
	}
}

// stallError: no media came from the sender (a camera, a publisher) for the media timeout.
type stallError struct {
	from  string
	after time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("no media from %s for %v", e.from, formatSeconds(e.after))
}

// formatSeconds writes a duration as media_timeout is set: "10 s".
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// watchPeriod is how often the media timeout is checked: a stall is noticed within a quarter
// of the timeout after it expires.
func watchPeriod(timeout time.Duration) time.Duration {
	return max(timeout/4, 50*time.Millisecond)
}

// attach makes st the camera's current stream and returns a channel closed if someone else ends it.
func (c *camera) attach(st *stream.Stream) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session = st.ID().MediaSessionID
	c.ending = false
	c.ended = make(chan struct{})
	return c.ended
}

// finish ends the camera's stream: UNPUBLISHED after a published session (its recording is
// complete when this returns), with the reason as its info when it broke; FAILED with the
// reason otherwise.
func (c *camera) finish(st *stream.Stream, published bool, err error) {
	c.mu.Lock()
	c.ending = true
	c.mu.Unlock()
	switch {
	case err == nil:
		st.Unpublish()
	case published:
		st.UnpublishBecause(reason(err, c.spec.URI))
	default:
		st.Fail(reason(err, c.spec.URI))
	}
	c.mu.Lock()
	c.session, c.ended = "", nil
	c.mu.Unlock()
}

func clientTransport(t string) *gortsplib.Transport {
	var v gortsplib.Transport
	switch t {
	case "tcp":
		v = gortsplib.TransportTCP
	case "udp":
		v = gortsplib.TransportUDP
	default:
		return nil
	}
	return &v
}

func describeSelection(sel selection) string {
	parts := make([]string, len(sel.inputs))
	for i, in := range sel.inputs {
		parts[i] = in.kind.String() + " " + in.name
	}
	return strings.Join(parts, ", ")
}

func describeTracks(s stream.Snapshot) string {
	var parts []string
	if s.VideoCodec != "" {
		v := s.VideoCodec
		if s.Width > 0 {
			v += fmt.Sprintf(" %dx%d", s.Width, s.Height)
		}
		parts = append(parts, v)
	}
	if s.AudioCodec != "" {
		parts = append(parts, codecLabel(media.Codec(s.AudioCodec)))
	}
	return strings.Join(parts, " + ")
}

func codecLabel(c media.Codec) string {
	if c == media.AAC {
		return "AAC"
	}
	return string(c)
}
