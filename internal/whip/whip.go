// Package whip is the WHIP ingest (RFC 9725): a WebRTC publisher (OBS 30+, GStreamer's whipsink,
// a browser WHIP client) POSTs its SDP offer to /whip/{streamName} and gets the answer and a
// session resource; DELETE on the resource ends the publication, PATCH trickles ICE candidates.
// It only maps HTTP to the WebRTC ingest: the offer is answered by the same webrtc.Engine the
// WCS signalling uses, so the media takes the same way (ingest stage, stream, recording).
package whip

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/api"
	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/sdplimit"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/webrtc"
)

// Content types of RFC 9725.
const (
	typeSDP     = "application/sdp"
	typeSDPFrag = "application/trickle-ice-sdpfrag"
)

// Bounds on a trickle PATCH: a publisher has a handful of candidates per interface.
const (
	maxFragBytes  = 16 << 10
	maxCandidates = 64
)

// ICEServer is one STUN or TURN server a publisher may use, advertised in Link headers.
type ICEServer struct {
	URL        string // stun:host:port, turn:host:port?transport=udp
	Username   string // TURN only
	Credential string // TURN only
}

// Config wires the WHIP endpoints to the stream registry and the WebRTC ingest.
type Config struct {
	Streams  *stream.Registry
	Engine   *webrtc.Engine
	Settings func() *conf.Settings // whip_token, whip_allowed_origins, read at each request
	// ICEServers returns the STUN/TURN servers to advertise; nil: none.
	ICEServers func() []ICEServer
	Log        *slog.Logger
}

// Handler serves /whip. Safe for concurrent use.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	refusals *lograte.Limiter // a log line per address per minute

	unsub    func()
	mu       sync.Mutex
	sessions map[string]*session // by resource id
	byMSID   map[string]*session // by the stream's mediaSessionId
}

// session is one WHIP publication: the resource /whip/{name}/{id}.
type session struct {
	id, name, etag, msid string
	pub                  *webrtc.Publisher
}

// New returns the WHIP handler; Register mounts it.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ICEServers == nil {
		cfg.ICEServers = func() []ICEServer { return nil }
	}
	h := &Handler{cfg: cfg, log: cfg.Log.With("ingest", "whip"), refusals: lograte.New(time.Minute, 10_000),
		sessions: map[string]*session{}, byMSID: map[string]*session{}}
	h.unsub = cfg.Streams.Subscribe(h.onStream)
	return h
}

// Close stops following the registry; the publications end with the WebRTC ingest.
func (h *Handler) Close() { h.unsub() }

// onStream ends the peer connection of a WHIP stream ended elsewhere (REST terminate, shutdown),
// as the WCS signalling does for its streams.
func (h *Handler) onStream(snap stream.Snapshot) {
	if !snap.Status.Ended() {
		return
	}
	h.mu.Lock()
	se := h.byMSID[snap.MediaSessionID]
	h.mu.Unlock()
	if se != nil {
		go se.pub.End("")
	}
}

// Register mounts the endpoints on app, before any catch-all route.
func (h *Handler) Register(app *fiber.App) {
	app.Use("/whip", h.cors)
	app.Options("/whip/:name", h.options(fiber.HeaderAcceptPatch, typeSDPFrag, "Accept-Post", typeSDP))
	app.Post("/whip/:name", h.post)
	app.All("/whip/:name", h.notAllowed("POST, OPTIONS"))
	app.Options("/whip/:name/:id", h.options(fiber.HeaderAcceptPatch, typeSDPFrag))
	app.Patch("/whip/:name/:id", h.patch)
	app.Delete("/whip/:name/:id", h.delete)
	app.All("/whip/:name/:id", h.notAllowed("PATCH, DELETE, OPTIONS"))
}

// cors answers browsers: WHIP clients are pages on any origin, so whip_allowed_origins (default
// any) decides, not the REST API's same-origin rule; the token protects the endpoints.
func (h *Handler) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return c.Next()
	}
	allowed := h.cfg.Settings().WHIPAllowedOrigins
	c.Vary(fiber.HeaderOrigin)
	if !api.AllowedOrigin(origin, allowed) {
		return h.refuse(c, fiber.StatusForbidden, fmt.Sprintf("origin %q may not publish over WHIP: list it in whip_allowed_origins", origin))
	}
	if len(allowed) == 1 && allowed[0] == "*" {
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	} else {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	}
	c.Set(fiber.HeaderAccessControlExposeHeaders, "Location, ETag, Link, Accept-Patch, Accept-Post")
	if c.Method() == fiber.MethodOptions {
		c.Set(fiber.HeaderAccessControlAllowMethods, "POST, PATCH, DELETE, OPTIONS")
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type, If-Match")
		c.Set(fiber.HeaderAccessControlMaxAge, "600")
	}
	return c.Next()
}

