// Package webrtc is the WebRTC ingest: browsers publish here through the WCS signalling of
// package wcs. It answers a publisher's SDP offer with pion (ICE on the server's own host
// candidates, DTLS-SRTP, NACK, keyframe requests, transport-wide congestion feedback), puts
// the RTP packets of each track back in order and rebuilds whole frames with internal/rtp (its
// reorder buffer waits for the retransmissions asked for), and hands them, with the sender's
// RTCP sender reports, to the ingest stage (package ingest), which aligns audio with video and
// gives the stream media.Tracks and media.Frames in timestamp order.
package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/logging"
	pion "github.com/pion/webrtc/v4"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtp"
	"github.com/streamrec/streamrec/internal/stream"
)

// Config sets up the WebRTC ingest.
type Config struct {
	// PortFrom..PortTo is the UDP port range for media (media_port_from, media_port_to): each
	// publisher takes a port per local address from it. A range of one port (PortFrom == PortTo)
	// makes every publisher share that one port (ICE multiplexing by username fragment), which
	// suits firewalls and containers. Zero: any port.
	PortFrom, PortTo int
	// Formats returns record_formats of the current settings: the video codecs a publisher may
	// send are those it maps to a container. Nil: H.264 and VP8.
	Formats func() map[string]string
	// KeyframeInterval: a published stream is asked for a keyframe this often, so recordings stay
	// seekable and on-demand recordings start quickly (browsers send keyframes only when asked).
	// Zero: every 10 s; negative: never.
	KeyframeInterval time.Duration
	// ConnectTimeout: how long a publisher has to complete ICE and DTLS after the answer. Zero: 15 s.
	ConnectTimeout time.Duration
	// MaxPending returns the most publishers negotiating at once (offer answered, media not yet
	// flowing), read at each publish (max_pending_webrtc_sessions); nil or <= 0: no limit.
	MaxPending func() int
	// MediaTimeout returns media_timeout, read at each publish: a publisher whose RTP stops
	// that long while ICE and DTLS stay up is ended (a browser that vanishes is left to ICE,
	// which says so). Nil or <= 0: 10 s.
	MediaTimeout func() time.Duration
	// NAT: public addresses, the local address, ICE over TCP, STUN (see NAT). Zero: host
	// candidates over UDP only.
	NAT NAT
	Log *slog.Logger
}

// Engine creates publishers' peer connections. Safe for concurrent use.
type Engine struct {
	cfg Config
	api *pion.API
	mux ice.UDPMux   // the shared port, or nil
	tcp net.Listener // the ICE-TCP port, or nil
	log *slog.Logger

	refusals *lograte.Limiter // publishers refused for MaxPending: a log line per address per minute
	nacks    *nackFilters

	mu     sync.Mutex
	pubs   map[*Publisher]struct{}
	closed bool
}

// videoFeedback is the RTCP feedback we take for video: retransmission requests, keyframe
// requests (PLI, FIR) and transport-wide congestion control (so the browser raises its bitrate).
var videoFeedback = []pion.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}

