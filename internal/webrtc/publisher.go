package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtp"
	"github.com/streamrec/streamrec/internal/sdplimit"
	"github.com/streamrec/streamrec/internal/stream"
)

// Reorder waits: video waits for retransmissions (we NACK), audio only for reordering
// (browsers do not retransmit audio). The video wait starts at videoReorderWait, long enough
// for two NACK rounds at 100 ms round trip, then follows the delays of the retransmissions
// that arrive (see rtp.Jitter.Adapt), within videoReorderMin..videoReorderMax.
const (
	videoReorderWait = 700 * time.Millisecond
	videoReorderMin  = 300 * time.Millisecond
	videoReorderMax  = 2 * time.Second
	audioReorderWait = 80 * time.Millisecond
	reorderPackets   = 1500
	gatherTimeout    = 5 * time.Second
	tickEvery        = 100 * time.Millisecond
)

// The SDK's ERROR_INFO texts for the failures a publisher can meet.
const (
	infoICETimeout   = "Failed by ICE timeout"
	infoICEKeepAlive = "Failed by ICE keep alive"
)

// Publisher is one browser publishing one stream.
type Publisher struct {
	e   *Engine
	st  *stream.Stream
	pc  *pion.PeerConnection
	ing *ingest
	log *slog.Logger
	off *offer
	nak *nackFilter // keeps NACKs to what the video reorder buffer still waits for

	mu          sync.Mutex
	closing     bool
	connected   bool
	connectedAt time.Time
	videoSSRC   uint32
	asks        int
	firSeq      uint8
	fir         bool // the browser takes FIR
	taken       map[media.Kind]bool
	wg          sync.WaitGroup
	started     time.Time

	// Media timeout: lastMedia is when the last RTP packet with a payload came (Unix ns);
	// RTCP, ICE and DTLS do not count.
	timeout   time.Duration
	lastMedia atomic.Int64

	stop    chan struct{}
	done    chan struct{} // closed once End has finished the stream
	endOnce sync.Once
}

// defaultMediaTimeout is media_timeout's default.
const defaultMediaTimeout = 10 * time.Second

// Publish negotiates the publication of st from the browser's SDP offer and returns the SDP
// answer, which holds all the server's ICE candidates (the Web SDK does not trickle). From here
// on the publisher owns st: it publishes it when media arrives and ends it (UNPUBLISHED, or
// FAILED with the reason) when the browser goes away, End is called, or the offer cannot be
// recorded, which Publish reports as an error after failing st.
func (e *Engine) Publish(st *stream.Stream, offerSDP string) (*Publisher, string, error) {
	log := st.Log()
	fail := func(info string, err error) (*Publisher, string, error) {
		st.Fail(info)
		return nil, "", err
	}
	off, err := parseOffer(offerSDP, e.formats())
	if err != nil {
		if errors.Is(err, sdplimit.ErrTooLarge) || errors.Is(err, sdplimit.ErrTooManyMedias) {
			e.refused(st, err)
		}
		if errors.Is(err, ErrNoCommonCodec) {
			return fail(err.Error(), err)
		}
		return fail("Failed by error: "+err.Error(), err)
	}
	pc, err := e.api.NewPeerConnection(pion.Configuration{ICEServers: e.cfg.NAT.iceServers()})
	if err != nil {
		return fail("Failed by error: "+err.Error(), err)
	}
	p := &Publisher{e: e, st: st, pc: pc, log: log, off: off, stop: make(chan struct{}), done: make(chan struct{}),
		taken: map[media.Kind]bool{}, started: time.Now(), nak: e.nacks.of(pc.ID())}
	p.ing = newIngest(st, log, p.requestKeyframe, p.End, e.cfg.KeyframeInterval)
	if p.timeout = e.cfg.MediaTimeout(); p.timeout <= 0 {
		p.timeout = defaultMediaTimeout
	}
	if err := e.add(p); err != nil {
		pc.Close()
		if errors.Is(err, ErrTooManyPending) {
			e.refused(st, err)
		}
		return fail("Failed by error: "+err.Error(), err)
	}
	answer, err := p.negotiate(offerSDP)
	if err != nil {
		p.End("Failed by error: " + err.Error())
		return nil, "", err
	}
	st.SetKeyframeRequest(func() { p.requestKeyframe() })
	p.wg.Add(1)
	go p.run()
	log.Info("webrtc publisher answered", "video", codecName(off.video), "audio", codecName(off.audio))
	return p, answer, nil
}