// options answers OPTIONS (a CORS preflight too) with the ICE servers and what the path
// accepts (header, value pairs).
func (h *Handler) options(accept ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		for i := 0; i+1 < len(accept); i += 2 {
			c.Set(accept[i], accept[i+1])
		}
		h.links(c)
		return c.SendStatus(fiber.StatusNoContent)
	}
}

func (h *Handler) notAllowed(allow string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return h.refuse(c, fiber.StatusMethodNotAllowed, c.Method()+" is not a WHIP method here; allowed: "+allow)
	}
}

// links adds a Link header per ICE server (RFC 9725, section 4.6).
func (h *Handler) links(c *fiber.Ctx) {
	for _, s := range h.cfg.ICEServers() {
		v := fmt.Sprintf(`<%s>; rel="ice-server"`, s.URL)
		if s.Username != "" {
			v += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, s.Username, s.Credential)
		}
		c.Context().Response.Header.Add(fiber.HeaderLink, v)
	}
}

// authorized checks whip_token, answering 401 when it is missing or wrong.
func (h *Handler) authorized(c *fiber.Ctx) bool {
	token := h.cfg.Settings().WHIPToken
	if token == "" || api.TokenGiven(c.Get(fiber.HeaderAuthorization), token) {
		return true
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="streamrec"`)
	h.refuse(c, fiber.StatusUnauthorized, "WHIP needs whip_token: send Authorization: Bearer TOKEN")
	return false
}

// contentType checks the request's media type, answering 415 when it is another.
func (h *Handler) contentType(c *fiber.Ctx, want string) bool {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err == nil && strings.EqualFold(mt, want) {
		return true
	}
	c.Set(fiber.HeaderAccept, want)
	h.refuse(c, fiber.StatusUnsupportedMediaType, "send the body with Content-Type: "+want)
	return false
}

// post is POST /whip/{name}: the offer in, the session resource and the answer out.
func (h *Handler) post(c *fiber.Ctx) error {
	received := time.Now()
	if !h.authorized(c) || !h.contentType(c, typeSDP) {
		return nil
	}
	offer := c.Body()
	if err := sdplimit.CheckSize(len(offer)); err != nil {
		return h.refuse(c, fiber.StatusRequestEntityTooLarge, err.Error())
	}
	if len(offer) == 0 {
		return h.refuse(c, fiber.StatusBadRequest, "the body must be an SDP offer")
	}
	name, err := url.PathUnescape(strings.Clone(c.Params("name"))) // fiber's strings live as long as the request
	if err != nil {
		return h.refuse(c, fiber.StatusBadRequest, "stream name: "+err.Error())
	}
	st, err := h.cfg.Streams.Create(stream.Identity{
		Name:      name,
		SessionID: "/" + c.Context().RemoteAddr().String() + "/" + c.Context().LocalAddr().String(),
		Provider:  stream.ProviderWHIP,
		// A WHIP publisher cannot ask to be recorded as the Web SDK does: it is recorded as
		// record_streams says unless its URL says record=false.
		Record: !strings.EqualFold(c.Query("record"), "false"),
	})
	if errors.Is(err, stream.ErrNameInUse) {
		return h.refuse(c, fiber.StatusConflict, fmt.Sprintf("stream %q is already being published", name))
	}
	if err != nil {
		return h.refuse(c, fiber.StatusBadRequest, err.Error())
	}
	pub, answer, err := h.cfg.Engine.Publish(st, string(offer)) // on error the stream is FAILED
	if err != nil {
		return h.refuse(c, publishStatus(c, err), err.Error())
	}
	se := h.add(st, pub)
	st.Log().Info("whip publisher answered", "resource", se.id, "record", st.ID().Record,
		"after", time.Since(received).Round(time.Millisecond).String())
	c.Location("/whip/" + url.PathEscape(se.name) + "/" + se.id)
	c.Set(fiber.HeaderETag, se.etag)
	c.Set(fiber.HeaderAcceptPatch, typeSDPFrag)
	h.links(c)
	c.Set(fiber.HeaderContentType, typeSDP)
	return c.Status(fiber.StatusCreated).SendString(answer)
}

// publishStatus is the status of a refused offer.
func publishStatus(c *fiber.Ctx, err error) int {
	switch {
	case errors.Is(err, webrtc.ErrTooManyPending), errors.Is(err, webrtc.ErrClosed):
		c.Set(fiber.HeaderRetryAfter, "5")
		return fiber.StatusServiceUnavailable
	case errors.Is(err, sdplimit.ErrTooLarge):
		return fiber.StatusRequestEntityTooLarge
	}
	return fiber.StatusBadRequest // an offer that does not parse, or offers nothing we record
}

// add keeps a new session until its publication ends, however it ends.
func (h *Handler) add(st *stream.Stream, pub *webrtc.Publisher) *session {
	id := st.ID()
	se := &session{id: randomHex(16), name: id.Name, etag: `"` + randomHex(8) + `"`, msid: id.MediaSessionID, pub: pub}
	h.mu.Lock()
	h.sessions[se.id] = se
	h.byMSID[se.msid] = se
	h.mu.Unlock()
	go func() {
		<-pub.Done()
		h.mu.Lock()
		delete(h.sessions, se.id)
		delete(h.byMSID, se.msid)
		h.mu.Unlock()
	}()
	if st.Status().Ended() {
		go pub.End("") // ended elsewhere while we negotiated
	}
	return se
}

// resource finds the session a resource URL names, answering 404 when there is none.
func (h *Handler) resource(c *fiber.Ctx) *session {
	name, _ := url.PathUnescape(c.Params("name"))
	h.mu.Lock()
	se := h.sessions[c.Params("id")]
	h.mu.Unlock()
	if se == nil || naming.StreamName(name) != se.name {
		h.refuse(c, fiber.StatusNotFound, "no WHIP session at "+c.Path()+" (it ended, or never was)")
		return nil
	}
	return se
}

// delete ends the publication; the answer comes once its recording is finished.
func (h *Handler) delete(c *fiber.Ctx) error {
	if !h.authorized(c) {
		return nil
	}
	se := h.resource(c)
	if se == nil {
		return nil
	}
	se.pub.End("")
	return c.SendStatus(fiber.StatusOK)
}

// patch adds trickled candidates (RFC 9725, section 4.3.1). ICE restarts are not supported:
// 422, as the RFC says for a session that trickles but does not restart.
func (h *Handler) patch(c *fiber.Ctx) error {
	if !h.authorized(c) {
		return nil
	}
	se := h.resource(c)
	if se == nil || !h.contentType(c, typeSDPFrag) {
		return nil
	}
	match := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if match == "*" {
		return h.refuse(c, fiber.StatusUnprocessableEntity, "ICE restarts are not supported: publish again")
	}
	if match != "" && match != se.etag {
		return h.refuse(c, fiber.StatusPreconditionFailed, "If-Match does not name this session's current ETag "+se.etag)
	}
	if len(c.Body()) > maxFragBytes {
		return h.refuse(c, fiber.StatusRequestEntityTooLarge, fmt.Sprintf("an SDP fragment of at most %d bytes is accepted", maxFragBytes))
	}
	frag, err := parseFrag(string(c.Body()))
	if err != nil {
		return h.refuse(c, fiber.StatusBadRequest, err.Error())
	}
	if err := se.pub.AddCandidates(frag.ufrag, frag.pwd, frag.candidates); err != nil {
		if errors.Is(err, webrtc.ErrICEMismatch) {
			return h.refuse(c, fiber.StatusUnprocessableEntity, err.Error()+" (an ICE restart, not supported)")
		}
		return h.refuse(c, fiber.StatusBadRequest, err.Error())
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// frag is what a trickle-ice-sdpfrag body says.
type frag struct {
	ufrag, pwd string
	candidates []webrtc.Candidate
}

// parseFrag reads an SDP fragment (RFC 8840): ICE credentials, media sections by mid and their
// candidates. Other lines are ignored.
func parseFrag(body string) (frag, error) {
	var f frag
	mid := ""
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			mid = ""
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=candidate:"):
			if len(f.candidates) == maxCandidates {
				return f, fmt.Errorf("more than %d candidates in one fragment", maxCandidates)
			}
			f.candidates = append(f.candidates, webrtc.Candidate{Mid: mid, Line: strings.TrimPrefix(line, "a=")})
		}
	}
	return f, nil
}

// refuse answers an error status with its reason as text, and logs it once per address per
// minute.
func (h *Handler) refuse(c *fiber.Ctx, status int, reason string) error {
	if ok, hidden := h.refusals.Allow(c.IP()); ok {
		h.log.Warn("WHIP request refused", "ip", c.IP(), "method", c.Method(), "path", c.Path(), "status", status,
			"reason", reason, "refused_since_last_line", hidden)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Status(status).SendString(reason + "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
