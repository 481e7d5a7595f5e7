package server

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/streamrec/streamrec/internal/conf"
)

// watchSettings applies hand edits of the settings file while the server runs (conf.Watch)
// and says in the log what each edit did; Close ends it.
func (s *Server) watchSettings() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	go s.Settings.Watch(ctx, conf.WatchInterval, s.reportReload)
}

// reportReload logs what a reload of the file changed, what it refused and what waits for a
// restart. Secret values are never written out, only their keys.
func (s *Server) reportReload(r conf.Reloaded, err error) {
	log := s.log.With("component", "settings", "file", s.Settings.Path())
	var ve *conf.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Errors {
			log.Warn("settings file not applied: it does not read as key=value lines; every setting keeps its value", "err", fe.Error())
		}
		return
	case err != nil:
		log.Warn("settings file not read; every setting keeps its value", "err", err)
		return
	}
	for _, fe := range r.Refused {
		log.Warn("setting refused, the value in effect stays", "key", fe.Key, "line", fe.Line, "err", fe.Msg)
	}
	if applied := without(r.Changed, r.Restart); len(applied) > 0 {
		log.Info("settings changed in the file, applied: recordings that start from now use them", "changes", s.describe(applied))
	}
	if len(r.Restart) > 0 {
		log.Warn("settings changed in the file take effect after a restart", "changes", s.describe(r.Restart))
	}
}

// describe gives "key=value" for each key, "key=(secret)" for a secret.
func (s *Server) describe(keys []string) string {
	secret := map[string]bool{}
	for _, sp := range conf.Specs() {
		secret[sp.Key] = sp.Secret
	}
	values := s.Settings.Values()
	out := make([]string, len(keys))
	for i, k := range keys {
		if secret[k] {
			out[i] = k + "=(secret)"
		} else {
			out[i] = k + "=" + values[k]
		}
	}
	return strings.Join(out, " ")
}

// without returns the keys of all that are not in drop.
func without(all, drop []string) []string {
	var out []string
	for _, k := range all {
		if !slices.Contains(drop, k) {
			out = append(out, k)
		}
	}
	return out
}