func codecName(s *section) string {
	if s == nil {
		return "none"
	}
	if strings.EqualFold(s.chosen.Name, "h264") {
		return "H264 " + fmtpParams(s.chosen.Fmtp)["profile-level-id"]
	}
	return s.chosen.Name
}

// negotiate applies the offer, prefers the codecs we record best and returns the answer once
// ICE gathering is complete.
func (p *Publisher) negotiate(offerSDP string) (string, error) {
	p.pc.OnTrack(p.onTrack)
	p.pc.OnConnectionStateChange(p.onState)
	if err := p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offerSDP}); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	for _, t := range p.pc.GetTransceivers() {
		var s *section
		for _, c := range []*section{p.off.video, p.off.audio} {
			if c != nil && c.mid == t.Mid() {
				s = c
			}
		}
		if s == nil {
			continue
		}
		if err := t.SetCodecPreferences(s.prefs); err != nil {
			return "", fmt.Errorf("codec preferences: %w", err)
		}
	}
	for _, s := range []*section{p.off.video, p.off.audio} {
		if s == nil {
			continue
		}
		codec, rate := mediaCodec(s.chosen.Name), int(s.chosen.ClockRate)
		p.ing.expect(s.kind, codec, rate, opusChannels(s.offered))
		if s.kind == media.Video {
			p.fir = hasFeedback(s.chosen.RTCPFeedback, "ccm fir")
			if len(s.sps) > 0 && len(s.pps) > 0 {
				p.ing.sdpSPS, p.ing.sdpPPS = s.sps[0], s.pps[0]
			}
		}
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	gathered := pion.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("answer: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", errors.New("ICE candidate gathering did not complete")
	}
	return p.pc.LocalDescription().SDP, nil
}

func hasFeedback(fb []string, want string) bool {
	for _, f := range fb {
		if strings.EqualFold(strings.TrimSpace(f), want) {
			return true
		}
	}
	return false
}

// mediaCodec maps an SDP codec name to the media model's codec.
func mediaCodec(name string) media.Codec {
	switch strings.ToLower(name) {
	case "h264":
		return media.H264
	case "vp8":
		return media.VP8
	case "opus":
		return media.Opus
	case "pcmu":
		return media.PCMU
	case "pcma":
		return media.PCMA
	}
	return media.Codec(name)
}

func (p *Publisher) onState(s pion.PeerConnectionState) {
	switch s {
	case pion.PeerConnectionStateConnected:
		p.mu.Lock()
		first := !p.connected
		if first {
			p.connected, p.connectedAt = true, time.Now()
		}
		p.mu.Unlock()
		if first {
			p.log.Info("webrtc connected", "after", time.Since(p.started).Round(time.Millisecond).String())
		}
	case pion.PeerConnectionStateDisconnected:
		p.log.Warn("webrtc disconnected: waiting for the browser to come back")
	case pion.PeerConnectionStateFailed:
		p.mu.Lock()
		connected := p.connected
		p.mu.Unlock()
		if connected {
			p.End(infoICEKeepAlive)
		} else {
			p.End(infoICETimeout)
		}
	case pion.PeerConnectionStateClosed:
		// The browser closed the connection (DTLS close_notify): it stopped publishing.
		p.End("")
	}
}

// onTrack reads one incoming track until the connection closes.
func (p *Publisher) onTrack(t *pion.TrackRemote, r *pion.RTPReceiver) {
	kind := media.Audio
	if t.Kind() == pion.RTPCodecTypeVideo {
		kind = media.Video
	}
	codec := mediaCodec(strings.TrimPrefix(strings.TrimPrefix(t.Codec().MimeType, "video/"), "audio/"))
	p.mu.Lock()
	if p.closing || p.taken[kind] {
		p.mu.Unlock()
		return
	}
	p.taken[kind] = true
	if kind == media.Video {
		p.videoSSRC = uint32(t.SSRC())
	}
	p.wg.Add(2)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		p.readRTCP(r)
	}()
	defer p.wg.Done()
	p.log.Info("webrtc track", "kind", kind.String(), "codec", t.Codec().MimeType, "ssrc", uint32(t.SSRC()),
		"fmtp", t.Codec().SDPFmtpLine)
	p.readRTP(t, kind, codec)
}

