package records

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/streamrec/streamrec/internal/naming"
)

// Store is one records folder, shared by every recorder, the download route and the library
// of a server. Its methods are safe for concurrent use.
type Store struct {
	dir string

	mu      sync.Mutex // guards writing
	writing map[string]Writing
	journal string // folder of the journal entries; "" keeps the set in memory only

	index index

	lmu       sync.Mutex // guards listeners
	listeners []func(File)
}

// New returns the store of the records folder dir that keeps the set of files being written in
// memory only: a crash leaves their files unfinished (tests, and registries without a server).
// log (nil: slog.Default) hears of an index that cannot be read or written.
func New(dir string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{dir: dir, writing: map[string]Writing{}}
	s.index.path, s.index.log = filepath.Join(dir, IndexName), log
	return s
}

// Open returns the store of the records folder dir with its journal in dir/JournalDir,
// creating that folder, so that the files a crash leaves open are finished by Recover.
func Open(dir string, log *slog.Logger) (*Store, error) {
	journal := filepath.Join(dir, JournalDir)
	if err := os.MkdirAll(journal, 0o755); err != nil {
		return nil, fmt.Errorf("recordings journal: %w", err)
	}
	s := New(dir, log)
	s.journal = journal
	return s, nil
}

// Dir is the records folder.
func (s *Store) Dir() string { return s.dir }

// Path is where the named file, created through the store (Create, Rename), lives. Names from
// clients go through Resolve instead.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name) }

// Create creates the file of a recording's part exclusively, named as naming.CreatePart says
// (a clash gets a suffix, never an overwrite). It returns the open file, its name and the base
// used, which the following parts of the same recording pass again.
func (s *Store) Create(base string, part int, ext string) (f *os.File, name, usedBase string, err error) {
	return naming.CreatePart(s.dir, base, part, ext)
}

// Rename gives a finished file a new name without replacing another (naming.Rename) and
// returns the name used.
func (s *Store) Rename(oldName, newName string) (string, error) {
	return naming.Rename(s.dir, oldName, newName)
}

// Remove removes a file the caller created and will not keep (it holds no media). It refuses
// a name that is not one path element, so it never removes anything outside the folder.
func (s *Store) Remove(name string) error {
	if name == "" || name == "." || name == ".." || name != filepath.Base(name) {
		return fmt.Errorf("remove recording: unsafe file name %q", name)
	}
	return os.Remove(s.Path(name))
}

// ThumbDir is the hidden folder, inside the records folder, of the library's thumbnails
// (NAME.jpg, made once per recording and deleted with it; never listed nor served as a recording).
const ThumbDir = ".streamrec-thumbs"

// ThumbPath is where the thumbnail of the named recording is kept.
func (s *Store) ThumbPath(name string) string { return filepath.Join(s.dir, ThumbDir, name+".jpg") }

// SaveThumb keeps jpg as the named recording's thumbnail, written aside and renamed into place so
// that a half-written one is never served.
func (s *Store) SaveThumb(name string, jpg []byte) error {
	path := s.ThumbPath(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, jpg, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
