package rtsp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/sdplimit"
	"github.com/streamrec/streamrec/internal/stream"
)

// Server accepts RTSP publishers (ANNOUNCE/RECORD, as `ffmpeg -f rtsp` does), over TCP
// (interleaved) and UDP. Each publication becomes a stream named after the last element of
// its path: rtsp://HOST:PORT/live/NAME publishes NAME.
type Server struct {
	reg *stream.Registry
	log *slog.Logger
	// mediaTimeout is media_timeout: gortsplib's read timeout (10 s, fixed) counts RTCP and
	// keep-alives too, so a publisher that only sends those would never be noticed.
	mediaTimeout func() time.Duration
	srv          *gortsplib.Server
	udp          string // the UDP RTP/RTCP ports, "" when UDP is off

	refusals *lograte.Limiter // refused ANNOUNCEs: a log line per address per minute

	mu   sync.Mutex
	pubs map[*gortsplib.ServerSession]*publication
}

// checkAnnounce bounds an ANNOUNCE's SDP (sdplimit): gortsplib has read at most 128 KB of it
// and parsed it, which this does not prevent, but nothing of ours is built for it.
func checkAnnounce(body []byte, desc *description.Session) (base.StatusCode, error) {
	if err := sdplimit.CheckSize(len(body)); err != nil {
		return base.StatusRequestEntityTooLarge, err
	}
	if err := sdplimit.CheckMedias(len(desc.Medias)); err != nil {
		return base.StatusBadRequest, err
	}
	return base.StatusOK, nil
}

// publication is one RTSP publisher's stream.
type publication struct {
	st   *stream.Stream
	sel  selection
	conn *gortsplib.ServerConn // the connection that announced it
	src  *source               // from RECORD; under Server.mu
	// flushSrc is src for end, which runs without Server.mu.
	flushSrc atomic.Pointer[source]

	watching sync.Once
	once     sync.Once
	ended    chan struct{} // closed by end
	why      atomic.Pointer[string]
}

func newPublication(st *stream.Stream, sel selection, conn *gortsplib.ServerConn) *publication {
	return &publication{st: st, sel: sel, conn: conn, ended: make(chan struct{})}
}

// end ends the stream, with the reason the watchdog gave if it closed the session.
func (p *publication) end() {
	p.once.Do(func() {
		close(p.ended)
		if src := p.flushSrc.Load(); src != nil {
			src.flush() // the frames still in the ingest stage go to the recording first
		}
		if why := p.why.Load(); why != nil {
			p.st.UnpublishBecause(*why)
		} else {
			p.st.Unpublish()
		}
	})
}

// watch closes the session when its media stops for timeout; OnSessionClose then ends the
// stream with the reason.
func (p *publication) watch(mu *sync.Mutex, sess *gortsplib.ServerSession, timeout time.Duration) {
	t := time.NewTicker(watchPeriod(timeout))
	defer t.Stop()
	for {
		select {
		case <-p.ended:
			return
		case <-t.C:
		}
		mu.Lock()
		silent := p.src.silentFor()
		mu.Unlock()
		if silent >= timeout {
			why := (&stallError{"the publisher", timeout}).Error()
			p.why.Store(&why)
			sess.Close()
			return
		}
	}
}

// PublishConfig says where the RTSP publish listener binds and how its connections are limited.
type PublishConfig struct {
	Address string // IP address for TCP and UDP (rtsp.address); "" = every interface
	Port    int    // rtsp.port
	// Limit wraps the TCP listener (the connection limits); nil = none.
	Limit    func(net.Listener) net.Listener
	Registry *stream.Registry
	Log      *slog.Logger
	// MediaTimeout returns media_timeout, read at each RECORD; nil or <= 0: DefaultMediaTimeout.
	MediaTimeout func() time.Duration
}

// Listen starts accepting RTSP publishers on cfg.Port (TCP). UDP media use the even/odd port
// pair at or just below the same number (8554 → UDP 8554 and 8555); when that pair is taken
// another free pair is used, and without one the server accepts TCP only.
func Listen(cfg PublishConfig) (*Server, error) {
	s := &Server{reg: cfg.Registry, log: cfg.Log.With("ingest", "rtsp"), pubs: map[*gortsplib.ServerSession]*publication{},
		refusals: lograte.New(time.Minute, 10_000), mediaTimeout: cfg.MediaTimeout}
	for _, rtp := range udpCandidates(cfg.Address, cfg.Port) {
		s.srv = s.newServer(cfg, rtp)
		err := s.srv.Start()
		if err == nil {
			if rtp > 0 {
				s.udp = fmt.Sprintf("%d-%d", rtp, rtp+1)
			}
			s.log.Info("listening", "addr", s.srv.RTSPAddress, "udp", s.udp)
			return s, nil
		}
		if rtp == 0 || !isUDPBindError(err) {
			return nil, err
		}
	}
	return nil, errors.New("no UDP port pair")
}

