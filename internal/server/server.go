// Package server is the composition root: it reads the settings of a home folder, creates the
// stream registry and the recorder's shared state, and starts every listener the settings ask for.
package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/admin"
	"github.com/streamrec/streamrec/internal/api"
	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/connlimit"
	"github.com/streamrec/streamrec/internal/control"
	"github.com/streamrec/streamrec/internal/hook"
	"github.com/streamrec/streamrec/internal/metrics"
	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/retention"
	"github.com/streamrec/streamrec/internal/rtmp"
	"github.com/streamrec/streamrec/internal/rtsp"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/upload"
	"github.com/streamrec/streamrec/internal/web"
	"github.com/streamrec/streamrec/internal/webhook"
	"github.com/streamrec/streamrec/internal/webrtc"
	"github.com/streamrec/streamrec/internal/whip"
	"github.com/streamrec/streamrec/static"
)

// Version is set at build time (-ldflags "-X .../server.Version=...").
var Version = "dev"

// Bounds on one HTTP(S) connection (README, "Limits"); the listener bounds how many there are.
const (
	// maxBody bounds a REST or page request body.
	maxBody = 1 << 20
	// maxHeader bounds a request's header (fasthttp's read buffer): larger gets 431. It is
	// fiber's default, set here so the README can say it.
	maxHeader = 4 << 10
	// httpReadTimeout bounds the TLS handshake and the read of one request, header and body:
	// a client that trickles its request is disconnected.
	httpReadTimeout = time.Minute
	// httpIdleTimeout closes a keep-alive connection that sends no next request.
	httpIdleTimeout = 2 * time.Minute
)

// hookShutdownWait bounds how long Close waits for finish hooks still queued or running.
const hookShutdownWait = 15 * time.Second

// Server is a running streamrec.
type Server struct {
	Home     string
	Settings *conf.Store
	Streams  *stream.Registry
	Control  *control.Service // what REST and the dashboard do to streams
	Files    *records.Store   // the records store: every file operation on the records folder
	Records  string           // the records folder's path (Files.Dir())
	Started  time.Time
	// Hooks runs on_record_hook_script for every finished file; Recent() feeds the dashboard.
	Hooks *hook.Runner
	// Webhooks POSTs the recording events to on_record_webhook_url.
	Webhooks *webhook.Sender
	// Cameras are the RTSP cameras pulled (conf/rtsp_cameras.json); set by Start.
	Cameras *rtsp.Manager
	// Metrics are what GET /metrics exports; an uploader plugs its figures in with SetUploads.
	Metrics *metrics.Metrics
	// Retention deletes finished recordings as record_delete_after, record_min_free_space and
	// record_max_total_size say, and refuses new recordings when the disk is short of space.
	Retention *retention.Cleaner
	// Bucket is the object store of record_s3_*, nil when record_s3_bucket is empty: downloads
	// and the library read what every node put there.
	Bucket *objstore.Store
	// Uploads puts every finished file into record_s3_bucket; nil when it is empty (its
	// Status then says "local" for every file). Set by Start.
	Uploads *upload.Queue

	log       *slog.Logger
	records   *web.Records // downloads of finished recordings
	admin     *admin.Admin
	rtmp      *rtmp.Server
	rtsp      *rtsp.Server
	signal    *signalling    // WCS WebSocket signalling
	webrtc    *webrtc.Engine // the WebRTC ingest behind WCS signalling and WHIP; nil when unreachable
	whip      *whip.Handler  // WHIP on the HTTP ports (nil without the WebRTC ingest)
	app       *fiber.App
	listeners []net.Listener
	started   atomic.Bool // every listener is up (Start returned nil), and Close has not begun
	ready     readiness
	stopWatch func() // ends the settings file watch
}

