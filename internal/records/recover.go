package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamrec/streamrec/internal/format"
)

// maxJournalEntry bounds what is read of one journal entry (a few hundred bytes when valid).
const maxJournalEntry = 64 << 10

// Recovered is how File.Err begins for a file finished at start after a crash.
const Recovered = "recovered after a crash"

// Recover finishes every file that the journal says was being written: files a crash (kill -9,
// a power cut) left open. Each is cut back to its last complete fragment or cluster, gets its
// real duration in its header and its seek index, exactly as a write error leaves a file, and
// is returned as a File marked Recovered, for the caller to index, announce and hand to the
// hook as any finished file. A file whose header was not even complete holds no media and is
// removed. Call it once at start, before any recording begins; every entry read is removed.
func (s *Store) Recover(log *slog.Logger) []File {
	if s.journal == "" {
		return nil
	}
	ents, err := os.ReadDir(s.journal)
	if err != nil {
		log.Error("recordings journal unreadable: files a crash left open stay unfinished", "dir", s.journal, "err", err)
		return nil
	}
	var out []File
	for _, de := range ents {
		path := filepath.Join(s.journal, de.Name())
		if !strings.HasSuffix(de.Name(), ".json") {
			os.Remove(path) // a temp file the crash left half-written
			continue
		}
		w, err := readEntry(path)
		if err == nil {
			var f File
			if f, err = recoverFile(s.dir, w); err == nil {
				out = append(out, f)
			} else {
				log.Error("recording left by a crash not recovered", "stream", w.StreamName,
					"mediaSessionId", w.MediaSessionID, "file", w.Name, "err", err)
			}
		} else {
			log.Error("recordings journal entry unreadable", "entry", path, "err", err)
		}
		os.Remove(path)
	}
	return out
}

// readEntry reads one journal entry.
func readEntry(path string) (Writing, error) {
	var w Writing
	f, err := os.Open(path)
	if err != nil {
		return w, err
	}
	defer f.Close()
	b := make([]byte, maxJournalEntry)
	n, _ := f.Read(b)
	if err := json.Unmarshal(b[:n], &w); err != nil {
		return w, err
	}
	if !IsRecording(w.Name) {
		return w, fmt.Errorf("entry names no recording file: %q", w.Name)
	}
	return w, nil
}

// recoverFile repairs the file of entry w in the records folder dir.
func recoverFile(dir string, w Writing) (File, error) {
	path := filepath.Join(dir, w.Name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("the file is gone (removed, or renamed before the crash)")
		}
		return File{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	kind, ok := format.ForExt(w.Container)
	if !ok {
		return File{}, fmt.Errorf("unknown container %q", w.Container)
	}
	r, err := kind.Recover(f)
	dur, size, cut := r.Duration, r.Size, r.Cut
	if err == nil && dur <= 0 {
		err = errors.New("no complete fragment")
	}
	if err != nil {
		if st.Size() < 64<<10 {
			// Killed before its header or first fragment reached the disk: nothing to keep.
			f.Close()
			os.Remove(path)
			return File{}, fmt.Errorf("%w: the %d-byte file holds no media and is removed", err, st.Size())
		}
		return File{}, err
	}
	return File{
		Name: w.Name, Path: path, Part: w.Part, Size: size, Duration: dur,
		Start: w.Start, End: st.ModTime(),
		StreamName: w.StreamName, MediaSessionID: w.MediaSessionID, Codecs: w.Codecs,
		Err:       fmt.Sprintf("%s: %d bytes cut off its torn end", Recovered, cut),
		Recovered: true, Cut: cut,
	}, nil
}
