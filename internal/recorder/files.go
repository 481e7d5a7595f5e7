package recorder

import (
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// JournalDir is the hidden folder, inside the records folder, that holds one small JSON file
// per recording file being written (never listed or served: it is hidden). A process killed
// mid-recording leaves its entries behind; Recover finds the files they name at the next start.
const JournalDir = ".streamrec-writing"

// Files is the set of recording files still being written, shared by every recorder of a server.
// A file in it is neither listed nor served as a finished recording. With a journal (OpenFiles)
// the set is also on disk, so that the files a crash left open can be finished at the next start.
type Files struct {
	mu      sync.Mutex
	writing map[string]bool
	journal string // folder of the journal entries; "" keeps the set in memory only
}

// Writing is a file being written, as its journal entry keeps it: what the library index and
// the finish hook need about a file whose recorder is gone.
type Writing struct {
	Name           string    `json:"name"` // base name inside the records folder
	StreamName     string    `json:"stream"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Container      string    `json:"container"` // "mp4" or "webm"
	Start          time.Time `json:"start"`
}

// NewFiles returns an empty set kept in memory only.
func NewFiles() *Files { return &Files{writing: map[string]bool{}} }

// OpenFiles returns an empty set journaled in records/JournalDir, creating that folder.
func OpenFiles(records string) (*Files, error) {
	dir := filepath.Join(records, JournalDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("recordings journal: %w", err)
	}
	return &Files{writing: map[string]bool{}, journal: dir}, nil
}

// open adds a file to the set and, with a journal, writes its entry (atomically: a temp file
// renamed into place). An error means only that a crash would leave the file unfinished.
func (fs *Files) open(w Writing) error {
	fs.mu.Lock()
	fs.writing[w.Name] = true
	fs.mu.Unlock()
	if fs.journal == "" {
		return nil
	}
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	path := fs.entryPath(w.Name)
	tmp := path + ".tmp"
	err = os.WriteFile(tmp, b, 0o644)
	if errors.Is(err, iofs.ErrNotExist) {
		// The folder went away (a cleanup script, a file system mounted over records/): again.
		if err = os.MkdirAll(fs.journal, 0o755); err == nil {
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

// done removes a file from the set, and its journal entry.
func (fs *Files) done(name string) {
	fs.mu.Lock()
	delete(fs.writing, name)
	fs.mu.Unlock()
	if fs.journal != "" {
		os.Remove(fs.entryPath(name))
	}
}

func (fs *Files) entryPath(name string) string {
	return filepath.Join(fs.journal, name+".json")
}

// Writing reports whether the named file (a base name inside the records folder) is still being written.
func (fs *Files) Writing(name string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.writing[name]
}
