package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CookieName is the session cookie.
const CookieName = "streamrec_admin"

const (
	sessionTTL  = 12 * time.Hour // idle time after which a session ends
	maxSessions = 1000           // oldest sessions are dropped past this
)

// FailDelay is the pause after a wrong password; it doubles with each further failure from the
// same address, up to MaxFailDelay. Attempts from one address are answered one at a time, so
// parallel guessing gains nothing.
var (
	FailDelay    = time.Second
	MaxFailDelay = 8 * time.Second
)

// passwordAlphabet has no look-alike characters (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// ensurePassword generates admin.password when it is empty, saves it and prints it once.
func (a *Admin) ensurePassword() {
	if a.cfg.Settings.Current().AdminPassword != "" {
		return
	}
	pw := randomPassword(16)
	if err := a.cfg.Settings.Update(map[string]string{"admin.password": pw}); err != nil {
		a.generated = pw
		a.log.Error("dashboard password generated but not saved: it is valid until the server stops; set admin.password in the settings file",
			"password", pw, "err", err)
		return
	}
	a.log.Warn("dashboard password generated and saved as admin.password in the settings file; log in at /admin/ with it",
		"password", pw, "file", a.cfg.Settings.Path())
}

func randomPassword(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = passwordAlphabet[int(b[i])%len(passwordAlphabet)]
	}
	return string(b)
}

// password is the password in effect: the setting, read on every use so a saved change applies at once.
func (a *Admin) password() string {
	if pw := a.cfg.Settings.Current().AdminPassword; pw != "" {
		return pw
	}
	return a.generated
}

func hashOf(s string) [32]byte { return sha256.Sum256([]byte("streamrec-admin\x00" + s)) }

// sessions are the logged-in browsers. A session is bound to the password it was opened with:
// changing the password ends every other session.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

type session struct {
	pw      [32]byte
	expires time.Time
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func (s *sessions) create(pw [32]byte) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ss := range s.m {
		if now.After(ss.expires) {
			delete(s.m, t)
		}
	}
	for len(s.m) >= maxSessions {
		var oldest string
		for t, ss := range s.m {
			if oldest == "" || ss.expires.Before(s.m[oldest].expires) {
				oldest = t
			}
		}
		delete(s.m, oldest)
	}
	s.m[token] = &session{pw: pw, expires: now.Add(sessionTTL)}
	return token
}

// check tells whether token is a live session for the password hash pw, and extends it.
func (s *sessions) check(token string, pw [32]byte) bool {
	if token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[token]
	if !ok {
		return false
	}
	now := time.Now()
	if now.After(ss.expires) || subtle.ConstantTimeCompare(ss.pw[:], pw[:]) != 1 {
		delete(s.m, token)
		return false
	}
	ss.expires = now.Add(sessionTTL)
	return true
}

// rebind moves a session to a new password (the session that changed it stays logged in).
func (s *sessions) rebind(token string, pw [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[token]; ok {
		ss.pw = pw
	}
}

func (s *sessions) remove(token string) {
	s.mu.Lock()
	delete(s.m, token)
	s.mu.Unlock()
}

// throttle slows down password guessing per client address.
type throttle struct {
	mu  sync.Mutex
	ips map[string]*ipState
}

type ipState struct {
	mu    sync.Mutex // held for a whole attempt, delay included
	fails int
	last  time.Time
}

func newThrottle() *throttle { return &throttle{ips: map[string]*ipState{}} }

func (t *throttle) get(ip string) *ipState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ips) > 10000 {
		for k, st := range t.ips {
			if st.mu.TryLock() {
				if time.Since(st.last) > time.Hour {
					delete(t.ips, k)
				}
				st.mu.Unlock()
			}
		}
	}
	st, ok := t.ips[ip]
	if !ok {
		st = &ipState{}
		t.ips[ip] = st
	}
	return st
}

func (a *Admin) authorized(c *fiber.Ctx) bool {
	pw := a.password()
	return pw != "" && a.sessions.check(c.Cookies(CookieName), hashOf(pw))
}

// setCookie sets the session cookie (a browser-session cookie); an empty token clears it.
func (a *Admin) setCookie(c *fiber.Ctx, token string) {
	var expires time.Time
	if token == "" {
		expires = time.Unix(1, 0)
	}
	c.Cookie(&fiber.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/admin",
		Expires:  expires,
		HTTPOnly: true,
		Secure:   c.Protocol() == "https",
		SameSite: fiber.CookieSameSiteStrictMode,
	})
}

func (a *Admin) login(c *fiber.Ctx) error {
	var body struct {
		Password string `json:"password"`
	}
	if err := bind(c, &body); err != nil {
		return fail(c, fiber.StatusBadRequest, err.Error())
	}
	st := a.throttle.get(c.IP())
	st.mu.Lock()
	defer st.mu.Unlock()
	pw := a.password()
	given, want := hashOf(body.Password), hashOf(pw)
	if pw == "" || subtle.ConstantTimeCompare(given[:], want[:]) != 1 {
		st.fails++
		st.last = time.Now()
		delay := FailDelay << min(st.fails-1, 4)
		delay = min(delay, MaxFailDelay)
		a.log.Warn("dashboard login refused: wrong password", "ip", c.IP(), "failures", st.fails)
		time.Sleep(delay)
		return fail(c, fiber.StatusUnauthorized, "Wrong password.")
	}
	st.fails = 0
	a.setCookie(c, a.sessions.create(want))
	a.log.Info("dashboard login", "ip", c.IP())
	return c.JSON(fiber.Map{"ok": true})
}

func (a *Admin) logout(c *fiber.Ctx) error {
	a.sessions.remove(c.Cookies(CookieName))
	a.setCookie(c, "")
	return c.JSON(fiber.Map{"ok": true})
}

func (a *Admin) session(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"ok": true, "version": a.cfg.Version})
}