// readRTP puts a track's packets in order, rebuilds frames and hands them to the ingest.
func (p *Publisher) readRTP(t *pion.TrackRemote, kind media.Kind, codec media.Codec) {
	jb := rtp.NewJitter(audioReorderWait, reorderPackets)
	if kind == media.Video {
		jb = rtp.NewJitter(videoReorderWait, reorderPackets)
		jb.Adapt(videoReorderMin, videoReorderMax)
		defer func() {
			recovered, gaveUp := jb.Stats()
			p.log.Info("webrtc video losses", "recovered", recovered, "given_up", gaveUp,
				"reorder_wait", jb.Wait().Round(time.Millisecond).String())
		}()
	}
	oversized := false
	asm := rtp.For(codec, rtp.Options{Oversize: func(size int) {
		if !oversized { // once per track: a publisher that does it does it to every frame
			oversized = true
			p.log.Warn("video frame dropped: it grew past the reassembly cap; asking for a keyframe",
				"kind", kind.String(), "bytes", size, "max", rtp.MaxFrameBytes)
		}
	}})
	pt := t.PayloadType()
	first, otherPT, failures := true, false, 0
	ssrc := uint32(t.SSRC())
	drain := func(now time.Time) {
		for {
			pkt, lost := jb.Pop(now)
			if pkt == nil {
				if next, ok := jb.Awaited(); kind == media.Video && ok {
					p.nak.awaiting(ssrc, next)
				}
				return
			}
			frames, l := asm.Push(pkt, lost) // a loss is told with the first frame after it, or alone
			if len(frames) == 0 && l {
				p.ing.frame(kind, nil, l, now)
			}
			for i := range frames {
				p.ing.frame(kind, &frames[i], l && i == 0, now)
			}
		}
	}
	for {
		deadline := time.Time{}
		if jb.Waiting() {
			deadline = time.Now().Add(jb.Wait() / 4)
		}
		t.SetReadDeadline(deadline)
		pkt, _, err := t.ReadRTP()
		now := time.Now()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				drain(now)
				continue
			}
			if errors.Is(err, io.EOF) || p.isClosing() {
				return
			}
			if failures++; failures > 100 {
				// Not a packet now and then but a reader that is broken: end cleanly.
				go p.End("Failed by error: reading " + kind.String() + " RTP: " + err.Error())
				return
			}
			continue
		}
		failures = 0
		if pkt.PayloadType != uint8(pt) {
			if !otherPT {
				otherPT = true
				p.log.Warn("packets of another payload type than negotiated are ignored", "kind", kind.String(), "pt", pkt.PayloadType, "want", uint8(pt))
			}
			continue
		}
		if len(pkt.Payload) > 0 {
			p.lastMedia.Store(now.UnixNano())
		}
		if first {
			first = false
			p.ing.first(kind, codec, int(t.Codec().ClockRate), uint32(t.SSRC()), pkt.Timestamp, now)
		}
		jb.Push(pkt, now)
		drain(now)
	}
}

// readRTCP takes the browser's sender reports (and lets the interceptors see its RTCP).
func (p *Publisher) readRTCP(r *pion.RTPReceiver) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if sr, ok := pkt.(*rtcp.SenderReport); ok {
				p.ing.senderReport(sr.SSRC, sr.NTPTime, sr.RTPTime)
			}
		}
	}
}

func (p *Publisher) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// requestKeyframe asks the browser for a video keyframe: PLI, and FIR every other time when the
// browser takes it (some encoders answer only one of them).
func (p *Publisher) requestKeyframe() {
	p.mu.Lock()
	ssrc, closing := p.videoSSRC, p.closing
	p.asks++
	pkts := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}
	if p.fir && p.asks%2 == 0 {
		p.firSeq++
		pkts = append(pkts, &rtcp.FullIntraRequest{MediaSSRC: ssrc, FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: p.firSeq}}})
	}
	p.mu.Unlock()
	if ssrc == 0 || closing {
		return
	}
	if err := p.pc.WriteRTCP(pkts); err != nil {
		p.log.Debug("keyframe request not sent", "err", err)
	}
}

