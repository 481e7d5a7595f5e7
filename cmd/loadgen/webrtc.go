package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// sample is one pre-encoded frame (video) or packet (audio).
type sample struct {
	data []byte
	dur  time.Duration
	key  bool
}

// webrtcSource publishes H.264 or VP8 with Opus through the WCS signalling.
type webrtcSource struct {
	target string
	record bool
	mime   string // video MIME type
	fmtp   string
	video  []sample
	audio  []sample
	// opusFmtp is the Opus fmtp of the offer: sprop-stereo=1 only when the Ogg file is
	// stereo, as a browser says it (a browser's microphone is mono, and so is its offer).
	opusFmtp string
	api      *webrtc.API
	// signalling sends the offer: WCS (nil) or WHIP.
	signalling negotiate
}

func newWebRTCSource(c config) (*webrtcSource, error) {
	u, err := url.Parse(c.target)
	if err != nil {
		return nil, err
	}
	if err := loopbackOnly(u.Host); err != nil {
		return nil, err
	}
	w := &webrtcSource{target: c.target, record: c.record}
	switch c.video {
	case "h264":
		w.mime, w.fmtp = webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
		w.video, err = readAnnexB(c.h264, 30)
	case "vp8":
		w.mime = webrtc.MimeTypeVP8
		w.video, err = readIVF(c.vp8)
	default:
		return nil, fmt.Errorf("unknown -video %q", c.video)
	}
	if err != nil {
		return nil, err
	}
	w.opusFmtp = "minptime=10;useinbandfec=1"
	if c.opus != "" {
		var channels int
		if w.audio, channels, err = readOgg(c.opus); err != nil {
			return nil, err
		}
		if channels == 2 {
			w.opusFmtp += ";sprop-stereo=1"
		}
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: w.mime, ClockRate: 90000, SDPFmtpLine: w.fmtp,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 102,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: w.opusFmtp},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	// NACK responder, sender reports (the server aligns audio and video by them).
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	w.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return w, nil
}

// readAnnexB splits an H.264 Annex-B stream into access units at its access unit delimiters.
func readAnnexB(path string, fps int) ([]sample, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []sample
	start := -1
	key := false
	for i := 0; i+3 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 || !(b[i+2] == 1 || b[i+2] == 0 && b[i+3] == 1) {
			continue
		}
		sc := i
		hdr := i + 3
		if b[i+2] == 0 {
			hdr++
		}
		if hdr >= len(b) {
			break
		}
		switch b[hdr] & 0x1f {
		case 9: // access unit delimiter: a new access unit
			if start >= 0 {
				out = append(out, sample{data: b[start:sc], dur: time.Second / time.Duration(fps), key: key})
			}
			start, key = sc, false
		case 5:
			key = true
		}
		i = hdr
	}
	if start >= 0 {
		out = append(out, sample{data: b[start:], dur: time.Second / time.Duration(fps), key: key})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no access unit delimiters (encode with -x264-params aud=1)", path)
	}
	if !out[0].key {
		return nil, fmt.Errorf("%s: does not begin with a keyframe", path)
	}
	return out, nil
}

func readIVF(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, h, err := ivfreader.NewWith(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dur := time.Second * time.Duration(h.TimebaseNumerator) / time.Duration(h.TimebaseDenominator)
	var out []sample
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, sample{data: frame, dur: dur, key: len(frame) > 0 && frame[0]&1 == 0})
	}
	if len(out) == 0 || !out[0].key {
		return nil, fmt.Errorf("%s: empty or not beginning with a keyframe", path)
	}
	return out, nil
}

// readOgg reads Opus packets, one per page (ffmpeg -page_duration 20000), and the channel
// count of the OpusHead.
func readOgg(path string) ([]sample, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, head, err := oggreader.NewWith(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	var out []sample
	var last uint64
	for {
		page, h, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		if bytes.HasPrefix(page, []byte("OpusTags")) || len(page) == 0 {
			continue
		}
		dur := 20 * time.Millisecond
		if h.GranulePosition > last && last > 0 {
			dur = time.Duration(h.GranulePosition-last) * time.Second / 48000
		}
		last = h.GranulePosition
		out = append(out, sample{data: page, dur: dur, key: true})
	}
	if len(out) == 0 {
		return nil, 0, fmt.Errorf("%s: no Opus packets", path)
	}
	return out, int(head.Channels), nil
}

// wcsConn is a WCS signalling session.
type wcsConn struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	frames chan wcsFrame
}

type wcsFrame struct {
	Message string            `json:"message"`
	Data    []json.RawMessage `json:"data"`
}

func dialWCS(ctx context.Context, target string) (*wcsConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.DialContext(ctx, target, nil)
	if err != nil {
		return nil, err
	}
	c := &wcsConn{ws: ws, frames: make(chan wcsFrame, 64)}
	go func() {
		defer close(c.frames)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var f wcsFrame
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			if f.Message == "ping" {
				c.send("pong", nil)
				continue
			}
			select {
			case c.frames <- f:
			default: // nobody waits for status events this far into the run
			}
		}
	}()
	return c, nil
}

func (c *wcsConn) send(message string, data any) error {
	b, err := json.Marshal(map[string]any{"message": message, "data": []any{data}})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// await returns the next frame for which ok is true; "fail" frames end the wait with an error.
func (c *wcsConn) await(timeout time.Duration, ok func(wcsFrame) bool) (wcsFrame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f, open := <-c.frames:
			if !open {
				return f, errors.New("signalling connection closed")
			}
			if f.Message == "fail" {
				return f, fmt.Errorf("server: %s", string(f.Data[0]))
			}
			if ok(f) {
				return f, nil
			}
		case <-t.C:
			return wcsFrame{}, errors.New("signalling: timed out")
		}
	}
}