// udpCandidates lists RTP ports to try: the pair at the RTSP port, a few free ones, then none.
func udpCandidates(address string, port int) []int {
	out := []int{port &^ 1}
	for range 4 {
		if p := freeUDPPair(address); p > 0 {
			out = append(out, p)
		}
	}
	return append(out, 0)
}

// freeUDPPair finds an even UDP port on address whose successor is free too.
func freeUDPPair(address string) int {
	c, err := net.ListenPacket("udp", net.JoinHostPort(address, "0"))
	if err != nil {
		return 0
	}
	p := c.LocalAddr().(*net.UDPAddr).Port &^ 1
	c.Close()
	if p < 1024 {
		return 0
	}
	return p
}

func isUDPBindError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.HasPrefix(op.Net, "udp")
}

func (s *Server) newServer(cfg PublishConfig, rtp int) *gortsplib.Server {
	at := func(port int) string { return net.JoinHostPort(cfg.Address, strconv.Itoa(port)) }
	srv := &gortsplib.Server{Handler: s, RTSPAddress: at(cfg.Port)}
	// gortsplib makes its TCP listener with this function (Server.Listen, net.Listen by
	// default) and only accepts from it, so the limits apply before it sees a connection.
	srv.Listen = func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		if cfg.Limit != nil {
			ln = cfg.Limit(ln)
		}
		return setupListener{ln}, nil
	}
	if rtp > 0 {
		srv.UDPRTPAddress = at(rtp)
		srv.UDPRTCPAddress = at(rtp + 1)
	}
	return srv
}

// Close stops accepting and ends every publication, finishing their recordings.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	pubs := s.pubs
	s.pubs = map[*gortsplib.ServerSession]*publication{}
	s.mu.Unlock()
	for _, p := range pubs {
		p.end()
	}
}

// UDPPorts is the UDP RTP-RTCP port pair ("8554-8555"), "" when only TCP is accepted.
func (s *Server) UDPPorts() string { return s.udp }

// OnSessionClose ends the session's stream: its recording is finished when this returns.
func (s *Server) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	s.mu.Lock()
	p := s.pubs[ctx.Session]
	delete(s.pubs, ctx.Session)
	s.mu.Unlock()
	if p != nil {
		p.end()
	}
}

// OnConnClose ends the publications its connection announced. Over TCP gortsplib closes the
// session with its connection anyway; over UDP the session would outlive it (RTSP allows that)
// until its timeout, and a publisher killed without TEARDOWN would hold its name meanwhile:
// the same publisher restarted would be refused "already in use". No publisher known to us
// keeps a UDP session without its connection.
func (s *Server) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	var ended []*publication
	s.mu.Lock()
	for sess, p := range s.pubs {
		if p.conn == ctx.Conn {
			delete(s.pubs, sess)
			ended = append(ended, p)
			sess.Close()
		}
	}
	s.mu.Unlock()
	for _, p := range ended {
		p.end()
	}
}

const (
	// udpDrainQuiet and udpDrainMax bound the wait at a UDP publisher's TEARDOWN: its last RTP
	// packets were sent before it, but over UDP they may still be on their way to the session.
	udpDrainQuiet = 100 * time.Millisecond
	udpDrainMax   = 500 * time.Millisecond
)

// OnRequest runs in the connection's goroutine before gortsplib handles the request. At the
// TEARDOWN of a publication over UDP it waits until the media has gone quiet for udpDrainQuiet
// (at most udpDrainMax): without it the session may close with the last packet (ffmpeg bundles
// several AAC frames in one) still in flight, and the file loses its last audio frames.
func (s *Server) OnRequest(conn *gortsplib.ServerConn, req *base.Request) {
	if req.Method != base.Teardown {
		return
	}
	var src *source
	s.mu.Lock()
	for sess, p := range s.pubs {
		if tr := sess.SetuppedTransport(); p.conn == conn && p.src != nil && tr != nil && *tr == gortsplib.TransportUDP {
			src = p.src
		}
	}
	s.mu.Unlock()
	if src == nil {
		return
	}
	for end := time.Now().Add(udpDrainMax); src.silentFor() < udpDrainQuiet && time.Now().Before(end); {
		time.Sleep(udpDrainQuiet / 5)
	}
}

