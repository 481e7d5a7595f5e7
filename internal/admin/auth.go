package admin

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strconv"
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

// FailDelay is how long an address must wait after a wrong password before its next attempt;
// it doubles with each further failure, up to MaxFailDelay. While an address waits, its
// attempts are refused at once (429 with Retry-After): nothing sleeps, no connection is held.
//
// The cap is low on purpose: behind a reverse proxy every client shares the proxy's address, so
// any visitor's wrong passwords delay the administrator too, by 8 s at most. Guessing stays at
// one password per 8 s per address at best (about 10,000 a day against a generated 16-character
// password).
var (
	FailDelay    = time.Second
	MaxFailDelay = 8 * time.Second
)

const (
	failMemory = 15 * time.Minute // failures older than this are forgotten
	maxTracked = 10000            // addresses the throttle remembers; the least recent go first
)

// passwordAlphabet has no look-alike characters (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// ensurePassword generates admin.password when it is empty and saves it in the settings file
// (0600), where the operator reads it: a secret has no place in a log, which is often kept and
// shipped elsewhere. Only when it cannot be saved is it printed, once, as the only way to log in.
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
	a.log.Warn("dashboard password generated and saved as admin.password in the settings file: read it there to log in at /admin/",
		"file", a.cfg.Settings.Path())
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

// throttle slows down password guessing per client address. One attempt per address at a
// time is checked: begin reserves the address until end, so parallel guesses gain nothing.
type throttle struct {
	mu    sync.Mutex
	ips   map[string]*list.Element // of *ipState
	order *list.List               // front: the address seen last
}

type ipState struct {
	ip    string
	fails int       // wrong passwords in a row
	last  time.Time // of the last wrong password
	until time.Time // no attempt is checked before this
	busy  bool      // an attempt is being checked
}

func newThrottle() *throttle { return &throttle{ips: map[string]*list.Element{}, order: list.New()} }

// begin tells whether ip may try a password now; if not, how long it must wait. When it may,
// the caller must call end with the outcome.
func (t *throttle) begin(ip string, now time.Time) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.state(ip)
	if st.busy {
		return time.Second, false
	}
	if now.Before(st.until) {
		return st.until.Sub(now), false
	}
	if now.Sub(st.last) > failMemory {
		st.fails = 0
	}
	st.busy = true
	return 0, true
}

// end records the outcome of the attempt begin allowed; after a failure it gives the delay.
func (t *throttle) end(ip string, right bool, now time.Time) (delay time.Duration, fails int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.state(ip)
	st.busy = false
	if right {
		st.fails, st.until = 0, time.Time{}
		return 0, 0
	}
	st.fails++
	st.last = now
	delay = min(FailDelay<<min(st.fails-1, 16), MaxFailDelay)
	st.until = now.Add(delay)
	return delay, st.fails
}

// state finds or adds ip's entry as the most recent, evicting the least recent past maxTracked.
func (t *throttle) state(ip string) *ipState {
	if el, ok := t.ips[ip]; ok {
		t.order.MoveToFront(el)
		return el.Value.(*ipState)
	}
	for t.order.Len() >= maxTracked {
		old := t.order.Remove(t.order.Back()).(*ipState)
		delete(t.ips, old.ip)
	}
	st := &ipState{ip: ip}
	t.ips[ip] = t.order.PushFront(st)
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
	ip := c.IP()
	if wait, ok := a.throttle.begin(ip, time.Now()); !ok {
		secs := retryAfter(c, wait)
		if ok, hidden := a.logs.Allow(ip); ok {
			a.log.Warn("dashboard login refused: address delayed after wrong passwords", "ip", ip, "retryAfter", secs, "refusedBefore", hidden)
		}
		return fail(c, fiber.StatusTooManyRequests, fmt.Sprintf("Too many wrong passwords from your address: try again in %d s.", secs))
	}
	pw := a.password()
	given, want := hashOf(body.Password), hashOf(pw)
	right := pw != "" && subtle.ConstantTimeCompare(given[:], want[:]) == 1
	delay, fails := a.throttle.end(ip, right, time.Now())
	if !right {
		if ok, hidden := a.logs.Allow(ip); ok {
			a.log.Warn("dashboard login refused: wrong password", "ip", ip, "failures", fails, "delay", delay, "refusedBefore", hidden)
		}
		retryAfter(c, delay)
		return fail(c, fiber.StatusUnauthorized, "Wrong password.")
	}
	a.setCookie(c, a.sessions.create(want))
	a.log.Info("dashboard login", "ip", ip)
	return c.JSON(fiber.Map{"ok": true})
}

// retryAfter sets the Retry-After header to d in whole seconds (rounded up), and returns them.
func retryAfter(c *fiber.Ctx, d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return secs
}

func (a *Admin) logout(c *fiber.Ctx) error {
	a.sessions.remove(c.Cookies(CookieName))
	a.setCookie(c, "")
	return c.JSON(fiber.Map{"ok": true})
}

func (a *Admin) session(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"ok": true, "version": a.cfg.Version})
}