// New prepares a server in home: it creates conf/flashphoner.properties (every setting with its
// default and a comment), records/ and bin/on_record_hook.sh when missing, and refuses settings
// that do not parse.
func New(home string, log *slog.Logger) (*Server, error) {
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{"conf", "records", "bin"} {
		if err := os.MkdirAll(filepath.Join(home, dir), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	store, err := conf.Open(filepath.Join(home, "conf", "flashphoner.properties"))
	if err != nil {
		return nil, err
	}
	if store.Exposed() {
		log.Warn("the settings file holds a password or key and other users can read it: chmod 600 it (the next save from the dashboard does)",
			"file", store.Path())
	}
	if err := writeDefaultHook(filepath.Join(home, "bin", "on_record_hook.sh")); err != nil {
		return nil, err
	}
	files, err := records.Open(filepath.Join(home, "records"), log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Home:     home,
		Settings: store,
		Files:    files,
		Records:  filepath.Join(home, "records"),
		Started:  time.Now(),
		log:      log,
	}
	if s.Bucket, err = openBucket(store.Current()); err != nil {
		return nil, err
	}
	s.records = &web.Records{Store: s.Files, Bucket: s.Bucket, Log: log, Node: func() string { return store.Current().Node() },
		UploadedAs: func(name string) string { return s.Uploads.UploadedAs(name) }}
	stats := &recorder.Stats{}
	s.Files.OnFinished(s.runHook) // the hook hears of a file first (s.Hooks is made below, before Start)
	s.Webhooks = s.newWebhooks()
	s.Files.OnFinished(s.fileFinished)
	// Hold: a file not yet safely in the bucket is never deleted (s.Uploads is set by Start, before
	// the cleaner's first pass; a nil queue holds nothing).
	s.Retention = retention.New(retention.Config{Files: s.Files, Settings: store.Current, Log: log,
		Hold: func(name string) bool { return s.Uploads.Held(name) }})
	recordings := recording.New(recording.Config{
		Settings: store.Current,
		Files:    s.Files,
		OnFile:   s.onFile,
		Stats:    stats,
		Admit:    s.Retention.Admit,
		OnStart:  s.recordingStarted, OnStartFailed: s.recordingNotStarted,
	})
	s.Streams = stream.New(stream.Config{Log: log, Attach: recordings.Attach})
	s.Metrics = metrics.New(metrics.Config{Version: Version, Streams: s.Streams, Recorders: stats, RecordsDir: s.Records})
	s.Hooks = hook.New(hook.Config{Log: log, History: filepath.Join(home, "conf", "hook_runs.json"),
		OnRun: s.Metrics.HookRun, OnDrop: s.Metrics.HookDropped})
	s.Control = control.New(s.Streams)
	s.admin = admin.New(admin.Config{Settings: store, Streams: s.Control, Records: s.Files,
		Version: Version, Started: s.Started, Log: log, Hooks: s.Hooks, Retention: s.Retention, Webhooks: s.Webhooks,
		Bucket: s.Bucket, Uploads: func() *upload.Queue { return s.Uploads }})
	return s, nil
}

// openBucket returns the object store the settings name, nil when upload is off. It does not
// contact the store: one that is down at start makes downloads and listings say so.
func openBucket(st *conf.Settings) (*objstore.Store, error) {
	if st.S3.Bucket == "" {
		return nil, nil
	}
	return objstore.New(objstore.Config{Endpoint: st.S3.Endpoint, Region: st.S3.Region, Bucket: st.S3.Bucket,
		Prefix: st.S3.Prefix, AccessKey: st.S3.AccessKey, SecretKey: st.S3.SecretKey, PathStyle: st.S3.PathStyle})
}

// onFile runs for every finished recording file, complete, cut short by a write error or
// recovered after a crash: it is announced, then handed to the records store (Finished).
func (s *Server) onFile(f recorder.File) {
	switch {
	case f.Recovered:
		s.log.Warn("recording recovered", "stream", f.StreamName, "mediaSessionId", f.MediaSessionID,
			"file", f.Name, "part", f.Part, "bytes", f.Size, "duration", f.Duration.Round(time.Millisecond), "cut_bytes", f.Cut)
	case f.Err != "":
		s.log.Error("recording ended by a write error", "stream", f.StreamName, "mediaSessionId", f.MediaSessionID,
			"file", f.Name, "bytes", f.Size, "duration", f.Duration.Round(time.Millisecond), "err", f.Err)
	default:
		s.log.Info("recording ready", "stream", f.StreamName, "mediaSessionId", f.MediaSessionID,
			"file", f.Name, "bytes", f.Size, "duration", f.Duration.Round(time.Millisecond))
	}
	s.Metrics.FileFinished(f)
	s.Files.Finished(f)
}

// startUploads opens the upload queue when record_s3_bucket is set (what the journal holds is
// resumed) and queues every finished file from now on.
func (s *Server) startUploads() error {
	st := s.Settings.Current()
	if s.Bucket == nil {
		return nil
	}
	q, err := upload.Open(upload.Config{Store: s.Bucket, Files: s.Files, Node: st.Node(), Log: s.log,
		DeleteLocal: func() bool { return s.Settings.Current().S3.DeleteLocal },
		InUse:       s.Hooks.Pending, OnUploaded: s.fileUploaded})
	if err != nil {
		return err
	}
	s.Uploads = q
	s.Files.OnFinished(q.Enqueue)
	s.Metrics.SetUploads(uploadFigures{q})
	endpoint := st.S3.Endpoint
	if endpoint == "" {
		endpoint = "AWS S3"
	}
	s.log.Info("uploading finished recordings", "endpoint", endpoint, "bucket", st.S3.Bucket, "prefix", st.S3.Prefix,
		"node", st.Node(), "delete_local", st.S3.DeleteLocal)
	return nil
}

// runHook queues on_record_hook_script for a finished file, when one is set.
func (s *Server) runHook(f records.File) {
	st := s.Settings.Current()
	if script := st.HookScriptPath(s.Home); script != "" {
		s.Hooks.Enqueue(hook.Job{
			Script: script, Timeout: st.HookTimeout,
			StreamName: f.StreamName, File: f.Path, MediaSessionID: f.MediaSessionID,
			Duration: f.Duration, Part: f.Part, Err: f.Err, Recovered: f.Recovered,
		})
	}
}

// Start opens every listener whose port is not 0. On error, listeners already opened are closed.
func (s *Server) Start() error {
	if err := s.startUploads(); err != nil {
		return err
	}
	// Files a crash left open are finished before anything records: indexed, announced,
	// hooked and queued for upload like any finished file.
	for _, f := range s.Files.Recover(s.log) {
		s.onFile(f)
	}
	s.Retention.Start() // after recovery: the recovered files are finished files like any other
	st := s.Settings.Current()
	cams, err := rtsp.Open(rtsp.Config{Registry: s.Streams, File: filepath.Join(s.Home, "conf", "rtsp_cameras.json"),
		Max:          func() int { return s.Settings.Current().MaxRTSPCameras },
		MediaTimeout: func() time.Duration { return s.Settings.Current().MediaTimeout },
		Log:          s.log})
	if err != nil {
		return err
	}
	s.Cameras = cams
	if s.webrtc, err = s.startWebRTC(st); err != nil {
		s.Close()
		return err
	}
	s.app = s.newApp()
	if err := s.listenHTTP(st, "http", st.HTTPAddress, st.HTTPPort, nil); err != nil {
		s.Close()
		return err
	}
	if st.HTTPSPort != 0 {
		cfg, err := s.tlsConfig(st)
		if err == nil {
			err = s.listenHTTP(st, "https", st.HTTPSAddress, st.HTTPSPort, cfg)
		}
		if err != nil {
			s.Close()
			return err
		}
	}
	if st.RTMPPort != 0 {
		ln, err := s.listen(st, "rtmp", st.RTMPAddress, st.RTMPPort)
		if err != nil {
			s.Close()
			return err
		}
		s.rtmp = rtmp.Listen(ln, s.Streams, s.log)
	}
	if st.RTSPPort != 0 {
		r, err := rtsp.Listen(rtsp.PublishConfig{
			Address: st.RTSPAddress, Port: st.RTSPPort,
			Limit:    func(ln net.Listener) net.Listener { return s.limit(st, "rtsp", ln) },
			Registry: s.Streams, Log: s.log,
			MediaTimeout: func() time.Duration { return s.Settings.Current().MediaTimeout },
		})
		if err != nil {
			s.Close()
			return fmt.Errorf("rtsp.port %d: %w", st.RTSPPort, err)
		}
		s.rtsp = r
	}
	if s.signal, err = s.startSignalling(st, s.webrtc); err != nil {
		s.Close()
		return err
	}
	s.started.Store(true)
	s.watchSettings()
	return nil
}

func (s *Server) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             maxBody,
		ReadBufferSize:        maxHeader,
		ReadTimeout:           httpReadTimeout,
		IdleTimeout:           httpIdleTimeout,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			return api.Error(c, code, err.Error())
		},
	})
	s.registerOps(app)
	app.Use("/rest-api", api.Guard(s.Settings.Current, s.log)) // before every REST route
	if s.Cameras != nil {
		api.RegisterRTSP(app, s.Cameras) // before Register, whose catch-all ends /rest-api
	}
	if s.webrtc != nil {
		s.whip = whip.New(whip.Config{Streams: s.Streams, Engine: s.webrtc, Settings: s.Settings.Current,
			ICEServers: s.iceServers, Log: s.log})
		s.whip.Register(app) // its own CORS rule: not under /rest-api
	}
	api.RegisterRecords(app, s.admin.Files)
	api.Register(app, s.Control)
	s.records.Register(app)
	s.admin.Register(app)
	st := s.Settings.Current() // the ports being opened now
	(&web.Pages{Demo: static.Demo(), Admin: static.Admin(), Client: web.ClientConfig{
		WSPort: st.WSPort, WSSPort: st.WSSPort, HTTPPort: st.HTTPPort, HTTPSPort: st.HTTPSPort, Version: Version,
	}}).Register(app)
	return app
}

