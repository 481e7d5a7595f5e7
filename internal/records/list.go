package records

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Recording is a finished recording file in the folder, as List finds it.
type Recording struct {
	Name     string
	Path     string
	Size     int64
	Modified time.Time
	// Meta is the index's entry for the file; Indexed says whether there is one (a file copied
	// in by hand, or older than the index, has none).
	Meta    Meta
	Indexed bool
}

// List reads the finished recordings from the folder: what is really there at every call, so a
// file copied in shows up and a file a hook moved away is gone. Files being written, hidden
// files and anything that is not a regular file with a recording's name are left out.
func (s *Store) List() ([]Recording, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	s.index.mu.Lock()
	defer s.index.mu.Unlock()
	s.index.load()
	present := map[string]bool{}
	var out []Recording
	for _, de := range ents {
		name := de.Name()
		if !IsRecording(name) || !de.Type().IsRegular() || s.Writing(name) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		present[name] = true
		m, ok := s.index.entries[name]
		out = append(out, Recording{Name: name, Path: s.Path(name), Size: fi.Size(), Modified: fi.ModTime(), Meta: m, Indexed: ok})
	}
	s.index.prune(present)
	s.pruneThumbs(present)
	return out, nil
}

// pruneThumbs removes the thumbnails of recordings that are gone (moved away by a hook, deleted
// by hand): Delete removes those of the files deleted through the store.
func (s *Store) pruneThumbs(present map[string]bool) {
	ents, err := os.ReadDir(filepath.Join(s.dir, ThumbDir))
	if err != nil {
		return // none made yet
	}
	for _, de := range ents {
		name, ok := strings.CutSuffix(de.Name(), ".jpg")
		if ok && !present[name] && !s.Writing(name) {
			os.Remove(filepath.Join(s.dir, ThumbDir, de.Name()))
		}
	}
}

// Delete removes a finished recording named by a client, after the same checks as Resolve.
func (s *Store) Delete(name string) error {
	path, err := s.Resolve(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	s.index.forget(name)
	os.Remove(s.ThumbPath(name)) // made on demand: most files have none
	return nil
}

// Offload removes the local copy of a finished recording kept elsewhere (verified in the
// bucket), after the same checks as Delete. Its index entry stays, as for any file gone from
// the folder, until the index is next compacted: the library lists such a file from the bucket.
func (s *Store) Offload(name string) error {
	path, err := s.Resolve(name)
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// Finished takes a finished file, complete, cut short by a write error or recovered after a
// crash: it is indexed, so the library shows its stream, part and times after a restart too,
// then handed to every OnFinished listener in the order they were added. Call it once per file.
func (s *Store) Finished(f File) {
	s.index.add(metaOf(f))
	s.lmu.Lock()
	ls := s.listeners
	s.lmu.Unlock()
	for _, fn := range ls {
		fn(f)
	}
}

// OnFinished adds a listener that Finished calls, on the caller's goroutine, for every finished
// file: the finish hook, the retention cleaner, and where object storage will plug in.
func (s *Store) OnFinished(fn func(File)) {
	s.lmu.Lock()
	s.listeners = append(s.listeners, fn)
	s.lmu.Unlock()
}