// run ticks the ingest and gives up on a browser that never connects.
func (p *Publisher) run() {
	defer p.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.ing.tick(now)
			p.mu.Lock()
			late := !p.connected && now.Sub(p.started) > p.e.cfg.ConnectTimeout
			silent := p.connected && now.Sub(p.connectedAt) > firstKeyframeWait
			p.mu.Unlock()
			if late {
				go p.End(infoICETimeout)
				return
			}
			if silent && !p.ing.media() {
				go p.End(fmt.Sprintf("Failed by RTP activity: no media within %v of connecting", firstKeyframeWait))
				return
			}
			if p.stalled(now) {
				go p.End(fmt.Sprintf("Failed by RTP activity: no media for %d s", int(p.timeout/time.Second)))
				return
			}
		}
	}
}

// stalled tells whether media came and then stopped for the media timeout while the
// connection stays up: the publisher's encoder or capture stalled. While ICE is disconnected,
// ICE decides (Failed by ICE keep alive).
func (p *Publisher) stalled(now time.Time) bool {
	last := p.lastMedia.Load()
	return last != 0 && now.Sub(time.Unix(0, last)) >= p.timeout &&
		p.pc.ConnectionState() == pion.PeerConnectionStateConnected
}

// End ends the publication: it closes the peer connection, hands the stream the frames still
// waiting, then unpublishes it (reason "") or fails it with reason. The stream's recording is
// finished when End returns. Safe to call more than once and from any goroutine.
func (p *Publisher) End(reason string) {
	p.endOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.mu.Unlock()
		close(p.stop)
		if err := p.pc.Close(); err != nil {
			p.log.Debug("peer connection close", "err", err)
		}
		p.wg.Wait()
		p.ing.flush()
		p.st.SetKeyframeRequest(nil)
		if reason == "" {
			p.st.Unpublish()
		} else {
			p.log.Warn("webrtc publisher failed", "info", reason)
			p.st.Fail(reason)
		}
		p.e.forget(p)
		close(p.done)
	})
}

// Done is closed once the publication has ended and its stream is finished (End returned),
// whoever ended it: the publisher, a timeout, End.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// ErrICEMismatch: trickled candidates name other ICE credentials than the offer's (an ICE
// restart, which this ingest does not do).
var ErrICEMismatch = errors.New("the ICE username fragment or password is not this session's")

// AddCandidates adds remote ICE candidates the publisher trickles after its offer (WHIP PATCH).
// ufrag and pwd, when given, must be the offer's. mid names each candidate's media section; an
// empty candidate (end-of-candidates) is skipped.
func (p *Publisher) AddCandidates(ufrag, pwd string, cands []Candidate) error {
	if ufrag != "" || pwd != "" {
		if u, w, ok := p.remoteCredentials(); !ok || (ufrag != "" && ufrag != u) || (pwd != "" && pwd != w) {
			return ErrICEMismatch
		}
	}
	for _, c := range cands {
		init := pion.ICECandidateInit{Candidate: c.Line}
		if c.Mid != "" {
			init.SDPMid = &c.Mid
		}
		if err := p.pc.AddICECandidate(init); err != nil {
			return fmt.Errorf("candidate %q: %w", c.Line, err)
		}
	}
	return nil
}

// Candidate is one trickled ICE candidate: the a=candidate value ("candidate:..." without "a=")
// and the mid of its media section ("" when the fragment names none).
type Candidate struct {
	Mid, Line string
}

// remoteCredentials are the ICE username fragment and password of the publisher's offer.
func (p *Publisher) remoteCredentials() (ufrag, pwd string, ok bool) {
	d := p.pc.RemoteDescription()
	if d == nil {
		return "", "", false
	}
	parsed, err := d.Unmarshal()
	if err != nil {
		return "", "", false
	}
	get := func(key string) string {
		if v, ok := parsed.Attribute(key); ok {
			return v
		}
		for _, m := range parsed.MediaDescriptions {
			if v, ok := m.Attribute(key); ok {
				return v
			}
		}
		return ""
	}
	return get("ice-ufrag"), get("ice-pwd"), true
}
