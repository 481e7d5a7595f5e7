package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/s3test"
	"github.com/streamrec/streamrec/internal/upload"
)

// rig is a records folder, a bucket on a real store and the queue between them.
type rig struct {
	t      *testing.T
	srv    *s3test.Store
	bucket string
	files  *records.Store
	store  *objstore.Store
	cfg    upload.Config
	q      *upload.Queue
	logs   *lockedBuffer
}

// lockedBuffer keeps the queue's log for the test to read.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (r *rig) log() []byte {
	r.logs.mu.Lock()
	defer r.logs.mu.Unlock()
	return bytes.Clone(r.logs.b.Bytes())
}

func newRig(t *testing.T, srv *s3test.Store, edit func(*upload.Config)) *rig {
	t.Helper()
	r := &rig{t: t, srv: srv, bucket: srv.Bucket(t, "up"), logs: &lockedBuffer{}}
	r.files = records.New(t.TempDir(), nil)
	var err error
	r.store, err = objstore.New(objstore.Config{Endpoint: srv.Endpoint, Bucket: r.bucket, Prefix: "n/",
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, PathStyle: true, Stall: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = upload.Config{Store: r.store, Files: r.files, Node: "node-a", MinBackoff: 200 * time.Millisecond,
		MaxBackoff: time.Second, Log: slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, r.logs), nil))}
	if edit != nil {
		edit(&r.cfg)
	}
	r.open()
	return r
}

