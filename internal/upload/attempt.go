package upload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
)

// attempt uploads one entry (a copy, taken by take) and records the outcome.
func (q *Queue) attempt(e *entry) {
	began := time.Now()
	path := q.cfg.Files.Path(e.Name)
	obj, sums, err := q.put(e, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		q.drop(e, "the local file is gone (deleted before it was uploaded)")
	case err != nil && q.ctx.Err() != nil:
		q.release(e)
		q.cfg.Log.Info("upload cut by the shutdown: it resumes at the next start", "file", e.Name)
	case err != nil:
		q.failed(e, err)
	default:
		q.uploaded(e, obj, sums, time.Since(began))
	}
}

// put uploads the file at path under its name, or under the name with this node's suffix when
// another node's object has the name already (a name is unique on one node only). An object of
// this node that already holds the file (a crash came between the upload and the journal)
// counts as uploaded, without sending it again.
func (q *Queue) put(e *entry, path string) (objstore.Object, objstore.Sums, error) {
	sums, err := objstore.Checksum(path)
	if err != nil {
		return objstore.Object{}, sums, err
	}
	if q.cfg.beforePut != nil {
		q.cfg.beforePut(e.Name)
	}
	name, have, err := q.target(e.Name, sums)
	if err != nil {
		return objstore.Object{}, sums, err
	}
	if have != nil {
		return *have, sums, nil
	}
	o, err := q.cfg.Store.PutSums(q.ctx, name, path, q.meta(e), sums)
	return o, sums, err
}

// target is the name to upload the file as: its own, or NAME-NODE.EXT when another node's
// object holds its own; with the object when this node's object there is the file already.
func (q *Queue) target(name string, sums objstore.Sums) (string, *objstore.Object, error) {
	for _, cand := range []string{name, suffixed(name, q.cfg.Node)} {
		o, err := q.cfg.Store.Stat(q.ctx, cand)
		switch {
		case errors.Is(err, objstore.ErrNotFound):
			return cand, nil, nil
		case err != nil:
			return "", nil, fmt.Errorf("stat %s: %w", q.cfg.Store.Key(cand), err)
		case o.Meta.Node != q.cfg.Node:
			continue // another node's recording: never overwritten
		case objstore.Verify(o, sums) == nil:
			return cand, &o, nil
		default:
			return cand, nil, nil // this node's earlier, incomplete attempt
		}
	}
	return "", nil, fmt.Errorf("%s and %s are both another node's objects", q.cfg.Store.Key(name), q.cfg.Store.Key(suffixed(name, q.cfg.Node)))
}

// suffixed is NAME-NODE.EXT, the node reduced to characters safe in a key and a file name.
func suffixed(name, node string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, node)
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "-" + safe + ext
}

func (q *Queue) meta(e *entry) objstore.Meta {
	return objstore.Meta{
		Node: q.cfg.Node, Stream: e.Stream, MediaSessionID: e.MediaSessionID, Part: e.Part,
		Start: e.Start, Duration: time.Duration(e.DurationMs) * time.Millisecond, Codecs: e.Codecs,
	}
}

// uploaded records a verified upload and, with record_s3_delete_local, deletes the local copy.
func (q *Queue) uploaded(e *entry, o objstore.Object, sums objstore.Sums, took time.Duration) {
	now := time.Now()
	q.mu.Lock()
	cur := q.entries[e.Name]
	if cur != nil {
		cur.uploading = false
		cur.Key, cur.UploadedAt, cur.LastError, cur.NextTry = o.Key, now, "", time.Time{}
		cur.Offload = q.cfg.DeleteLocal()
	}
	q.stats.uploaded(sums.Size)
	q.mu.Unlock()
	q.save()
	q.cfg.Log.Info("upload verified", "file", e.Name, "key", o.Key, "bytes", sums.Size,
		"took", took.Round(time.Millisecond).String(), "since_finished", now.Sub(e.Queued).Round(time.Millisecond).String(),
		"attempts", e.Attempts+1)
	if q.cfg.OnUploaded != nil {
		q.cfg.OnUploaded(e.file(q.cfg.Files), q.cfg.Store.Bucket(), o.Key)
	}
	q.offloadAll()
}

// failed records a failed attempt; the entry is tried again after its backoff.
func (q *Queue) failed(e *entry, err error) {
	n := e.Attempts + 1
	next := time.Now().Add(q.backoff(n))
	q.mu.Lock()
	if cur := q.entries[e.Name]; cur != nil {
		cur.uploading, cur.Attempts, cur.LastError, cur.NextTry = false, n, err.Error(), next
	}
	q.stats.failed(e.Name, err.Error())
	q.mu.Unlock()
	q.save()
	q.cfg.Log.Error("upload failed: "+err.Error(), "file", e.Name, "attempts", n,
		"retry_in", time.Until(next).Round(100*time.Millisecond).String())
}

// release puts an entry cut by the shutdown back, as it was.
func (q *Queue) release(e *entry) {
	q.mu.Lock()
	if cur := q.entries[e.Name]; cur != nil {
		cur.uploading = false
	}
	q.mu.Unlock()
}

// drop forgets an entry whose file is gone.
func (q *Queue) drop(e *entry, why string) {
	q.mu.Lock()
	delete(q.entries, e.Name)
	q.mu.Unlock()
	q.save()
	q.cfg.Log.Warn("upload dropped: "+why, "file", e.Name)
}

// offloadAll deletes the local copies due for deletion whose hooks are done.
func (q *Queue) offloadAll() {
	q.mu.Lock()
	var due []string
	for _, e := range q.entries {
		if e.Offload && !q.cfg.InUse(q.cfg.Files.Path(e.Name)) {
			due = append(due, e.Name)
		}
	}
	q.mu.Unlock()
	for _, name := range due {
		err := q.cfg.Files.Offload(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(q.cfg.Files.Path(name)); serr == nil {
				q.cfg.Log.Error("local copy not deleted after its upload", "file", name, "err", err)
				continue // tried again at the next sweep
			}
		}
		q.mu.Lock()
		if e := q.entries[name]; e != nil {
			e.Offload = false
		}
		q.mu.Unlock()
		if err == nil {
			q.cfg.Log.Info("local copy deleted: the upload is verified", "file", name)
		}
	}
	if len(due) > 0 {
		q.save()
	}
}
