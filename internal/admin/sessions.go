package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/atomicfile"
)

// sessionsFile is where the logged-in sessions are kept across restarts, beside the settings.
const sessionsFile = "admin_sessions.json"

// saveEvery bounds how often extending sessions' expiry rewrites the file: a restart may take
// back at most that much of a session's idle time.
const saveEvery = 5 * time.Minute

// sessions are the logged-in browsers. A session is bound to the password it was opened with:
// changing the password ends every other session. They are kept in a file (path; "" = memory
// only), so a restart logs nobody out. Neither memory nor the file holds a token: a session is
// known by the SHA-256 of its token, and its binding to the password is the SHA-256 of the
// password's hash and the token's, so the file lets nobody in.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*session // by tokenID
	path  string
	log   *slog.Logger
	saved time.Time
}

type session struct {
	Bind    string    `json:"bind"`
	Expires time.Time `json:"expires"`
}

func tokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func bindOf(id string, pw [32]byte) string {
	h := sha256.Sum256(append(pw[:], id...))
	return hex.EncodeToString(h[:])
}

// newSessions loads the sessions kept in path (a missing or unreadable file: none).
func newSessions(path string, log *slog.Logger) *sessions {
	s := &sessions{m: map[string]*session{}, path: path, log: log}
	if path == "" {
		return s
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return s
	}
	if err := json.Unmarshal(b, &s.m); err != nil {
		log.Warn("dashboard sessions file not read: everyone logs in again", "file", path, "err", err)
		s.m = map[string]*session{}
	}
	s.prune(time.Now())
	return s
}

func (s *sessions) create(pw [32]byte) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	for len(s.m) >= maxSessions {
		var oldest string
		for id, ss := range s.m {
			if oldest == "" || ss.Expires.Before(s.m[oldest].Expires) {
				oldest = id
			}
		}
		delete(s.m, oldest)
	}
	id := tokenID(token)
	s.m[id] = &session{Bind: bindOf(id, pw), Expires: now.Add(sessionTTL)}
	s.save(now)
	return token
}

// prune drops expired sessions. Caller holds s.mu (or owns s).
func (s *sessions) prune(now time.Time) {
	for id, ss := range s.m {
		if now.After(ss.Expires) {
			delete(s.m, id)
		}
	}
}

// check tells whether token is a live session for the password hash pw, and extends it.
func (s *sessions) check(token string, pw [32]byte) bool {
	if token == "" {
		return false
	}
	id := tokenID(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return false
	}
	now := time.Now()
	if now.After(ss.Expires) || subtle.ConstantTimeCompare([]byte(ss.Bind), []byte(bindOf(id, pw))) != 1 {
		delete(s.m, id)
		s.save(now)
		return false
	}
	ss.Expires = now.Add(sessionTTL)
	if now.Sub(s.saved) > saveEvery {
		s.save(now)
	}
	return true
}

// rebind moves a session to a new password (the session that changed it stays logged in).
func (s *sessions) rebind(token string, pw [32]byte) {
	id := tokenID(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[id]; ok {
		ss.Bind = bindOf(id, pw)
		s.save(time.Now())
	}
}

func (s *sessions) remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tokenID(token))
	s.save(time.Now())
}

// save writes the sessions to the file (0600, atomically). Caller holds s.mu.
func (s *sessions) save(now time.Time) {
	if s.path == "" {
		return
	}
	s.saved = now
	b, _ := json.Marshal(s.m)
	err := atomicfile.Write(s.path, b, 0o600)
	if err != nil {
		s.log.Warn("dashboard sessions not saved: a restart will log everyone out", "file", s.path, "err", err)
	}
}