// OnDescribe: streams cannot be played over RTSP here.
func (s *Server) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusNotFound, StatusMessage: "this server records RTSP streams; it does not play them"}, nil, nil
}

// OnAnnounce registers the stream a publisher describes, or refuses it with the reason.
func (s *Server) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	name := stream.NameFromPath(ctx.Path)
	remote := ctx.Conn.NetConn().RemoteAddr().String()
	log := s.log.With("remote", remote, "stream", name)
	if name == "" {
		return refuse(base.StatusBadRequest, "the path needs a stream name: rtsp://HOST:PORT/live/NAME")
	}
	if code, err := checkAnnounce(ctx.Request.Body, ctx.Description); err != nil {
		host, _, _ := net.SplitHostPort(remote)
		if ok, hidden := s.refusals.Allow(host); ok {
			log.Warn("ANNOUNCE refused", "err", err, "refused_since_last_line", hidden)
		}
		return refuse(code, err.Error())
	}
	st, err := s.reg.Create(stream.Identity{
		Name:      name,
		SessionID: "/" + remote + "/" + ctx.Conn.NetConn().LocalAddr().String(),
		Provider:  stream.ProviderRTSP,
		AppKey:    publishApp(ctx.Path),
	})
	if err != nil {
		log.Warn("publish refused", "err", err)
		return refuse(base.StatusForbidden, err.Error())
	}
	sel, err := selectMedias(ctx.Description.Medias)
	if err != nil {
		log.Warn("publish refused", "err", err)
		st.Fail(err.Error())
		return refuse(base.StatusUnsupportedMediaType, err.Error())
	}
	sel.warnSkipped(st)
	s.mu.Lock()
	if old := s.pubs[ctx.Session]; old != nil {
		old.end()
	}
	s.pubs[ctx.Session] = newPublication(st, sel, ctx.Conn)
	s.mu.Unlock()
	st.Log().Info("rtsp publish", "remote", remote, "tracks", describeSelection(sel))
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func refuse(code base.StatusCode, msg string) (*base.Response, error) {
	// The status line carries the reason, so the publisher (ffmpeg) prints it.
	return &base.Response{StatusCode: code, StatusMessage: strings.ReplaceAll(msg, "\n", " ")}, errors.New(msg)
}

// OnSetup accepts the SETUP of an announced publication; players are turned away.
func (s *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStateInitial {
		return &base.Response{StatusCode: base.StatusNotFound, StatusMessage: "this server does not play RTSP streams"}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

// OnRecord starts taking the publisher's packets.
func (s *Server) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	s.mu.Lock()
	p := s.pubs[ctx.Session]
	s.mu.Unlock()
	if p == nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, errors.New("RECORD without ANNOUNCE")
	}
	if c, ok := ctx.Conn.NetConn().(*setupConn); ok {
		c.recording()
	}
	src := newSource(p.st, p.sel, ctx.Session)
	s.mu.Lock()
	p.src = src
	s.mu.Unlock()
	p.flushSrc.Store(src)
	ctx.Session.OnPacketRTPAny(src.onPacket)
	ctx.Session.OnPacketRTCPAny(src.onRTCP)
	p.watching.Do(func() { go p.watch(&s.mu, ctx.Session, mediaTimeout(s.mediaTimeout)) })
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnPacketsLost notes packet loss (UDP) in the stream's log, at debug level.
func (s *Server) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	s.log.Debug("RTP packets lost", "lost", ctx.Lost)
}

// OnDecodeError notes undecodable packets, at debug level.
func (s *Server) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	s.log.Debug("RTP decode error", "err", ctx.Error)
}

// OnStreamWriteError never happens (nothing is played), but keeps gortsplib from logging on its own.
func (s *Server) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	s.log.Debug("RTP write error", "err", ctx.Error)
}

// publishApp is the first element of a path with several ("/live/cam1" → "live"), else "defaultApp".
func publishApp(path string) string {
	path = strings.Trim(path, "/")
	if i := strings.IndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "defaultApp"
}
