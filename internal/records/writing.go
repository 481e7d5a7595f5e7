package records

import (
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// JournalDir is the hidden folder, inside the records folder, that holds one small JSON file
// per recording file being written (never listed or served: it is hidden). A process killed
// mid-recording leaves its entries behind; Recover finds the files they name at the next start.
const JournalDir = ".streamrec-writing"

// Writing is a file being written, as its journal entry keeps it: what the library index and
// the finish hook need about a file whose recorder is gone.
type Writing struct {
	Name           string    `json:"name"` // base name inside the records folder
	StreamName     string    `json:"stream"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Container      string    `json:"container"`        // "mp4" or "webm"
	Codecs         string    `json:"codecs,omitempty"` // File.Codecs
	Start          time.Time `json:"start"`
}

// Begin adds a file to the set of files being written, which are neither listed nor served as
// finished recordings, and, with a journal, writes its entry (atomically: a temp file renamed
// into place). An error means only that a crash would leave the file unfinished.
func (s *Store) Begin(w Writing) error {
	s.mu.Lock()
	s.writing[w.Name] = w
	s.mu.Unlock()
	if s.journal == "" {
		return nil
	}
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	path := s.entryPath(w.Name)
	tmp := path + ".tmp"
	err = os.WriteFile(tmp, b, 0o644)
	if errors.Is(err, iofs.ErrNotExist) {
		// The folder went away (a cleanup script, a file system mounted over records/): again.
		if err = os.MkdirAll(s.journal, 0o755); err == nil {
			err = os.WriteFile(tmp, b, 0o644)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("journal %s: %w", w.Name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("journal %s: %w", w.Name, err)
	}
	return nil
}

// End removes a file from the set of files being written, and its journal entry.
func (s *Store) End(name string) {
	s.mu.Lock()
	delete(s.writing, name)
	s.mu.Unlock()
	if s.journal != "" {
		os.Remove(s.entryPath(name))
	}
}

func (s *Store) entryPath(name string) string {
	return filepath.Join(s.journal, name+".json")
}

// Writing reports whether the named file (a base name inside the records folder) is still being written.
func (s *Store) Writing(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.writing[name]
	return ok
}

// InProgress lists the files being written (for the library's "recording now" rows), by name.
func (s *Store) InProgress() []Writing {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Writing, 0, len(s.writing))
	for _, w := range s.writing {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Writing) int { return strings.Compare(a.Name, b.Name) })
	return out
}
