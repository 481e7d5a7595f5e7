package wcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/google/uuid"

	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webrtc"
)

// session is one signalling connection: one Web SDK Session.
type session struct {
	srv  *Server
	conn *websocket.Conn
	log  *slog.Logger
	id   string // WCS session id, "/remote/local"

	out    chan []byte
	closed bool // out is closed (under mu)
	wg     sync.WaitGroup

	mu        sync.Mutex
	connected bool
	appKey    string
	login     string
	token     string
	streams   map[string]*published // by mediaSessionId, ended ones included
	captured  []string              // rtsp:// URLs this session's playStream captured
}

// published is a stream this session publishes.
type published struct {
	st     *stream.Stream
	pub    *webrtc.Publisher
	status stream.Status // last status sent to the client
	ended  bool
}

// frameIn is a client frame.
type frameIn struct {
	Message string            `json:"message"`
	Data    []json.RawMessage `json:"data"`
}

// frameOut is a server frame: data is always an array.
type frameOut struct {
	Message string `json:"message"`
	Data    []any  `json:"data"`
}

func newSession(srv *Server, c *websocket.Conn) *session {
	id := remoteID(c.RemoteAddr(), c.LocalAddr())
	return &session{
		srv: srv, conn: c, id: id,
		log:     srv.log.With("session", id),
		out:     make(chan []byte, outQueue),
		streams: map[string]*published{},
	}
}

// run reads frames until the connection ends, then unpublishes the session's streams.
func (se *session) run() {
	se.log.Info("signalling connected")
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		se.write()
	}()
	se.conn.SetReadLimit(hardLimit)
	max := se.srv.cfg.MaxMessage
	var err error
	for {
		se.conn.SetReadDeadline(time.Now().Add(3 * se.srv.cfg.PingInterval))
		var kind int
		var r io.Reader
		kind, r, err = se.conn.NextReader()
		if err != nil {
			break
		}
		var data []byte
		data, err = io.ReadAll(io.LimitReader(r, int64(max)+1))
		if err != nil {
			break
		}
		if len(data) > max {
			var n int64
			n, err = io.Copy(io.Discard, r)
			if err != nil {
				break
			}
			se.fail("", fmt.Sprintf("message too large: %d bytes, at most %d are accepted", int64(len(data))+n, max))
			continue
		}
		if kind != websocket.TextMessage {
			se.fail("", "binary frames are not part of the protocol: send JSON text frames")
			continue
		}
		se.handle(data)
	}
	se.log.Info("signalling disconnected", "err", err)
	se.end()
	se.conn.Close()
	<-writerDone
}

// end unpublishes every stream still published by the session, finishing their recordings.
func (se *session) end() {
	se.mu.Lock()
	var pubs []*published
	for id, p := range se.streams {
		if !p.ended {
			pubs = append(pubs, p)
		}
		se.srv.disown(id, se)
	}
	se.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.pub != nil {
				p.pub.End("")
			} else {
				p.st.Unpublish()
			}
		}()
	}
	wg.Wait()
	se.wg.Wait() // unPublishStream requests still finishing
	se.mu.Lock()
	captured := se.captured
	se.captured = nil
	se.mu.Unlock()
	for _, uri := range captured {
		se.srv.cfg.Cameras.Release(uri)
	}
	se.mu.Lock()
	se.closed = true
	close(se.out)
	se.mu.Unlock()
}

// write sends queued frames and pings until the queue is closed.
func (se *session) write() {
	ping := time.NewTicker(se.srv.cfg.PingInterval)
	defer ping.Stop()
	pingFrame, _ := json.Marshal(frameOut{Message: "ping", Data: []any{nil}})
	broken := false
	send := func(b []byte) {
		if broken {
			return
		}
		se.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := se.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			broken = true
			se.conn.Close() // the reader notices and ends the session
		}
	}
	for {
		select {
		case b, ok := <-se.out:
			if !ok {
				return
			}
			send(b)
		case <-ping.C:
			send(pingFrame)
		}
	}
}

