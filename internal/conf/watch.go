package conf

import (
	"context"
	"os"
	"time"
)

// WatchInterval is how often Watch looks at the settings file. An edit is taken once the file
// looked the same twice in a row, so it applies within two intervals and an editor that writes
// the file in several steps is not read half-way.
const WatchInterval = 500 * time.Millisecond

// Watch reloads the settings file whenever it changes (an edit by hand, a copy over it, an
// editor that saves through a new file and a rename) until ctx ends, and hands each reload's
// outcome to report. It polls: that works on every file system and through symbolic links,
// and costs one stat per interval. The store's own saves are seen too; they change nothing, and
// their report says so (no Changed, no Refused).
func (s *Store) Watch(ctx context.Context, every time.Duration, report func(Reloaded, error)) {
	last := s.opened
	var seen fileStamp // a change seen once, waiting for the file to settle
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.stat()
		switch {
		case now == last:
			seen = fileStamp{}
		case now != seen:
			seen = now // changed: read it once it stays like this for one interval
		default:
			last, seen = now, fileStamp{}
			report(s.Reload())
		}
	}
}

// fileStamp is what tells one version of the file from another without reading it.
type fileStamp struct {
	ok    bool
	size  int64
	mtime time.Time
	ino   uint64
}

func (s *Store) stat() fileStamp {
	fi, err := os.Stat(s.target())
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{ok: true, size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
}