// New sets up the media engine and the UDP ports.
func New(cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.KeyframeInterval == 0 {
		cfg.KeyframeInterval = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.MediaTimeout == nil {
		cfg.MediaTimeout = func() time.Duration { return 0 }
	}
	m := &pion.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	nacks := newNackFilters()
	ir.Add(nacks) // first: it sees what the NACK generator writes
	// NACK generator (and responder), RTCP receiver reports, TWCC feedback, stats.
	if err := pion.RegisterDefaultInterceptorsWithOptions(m, ir,
		pion.WithNackGeneratorOptions(nack.GeneratorSize(nackLog))); err != nil {
		return nil, fmt.Errorf("webrtc interceptors: %w", err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true) // a browser on the server's own machine, tests
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	se.LoggerFactory = quietLoggers{}
	// pion's default SRTP replay window (64 packets) is smaller than one keyframe: a
	// retransmission of its first packets would be dropped as a replay before the reorder buffer
	// sees it. The window covers everything the reorder buffer can hold back.
	se.SetSRTPReplayProtectionWindow(rtp.JitterRing)
	e := &Engine{cfg: cfg, log: cfg.Log.With("ingest", "webrtc"), pubs: map[*Publisher]struct{}{},
		refusals: lograte.New(time.Minute, 10_000), nacks: nacks}
	tcp, networks, err := cfg.NAT.apply(&se, []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	if err != nil {
		return nil, err
	}
	se.SetNetworkTypes(networks)
	e.tcp = tcp
	switch {
	case cfg.PortFrom > 0 && cfg.PortFrom == cfg.PortTo:
		mux, err := ice.NewMultiUDPMuxFromPort(cfg.PortFrom, ice.UDPMuxFromPortWithLoopback(),
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6))
		if err != nil {
			return nil, fmt.Errorf("media port %d: %w", cfg.PortFrom, err)
		}
		se.SetICEUDPMux(mux)
		e.mux = mux
	case cfg.PortFrom > 0 && cfg.PortTo > cfg.PortFrom:
		if err := se.SetEphemeralUDPPortRange(uint16(cfg.PortFrom), uint16(cfg.PortTo)); err != nil {
			return nil, fmt.Errorf("media ports %d-%d: %w", cfg.PortFrom, cfg.PortTo, err)
		}
	}
	e.api = pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
	if e.mux != nil {
		e.log.Info("webrtc media on one shared UDP port", "port", cfg.PortFrom, "addrs", fmt.Sprint(listenAddrs(e.mux)))
	} else {
		e.log.Info("webrtc media ports", "from", cfg.PortFrom, "to", cfg.PortTo)
	}
	if n := cfg.NAT; len(n.PublicIPs) > 0 || n.LocalIP != "" || n.TCPPort != 0 || len(n.STUN) > 0 {
		e.log.Info("webrtc behind NAT", "ip", fmt.Sprint(n.PublicIPs), "ip_local", n.LocalIP, "ice_tcp_port", n.TCPPort, "stun", fmt.Sprint(n.STUN))
	}
	return e, nil
}

// registerCodecs lists what we can record. Payload types here are only defaults: an answer
// uses the offer's own numbers.
func registerCodecs(m *pion.MediaEngine) error {
	video := []pion.RTPCodecParameters{}
	pt := pion.PayloadType(96)
	add := func(mime, fmtp string) {
		video = append(video,
			pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: videoFeedback}, PayloadType: pt},
			pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", pt)}, PayloadType: pt + 1})
		pt += 2
	}
	for _, plid := range []string{"42e01f", "42001f", "4d001f", "64001f", "640c1f"} {
		add(pion.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="+plid)
	}
	add(pion.MimeTypeVP8, "")
	for _, c := range video {
		if err := m.RegisterCodec(c, pion.RTPCodecTypeVideo); err != nil {
			return err
		}
	}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	} {
		if err := m.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	return nil
}

func listenAddrs(m ice.UDPMux) []string {
	var out []string
	for _, a := range m.GetListenAddresses() {
		out = append(out, a.String())
	}
	return out
}

// formats returns the current record_formats.
func (e *Engine) formats() map[string]string {
	if e.cfg.Formats != nil {
		if f := e.cfg.Formats(); len(f) > 0 {
			return f
		}
	}
	return media.DefaultFormats()
}

// ErrClosed refuses publishers once the engine is closed.
var ErrClosed = errors.New("the WebRTC ingest is shut down")

// ErrTooManyPending refuses a publisher while max_pending_webrtc_sessions others negotiate.
var ErrTooManyPending = errors.New("too many WebRTC publishers are negotiating")

func (e *Engine) add(p *Publisher) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if max := e.maxPending(); max > 0 {
		pending := 0
		for q := range e.pubs {
			if !q.ing.flowing.Load() {
				pending++
			}
		}
		if pending >= max {
			return fmt.Errorf("%w: %d, the most allowed (max_pending_webrtc_sessions); try again later", ErrTooManyPending, pending)
		}
	}
	e.pubs[p] = struct{}{}
	return nil
}

func (e *Engine) maxPending() int {
	if e.cfg.MaxPending == nil {
		return 0
	}
	return e.cfg.MaxPending()
}

// refused logs a refused publisher, at most once per address per minute.
func (e *Engine) refused(st *stream.Stream, err error) {
	host := remoteHost(st.ID().SessionID)
	if ok, hidden := e.refusals.Allow(host); ok {
		st.Log().Warn("webrtc publish refused", "remote", host, "err", err, "refused_since_last_line", hidden)
	}
}

// remoteHost is the client's address in a WCS session id ("/remote:port/local:port").
func remoteHost(sessionID string) string {
	remote, _, _ := strings.Cut(strings.TrimPrefix(sessionID, "/"), "/")
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

func (e *Engine) forget(p *Publisher) {
	e.mu.Lock()
	delete(e.pubs, p)
	e.mu.Unlock()
}

// Close ends every publication (unpublishing its stream, so its recording is finished) and
// frees the media ports.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	list := make([]*Publisher, 0, len(e.pubs))
	for p := range e.pubs {
		list = append(list, p)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.End("")
		}()
	}
	wg.Wait()
	if e.mux != nil {
		e.mux.Close()
	}
	if e.tcp != nil {
		e.tcp.Close()
	}
}

// quietLoggers keeps pion's own logging to errors, on stderr as pion does by default; our
// publishers log what matters with slog.
type quietLoggers struct{}

func (quietLoggers) NewLogger(scope string) logging.LeveledLogger {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelError
	return f.NewLogger(scope)
}