// send queues a frame. A client that lets outQueue frames pile up is disconnected.
func (se *session) send(message string, data ...any) {
	if len(data) == 0 {
		data = []any{nil}
	}
	b, err := json.Marshal(frameOut{Message: message, Data: data})
	if err != nil {
		se.log.Error("frame not encoded", "message", message, "err", err)
		return
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.closed {
		return
	}
	select {
	case se.out <- b:
	default:
		se.log.Warn("signalling client too slow: disconnecting", "err", errSlowClient)
		se.conn.Close()
	}
}

// warnRefused logs a refusal, once a minute per client address (with the count kept quiet).
func (se *session) warnRefused(msg string, args ...any) {
	host, _, _ := net.SplitHostPort(se.conn.RemoteAddr().String())
	if ok, hidden := se.srv.refusals.Allow(host); ok {
		se.log.Warn(msg, append(args, "refusedSinceLastLine", hidden)...)
	}
}

// fail answers a frame that cannot be handled; the connection stays open.
func (se *session) fail(apiMethod, info string) {
	se.warnRefused("signalling request refused", "message", apiMethod, "info", info)
	var m any
	if apiMethod != "" {
		m = apiMethod
	}
	se.send("fail", map[string]any{"apiMethod": m, "info": info})
}

// handle dispatches one client frame.
func (se *session) handle(raw []byte) {
	var f frameIn
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil {
		se.fail("", "malformed JSON: "+err.Error())
		return
	}
	if f.Message == "" {
		se.fail("", `malformed message: it needs a "message" name and a "data" array`)
		return
	}
	var obj json.RawMessage
	if len(f.Data) > 0 {
		obj = f.Data[0]
	}
	switch f.Message {
	case "connection":
		se.connection(obj)
	case "ping":
		se.send("pong")
	case "pong", "pushLogs", "submitBugReport", "sendStreamEvent", "stopStream":
		// Keep-alive answers, logs, mute notices, stopping a playback we never started.
	case "sessionDebug":
		se.send("notifySessionDebugEvent", map[string]any{"status": "NOT_SUPPORTED"})
	case "publishStream":
		se.publish(obj)
	case "unPublishStream":
		se.unpublish(obj)
	case "playStream":
		se.play(obj)
	case "availableStream":
		se.available(obj)
	case "sendData":
		var d struct {
			OperationID string `json:"operationId"`
		}
		_ = json.Unmarshal(obj, &d)
		se.send("DataStatusEvent", map[string]any{"operationId": d.OperationID, "status": "FAILED",
			"info": "this server has no REST application to pass data to"})
	case "call", "answer", "hangup", "hold", "unhold", "transfer", "sendDtmf", "sendMessage", "sendIMResponse":
		se.fail(f.Message, "SIP calls are not supported by this server")
	case "snapshot":
		se.fail(f.Message, "snapshots are not supported by this server")
	default:
		se.fail(f.Message, fmt.Sprintf("unknown message %q", f.Message))
	}
}

// connection starts the session: the server answers getUserData, and the SDK goes ESTABLISHED.
func (se *session) connection(obj json.RawMessage) {
	var c struct {
		AppKey   string         `json:"appKey"`
		Custom   map[string]any `json:"custom"`
		SipLogin string         `json:"sipLogin"`
	}
	if len(obj) > 0 && string(obj) != "null" {
		if err := json.Unmarshal(obj, &c); err != nil {
			se.fail("connection", "malformed connection message: "+err.Error())
			return
		}
	}
	login := c.SipLogin
	if l, ok := c.Custom["login"].(string); ok && l != "" {
		login = l
	}
	se.mu.Lock()
	se.connected = true
	se.appKey, se.login = c.AppKey, login
	if se.appKey == "" {
		se.appKey = "defaultApp"
	}
	if se.token == "" {
		se.token = uuid.NewString()
	}
	token := se.token
	se.mu.Unlock()
	se.log.Info("signalling session established", "appKey", c.AppKey, "login", login)
	se.send("getUserData", map[string]any{
		"authToken":                 token,
		"status":                    "ESTABLISHED",
		"mediaProviders":            []string{"WebRTC"},
		"clientVersion":             "2.0",
		"keepAlive":                 false,
		"useWsTunnel":               false,
		"useWsTunnelPacketization2": false,
		"useBase64BinaryEncoding":   false,
		"sessionId":                 se.id,
		"login":                     login,
	})
}

// streamMsg is the stream object the SDK sends in publishStream, unPublishStream, playStream.
type streamMsg struct {
	MediaSessionID string `json:"mediaSessionId"`
	Name           string `json:"name"`
	Record         bool   `json:"record"`
	MediaProvider  string `json:"mediaProvider"`
	SDP            string `json:"sdp"`
	HasVideo       *bool  `json:"hasVideo"`
	HasAudio       *bool  `json:"hasAudio"`
}

func (se *session) parseStream(method string, obj json.RawMessage) (streamMsg, bool) {
	var m streamMsg
	if len(obj) == 0 || string(obj) == "null" {
		se.fail(method, method+" needs a stream object in data[0]")
		return m, false
	}
	if err := json.Unmarshal(obj, &m); err != nil {
		se.fail(method, "malformed "+method+": "+err.Error())
		return m, false
	}
	if m.MediaSessionID == "" {
		se.fail(method, method+` needs a "mediaSessionId"`)
		return m, false
	}
	return m, true
}

// streamFailed tells the client its stream failed, for a stream the registry never held.
func (se *session) streamFailed(m streamMsg, published bool, info string) {
	se.warnRefused("stream refused", "stream", m.Name, "mediaSessionId", m.MediaSessionID, "info", info)
	se.send("notifyStreamStatusEvent", map[string]any{
		"mediaSessionId": m.MediaSessionID, "name": m.Name, "published": published,
		"status": StatusName(stream.StatusFailed), "info": info, "record": false,
		"audioState": map[string]bool{"muted": false}, "videoState": map[string]bool{"muted": false},
	})
}

// publish starts a WebRTC publication: the answer goes back in setRemoteSDP, the status
// events follow from the registry.
func (se *session) publish(obj json.RawMessage) {
	m, ok := se.parseStream("publishStream", obj)
	if !ok {
		return
	}
	se.mu.Lock()
	connected, appKey, login := se.connected, se.appKey, se.login
	_, mine := se.streams[m.MediaSessionID]
	se.mu.Unlock()
	switch {
	case !connected:
		se.fail("publishStream", `send "connection" first`)
		return
	case mine:
		se.fail("publishStream", "this session already used mediaSessionId "+m.MediaSessionID)
		return
	case m.Name == "":
		se.streamFailed(m, true, "options.name must be provided")
		return
	case m.MediaProvider != "" && m.MediaProvider != stream.ProviderWebRTC:
		se.streamFailed(m, true, fmt.Sprintf("media provider %s is not supported: publish with WebRTC", m.MediaProvider))
		return
	case m.SDP == "":
		se.streamFailed(m, true, "publishStream carries no SDP offer")
		return
	}
	st, err := se.srv.cfg.Streams.Create(stream.Identity{
		Name:           m.Name,
		MediaSessionID: m.MediaSessionID,
		SessionID:      se.id,
		Provider:       stream.ProviderWebRTC,
		AppKey:         appKey,
		Login:          login,
		Record:         m.Record,
	})
	if err != nil {
		info := err.Error()
		if errors.Is(err, stream.ErrIDInUse) {
			info = "MediaSessionId is already in use"
		}
		se.streamFailed(m, true, info)
		return
	}
	p := &published{st: st, status: stream.StatusPending}
	se.mu.Lock()
	se.streams[m.MediaSessionID] = p
	se.mu.Unlock()
	se.srv.own(m.MediaSessionID, se)
	pub, answer, err := se.srv.cfg.WebRTC.Publish(st, m.SDP)
	if err != nil {
		return // the stream is FAILED: its event is on its way
	}
	se.mu.Lock()
	p.pub = pub
	ended := p.ended
	se.mu.Unlock()
	if ended {
		go pub.End("") // the stream ended while we negotiated
		return
	}
	se.send("setRemoteSDP", m.MediaSessionID, answer)
}

// unpublish stops a publication; the UNPUBLISHED event follows once its recording is finished.
func (se *session) unpublish(obj json.RawMessage) {
	m, ok := se.parseStream("unPublishStream", obj)
	if !ok {
		return
	}
	se.mu.Lock()
	p := se.streams[m.MediaSessionID]
	se.mu.Unlock()
	if p == nil {
		se.fail("unPublishStream", "this session publishes no stream with mediaSessionId "+m.MediaSessionID)
		return
	}
	se.wg.Add(1)
	go func() {
		defer se.wg.Done()
		if p.pub != nil {
			p.pub.End("")
		} else {
			p.st.Unpublish()
		}
	}()
}

// play: this server records; it does not play streams back over WebRTC. Playing an rtsp://
// URL still captures that camera, as on WCS: it becomes a stream (recorded when
// record_rtsp_streams is on, or on demand over REST) for as long as this session lasts.
func (se *session) play(obj json.RawMessage) {
	m, ok := se.parseStream("playStream", obj)
	if !ok {
		return
	}
	const noPlayback = "playback is not supported by this server: it records published streams"
	if !strings.HasPrefix(strings.ToLower(m.Name), "rtsp://") || se.srv.cfg.Cameras == nil {
		se.streamFailed(m, false, noPlayback)
		return
	}
	name, err := se.srv.cfg.Cameras.Capture(m.Name)
	if err != nil {
		se.streamFailed(m, false, "cannot capture the camera: "+err.Error())
		return
	}
	se.mu.Lock()
	se.captured = append(se.captured, m.Name)
	se.mu.Unlock()
	se.streamFailed(m, false, noPlayback+"; the camera is captured as stream "+name+" while this session lasts")
}

// available tells whether a stream of that name is being published.
func (se *session) available(obj json.RawMessage) {
	m, ok := se.parseStream("availableStream", obj)
	if !ok {
		return
	}
	st, err := se.srv.cfg.Streams.ByName(m.Name)
	available := err == nil && st.Snapshot().Status == stream.StatusPublishing
	info := "Available"
	if !available {
		info = "Stream not found"
	}
	se.send("availableStream", map[string]any{"id": m.MediaSessionID, "status": available, "info": info})
}

// statusEvent is the stream object of notifyStreamStatusEvent.
type statusEvent struct {
	Stream
	AudioState struct {
		Muted bool `json:"muted"`
	} `json:"audioState"`
	VideoState struct {
		Muted bool `json:"muted"`
	} `json:"videoState"`
}

// streamEvent forwards a registry event of one of the session's streams when its status changed.
func (se *session) streamEvent(snap stream.Snapshot) {
	se.mu.Lock()
	p := se.streams[snap.MediaSessionID]
	if p == nil || p.st.ID().MediaSessionID != snap.MediaSessionID || p.status == snap.Status {
		se.mu.Unlock()
		return
	}
	p.status = snap.Status
	end := snap.Status.Ended()
	if end {
		p.ended = true
	}
	pub := p.pub
	se.mu.Unlock()
	se.send("notifyStreamStatusEvent", statusEvent{Stream: StreamOf(snap)})
	if end {
		se.srv.disown(snap.MediaSessionID, se)
		if pub != nil {
			go pub.End("") // ended elsewhere (REST terminate, shutdown): free the connection
		}
	}
}