func (r *rig) open() {
	r.t.Helper()
	q, err := upload.Open(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.q = q
	r.t.Cleanup(q.Close)
}

// file writes size random bytes as name in the records folder and returns its File.
func (r *rig) file(name string, size int) records.File {
	r.t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	path := r.files.Path(name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return records.File{Name: name, Path: path, Size: int64(size), StreamName: "cam " + name, MediaSessionID: "ms-1",
		Part: 2, Start: time.Now().Add(-time.Minute).Truncate(time.Millisecond), Duration: 61500 * time.Millisecond, Codecs: "h264,aac"}
}

// wait polls the file's status until it is in state (or fails the test after limit).
func (r *rig) wait(name, state string, limit time.Duration) upload.Status {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := r.q.Status(name)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: still %+v after %s, want %s", name, st, limit, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sameObject checks that the object of key holds exactly the local file at path.
func (r *rig) sameObject(key, path string) {
	r.t.Helper()
	obj, err := r.srv.Client.GetObject(context.Background(), r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		r.t.Fatalf("read %s: %v", key, err)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), fileSum(r.t, path); got != want {
		r.t.Fatalf("%s: SHA-256 %s, the file's %s", key, got, want)
	}
}

func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSmallAndMultipart(t *testing.T) {
	r := newRig(t, s3test.Shared(t), nil)
	small, big := r.file("small.mp4", 300<<10), r.file("big.mp4", 2*objstore.PartSize+777)
	r.q.Enqueue(small)
	r.q.Enqueue(big)
	if !r.q.Held("small.mp4") || !r.q.Held("big.mp4") {
		t.Error("a file just queued is not held")
	}
	for _, f := range []records.File{small, big} {
		st := r.wait(f.Name, upload.Uploaded, time.Minute)
		if st.Key != "n/"+f.Name || st.UploadedAt.IsZero() || r.q.Held(f.Name) {
			t.Errorf("status %+v, held %v", st, r.q.Held(f.Name))
		}
		r.sameObject(st.Key, f.Path)
		o, err := r.store.Stat(context.Background(), f.Name)
		if err != nil {
			t.Fatal(err)
		}
		m := o.Meta
		if m.Node != "node-a" || m.Stream != f.StreamName || m.MediaSessionID != "ms-1" || m.Part != 2 ||
			!m.Start.Equal(f.Start) || m.Duration != f.Duration || m.Codecs != "h264,aac" {
			t.Errorf("metadata %+v", m)
		}
	}
	if _, err := os.Stat(small.Path); err != nil {
		t.Errorf("local copy gone without record_s3_delete_local: %v", err)
	}
	s := r.q.Summary()
	if s.Counts[upload.Uploaded] != 2 || s.Uploaded != 2 || s.BytesUploaded != small.Size+big.Size {
		t.Errorf("summary %+v", s)
	}
	if st := r.q.Status("other.mp4"); st.State != upload.Local {
		t.Errorf("unknown file: %+v", st)
	}
}

// A name another node's object holds already is uploaded as NAME-NODE.EXT; that object stays.
func TestNameOfAnotherNode(t *testing.T) {
	r := newRig(t, s3test.Shared(t), nil)
	f := r.file("cam.mp4", 1000)
	theirs := filepath.Join(t.TempDir(), "theirs.mp4")
	os.WriteFile(theirs, []byte("another node's recording"), 0o644)
	if _, err := r.store.Put(context.Background(), "cam.mp4", theirs, objstore.Meta{Node: "node-b"}); err != nil {
		t.Fatal(err)
	}
	r.q.Enqueue(f)
	st := r.wait("cam.mp4", upload.Uploaded, time.Minute)
	if st.Key != "n/cam-node-a.mp4" {
		t.Errorf("key %s, want n/cam-node-a.mp4", st.Key)
	}
	r.sameObject(st.Key, f.Path)
	r.sameObject("n/cam.mp4", theirs)
}

// delete_local: the verified file's local copy goes through the records store, once its hook is done.
func TestDeleteLocal(t *testing.T) {
	inUse := make(chan bool, 1)
	inUse <- true
	busy := true
	r := newRig(t, s3test.Shared(t), func(c *upload.Config) {
		c.DeleteLocal = func() bool { return true }
		c.InUse = func(string) bool {
			select {
			case busy = <-inUse:
			default:
			}
			return busy
		}
	})
	f := r.file("gone.mp4", 5000)
	r.q.Enqueue(f)
	st := r.wait("gone.mp4", upload.Uploaded, time.Minute)
	time.Sleep(time.Second)
	if _, err := os.Stat(f.Path); err != nil {
		t.Fatalf("deleted while its hook runs: %v", err)
	}
	inUse <- false
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(f.Path); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("local copy still there 10 s after its hook ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st2 := r.q.Status("gone.mp4"); st2.State != upload.Uploaded || st2.Key != st.Key {
		t.Errorf("status after the local copy went: %+v", st2)
	}
}

// A file changed between its sums and its upload fails verification; the next attempt uploads
// what the file holds then.
func TestChangedFileFailsVerification(t *testing.T) {
	var r *rig
	first := true
	r = newRig(t, s3test.Shared(t), func(c *upload.Config) {
		upload.SetBeforePut(c, func(name string) {
			if first {
				first = false
				f, _ := os.OpenFile(r.files.Path(name), os.O_WRONLY, 0)
				f.WriteAt([]byte("changed!"), 100)
				f.Close()
			}
		})
	})
	f := r.file("changed.mp4", 50000)
	r.q.Enqueue(f)
	st := r.wait("changed.mp4", upload.Failed, time.Minute)
	if !strings.Contains(st.Error, "verify") || !strings.Contains(st.Error, "ETag") || st.Attempts != 1 {
		t.Errorf("status %+v: want a failed verification of the ETag", st)
	}
	st = r.wait("changed.mp4", upload.Uploaded, time.Minute)
	r.sameObject(st.Key, f.Path)
}

// The store stopped mid-upload: the file is failed with the reason, the journal keeps it, a new
// queue on the same journal (a restart) resumes it, and it is uploaded once the store is back.
// A store that hangs (SIGSTOP) fails the attempt within the stall bound.
func TestStoreDown(t *testing.T) {
	srv := s3test.Start(t)
	var pauseAt atomic.Value // file name: the store is paused 300 ms into its upload
	pauseAt.Store("")
	r := newRig(t, srv, func(c *upload.Config) {
		upload.SetBeforePut(c, func(name string) {
			if name == pauseAt.Load() {
				time.AfterFunc(300*time.Millisecond, srv.Pause)
			}
		})
	})
	f := r.file("down.mp4", 6*objstore.PartSize)
	r.q.Enqueue(f)
	r.wait("down.mp4", upload.Uploading, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	st := r.wait("down.mp4", upload.Failed, time.Minute)
	if st.Error == "" || st.NextTry.IsZero() || !r.q.Held("down.mp4") {
		t.Errorf("status %+v", st)
	}
	t.Logf("failed: %s", st.Error)
	if s := r.q.Summary(); len(s.Failing) != 1 || s.LastError == "" {
		t.Errorf("summary %+v", s)
	}
	b, _ := os.ReadFile(r.files.Path(upload.JournalName))
	if !bytes.Contains(b, []byte(`"down.mp4"`)) || !bytes.Contains(b, []byte(`"lastError"`)) {
		t.Errorf("journal:\n%s", b)
	}

	// A restart while the store is down: the new queue knows the file from the journal.
	r.q.Close()
	r.open()
	if st := r.q.Status("down.mp4"); st.State != upload.Failed && st.State != upload.Uploading {
		t.Errorf("after the restart: %+v", st)
	}
	srv.Resume(t)
	st = r.wait("down.mp4", upload.Uploaded, 2*time.Minute)
	r.sameObject(st.Key, f.Path)

	// Hung mid-upload: connections accepted, nothing taken nor answered.
	g := r.file("hung.mp4", 6*objstore.PartSize)
	pauseAt.Store("hung.mp4")
	began := time.Now()
	r.q.Enqueue(g)
	st = r.wait("hung.mp4", upload.Failed, time.Minute)
	pauseAt.Store("")
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("a hung store failed the attempt after %s: want the stall bound (2 s answers, 4 s body)", d)
	}
	t.Logf("hung store: failed after %s: %s", time.Since(began).Round(time.Millisecond), st.Error)
	if !strings.Contains(st.Error, "put ") {
		t.Errorf("the attempt failed before its upload: %s", st.Error)
	}
	srv.Continue()
	st = r.wait("hung.mp4", upload.Uploaded, 2*time.Minute)
	r.sameObject(st.Key, g.Path)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Close (the server's shutdown) cuts an upload in flight; the next queue on the journal uploads it.
func TestCloseMidUpload(t *testing.T) {
	var r *rig
	r = newRig(t, s3test.Shared(t), func(c *upload.Config) {
		upload.SetBeforePut(c, func(string) { time.AfterFunc(100*time.Millisecond, r.q.Close) })
	})
	f := r.file("cut.mp4", 8*objstore.PartSize)
	r.q.Enqueue(f)
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.Contains(r.log(), []byte("upload cut by the shutdown")) {
		if time.Now().After(deadline) {
			t.Fatalf("the upload was not cut by Close; status %+v", r.q.Status("cut.mp4"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := r.q.Status("cut.mp4"); st.State != upload.Queued || !r.q.Held("cut.mp4") {
		t.Errorf("after the cut: %+v", st)
	}
	upload.SetBeforePut(&r.cfg, nil)
	r.open()
	st := r.wait("cut.mp4", upload.Uploaded, time.Minute)
	r.sameObject(st.Key, f.Path)
}