// iceServers are the STUN and TURN servers WHIP advertises in its Link headers (stun_servers,
// turn_server), so a publisher behind NAT finds its way.
func (s *Server) iceServers() []whip.ICEServer {
	st := s.Settings.Current()
	var out []whip.ICEServer
	for _, u := range st.STUN {
		out = append(out, whip.ICEServer{URL: u})
	}
	if st.TURN.URL != "" {
		out = append(out, whip.ICEServer{URL: st.TURN.URL, Username: st.TURN.Username, Credential: st.TURN.Password})
	}
	return out
}

// listen opens the TCP listener of name ("rtmp": rtmp.port on rtmp.address, "" = every
// interface) within the connection limits.
func (s *Server) listen(st *conf.Settings, name, address string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s.port %d: %w", name, port, err)
	}
	return s.limit(st, name, ln), nil
}

// limit admits at most max_connections on ln, max_connections_per_address of them from one
// source IP; the others are closed as soon as they are accepted.
func (s *Server) limit(st *conf.Settings, name string, ln net.Listener) net.Listener {
	return connlimit.Wrap(ln, connlimit.Limits{Total: st.MaxConnections, PerAddress: st.MaxConnectionsPerAddress},
		name+".port", s.log)
}

// listenHTTP serves the web app on the listener of name, over TLS when cfg is set. The TLS
// layer is outside the connection limits: a refused connection costs no handshake.
func (s *Server) listenHTTP(st *conf.Settings, name, address string, port int, cfg *tls.Config) error {
	if port == 0 {
		return nil
	}
	ln, err := s.listen(st, name, address, port)
	if err != nil {
		return err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s.listeners = append(s.listeners, ln)
	go func() {
		if err := s.app.Listener(ln); err != nil {
			s.log.Debug("http listener ended", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", cfg != nil)
	return nil
}

// Close stops accepting publishers, finishes every recording, then stops the web listeners.
// SIGTERM ends here, so every file is complete when the process exits.
func (s *Server) Close() {
	s.started.Store(false) // /ready answers 503 from now on
	if s.stopWatch != nil {
		s.stopWatch()
	}
	if s.Cameras != nil {
		s.Cameras.Close()
	}
	if s.rtsp != nil {
		s.rtsp.Close()
	}
	s.Streams.Close()
	if s.signal != nil {
		s.signal.close() // signalling sessions, after their streams ended
	}
	if s.webrtc != nil {
		s.webrtc.Close() // WebRTC publishers (WCS and WHIP), their recordings finished
	}
	if s.whip != nil {
		s.whip.Close()
	}
	s.Hooks.Close(hookShutdownWait) // the hooks of the files just finished
	s.Webhooks.Close(webhookShutdownWait)
	if s.Uploads != nil {
		s.Uploads.Close() // what is not uploaded stays in the journal, resumed at the next start
	}
	if s.rtmp != nil {
		s.rtmp.Close()
	}
	s.admin.Close() // ends the dashboard's event streams
	s.Retention.Close()
	if s.app != nil {
		s.app.ShutdownWithTimeout(5 * time.Second)
	}
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// writeDefaultHook creates the finish hook example when there is none.
func writeDefaultHook(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return os.WriteFile(path, []byte(defaultHook), 0o755)
}

const defaultHook = `#!/bin/sh
# streamrec runs this script once for every finished recording file (each rotated part too),
# after the file is closed and complete. Set another script with on_record_hook_script in
# conf/flashphoner.properties.
#
#   $1  the stream name
#   $2  the absolute path of the recording file
#
# Its exit code and output are logged and shown on the dashboard. Example: copy recordings
# to a web folder (mind the 255-byte file name limit of the target):
#
#   STREAM_NAME=$1
#   SRC_FILE=$2
#   cp "$SRC_FILE" "/var/www/html/stream_records/$STREAM_NAME-$(basename "$SRC_FILE")"
exit 0
`