type statusEvent struct {
	MediaSessionID string `json:"mediaSessionId"`
	Status         string `json:"status"`
	Info           string `json:"info"`
}

func statusOf(f wcsFrame, id string) (statusEvent, bool) {
	var ev statusEvent
	if f.Message != "notifyStreamStatusEvent" || len(f.Data) == 0 || json.Unmarshal(f.Data[0], &ev) != nil {
		return ev, false
	}
	return ev, ev.MediaSessionID == id
}

func (w *webrtcSource) publish(ctx context.Context, release <-chan struct{}, _ int, name string, st *streamStats) error {
	sig := w.signalling
	if sig == nil {
		sig = negotiateWCS
	}
	pc, err := w.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: w.mime, ClockRate: 90000, SDPFmtpLine: w.fmtp}, "video", name)
	if err != nil {
		return err
	}
	tracks := []*webrtc.TrackLocalStaticSample{vt}
	if len(w.audio) > 0 {
		at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: w.opusFmtp}, "audio", name)
		if err != nil {
			return err
		}
		tracks = append(tracks, at)
	}
	for _, t := range tracks {
		s, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		go drainRTCP(s.Sender())
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	answer, unpublish, err := sig(ctx, w, name, pc.LocalDescription().SDP, st)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: loopbackCandidates(answer)}); err != nil {
		return err
	}
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		return errors.New("ICE/DTLS did not connect within 20 s")
	case <-ctx.Done():
		return ctx.Err()
	}

	// Send both tracks paced on one clock; each loops over its file with continuous timing.
	start := time.Now()
	st.start(start)
	defer st.end()
	type cursor struct {
		track   *webrtc.TrackLocalStaticSample
		samples []sample
		i       int
		at      time.Duration
		video   bool
	}
	cur := []*cursor{{track: vt, samples: w.video, video: true}}
	if len(tracks) > 1 {
		cur = append(cur, &cursor{track: tracks[1], samples: w.audio})
	}
	for {
		c := cur[0]
		if len(cur) > 1 && cur[1].at < c.at {
			c = cur[1]
		}
		if err := st.wait(ctx, start, c.at); err != nil {
			break
		}
		s := c.samples[c.i%len(c.samples)]
		if err := c.track.WriteSample(media.Sample{Data: s.data, Duration: s.dur}); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		st.sent(c.video, c.video && s.key, len(s.data))
		c.i++
		c.at += s.dur
	}
	st.end()
	<-release
	return unpublish()
}

// negotiate sends the offer of stream name and returns the answer and how to unpublish (which
// returns once the recording is finished).
type negotiate func(ctx context.Context, w *webrtcSource, name, offer string, st *streamStats) (answer string, unpublish func() error, err error)

// negotiateWCS publishes over WCS signalling (the Web SDK's WebSocket protocol).
func negotiateWCS(ctx context.Context, w *webrtcSource, name, offer string, st *streamStats) (string, func() error, error) {
	sig, err := dialWCS(ctx, w.target)
	if err != nil {
		return "", nil, fmt.Errorf("signalling: %w", err)
	}
	fail := func(err error) (string, func() error, error) {
		sig.ws.Close()
		return "", nil, err
	}
	if err := sig.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}, "clientVersion": "2.0"}); err != nil {
		return fail(err)
	}
	if _, err := sig.await(10*time.Second, func(f wcsFrame) bool { return f.Message == "getUserData" }); err != nil {
		return fail(err)
	}
	id := uuid.NewString()
	st.MediaSessionID = id
	if err := sig.send("publishStream", map[string]any{
		"mediaSessionId": id, "name": name, "published": true, "hasVideo": true, "hasAudio": len(w.audio) > 0,
		"status": "PENDING", "record": w.record, "mediaProvider": "WebRTC", "sdp": offer,
	}); err != nil {
		return fail(err)
	}
	f, err := sig.await(20*time.Second, func(f wcsFrame) bool {
		if ev, ok := statusOf(f, id); ok && ev.Status == "FAILED" {
			return true
		}
		return f.Message == "setRemoteSDP"
	})
	if err != nil {
		return fail(err)
	}
	if ev, ok := statusOf(f, id); ok {
		return fail(fmt.Errorf("publish refused: %s", ev.Info))
	}
	var answer string
	if len(f.Data) < 2 || json.Unmarshal(f.Data[1], &answer) != nil {
		return fail(errors.New("setRemoteSDP without an answer"))
	}
	return answer, func() error {
		defer sig.ws.Close()
		if err := sig.send("unPublishStream", map[string]any{"mediaSessionId": id, "name": name}); err != nil {
			return err
		}
		// The UNPUBLISHED event comes once the recording is finished.
		_, err := sig.await(30*time.Second, func(f wcsFrame) bool {
			ev, ok := statusOf(f, id)
			return ok && (ev.Status == "UNPUBLISHED" || ev.Status == "FAILED")
		})
		return err
	}, nil
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// loopbackCandidates drops the answer's candidates that are not on loopback: the load stays
// on this machine.
func loopbackCandidates(sdp string) string {
	lines := strings.Split(sdp, "\r\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "a=candidate:") {
			f := strings.Fields(l)
			if len(f) > 4 {
				if ip := net.ParseIP(f[4]); ip == nil || !ip.IsLoopback() {
					continue
				}
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}
