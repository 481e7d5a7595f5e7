package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/s3test"
)

// open starts a store with a bucket and returns objstore's view of it under prefix.
func open(t *testing.T, prefix string) (*objstore.Store, *s3test.Store) {
	t.Helper()
	srv := s3test.Shared(t)
	s, err := objstore.New(objstore.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(t, "records"), Prefix: prefix,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func file(t *testing.T, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	path := filepath.Join(t.TempDir(), "f.mp4")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// One store for the whole round trip: starting weed costs seconds.
func TestRoundTrip(t *testing.T) {
	s, srv := open(t, "node-a/")
	ctx := context.Background()
	meta := objstore.Meta{Node: "a", Stream: "café ~ 1", MediaSessionID: "ms-1", Part: 2,
		Start: time.Date(2026, 12, 3, 10, 0, 0, 5e6, time.UTC), Duration: 61500 * time.Millisecond, Codecs: "h264,aac"}

	t.Run("small", func(t *testing.T) {
		path, body := file(t, 300<<10)
		o, err := s.Put(ctx, "small.mp4", path, meta)
		if err != nil {
			t.Fatal(err)
		}
		if o.Key != "node-a/small.mp4" || o.Size != int64(len(body)) || strings.Contains(o.ETag, "-") {
			t.Errorf("object %+v", o)
		}
		got, err := s.Stat(ctx, "small.mp4")
		if err != nil {
			t.Fatal(err)
		}
		want := meta
		want.SHA256 = got.Meta.SHA256
		if got.Meta != want || len(got.Meta.SHA256) != 64 {
			t.Errorf("metadata\n got %+v\nwant %+v", got.Meta, want)
		}
	})

	t.Run("multipart", func(t *testing.T) {
		path, body := file(t, 2*objstore.PartSize+12345)
		o, err := s.Put(ctx, "big.mp4", path, meta)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(o.ETag, "-3") {
			t.Errorf("ETag %s: want a 3-part upload", o.ETag)
		}
		// Ranges as a player asks for them, through the seeking reader.
		r, _, err := s.Open(ctx, "big.mp4")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		off := int64(objstore.PartSize - 100)
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 1000)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, body[off:off+1000]) {
			t.Errorf("range across a part boundary: %v", err)
		}
	})

	t.Run("exact part size", func(t *testing.T) {
		path, _ := file(t, objstore.PartSize)
		if _, err := s.Put(ctx, "exact.mp4", path, meta); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list and delete", func(t *testing.T) {
		l, err := s.List(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]int64{}
		for _, o := range l {
			names[o.Name] = o.Size
		}
		if len(names) != 3 || names["small.mp4"] != 300<<10 {
			t.Errorf("list: %v", names)
		}
		if err := s.Delete(ctx, "small.mp4"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "small.mp4"); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("stat after delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("presigned", func(t *testing.T) {
		u, err := s.Presign(ctx, "exact.mp4", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", u.String(), nil)
		req.Header.Set("Range", "bytes=10-19")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 10 || resp.Header.Get("Content-Type") != "video/mp4" {
			t.Errorf("presigned range: %d, %d bytes, %s", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("wrong secret refused", func(t *testing.T) {
		bad, _ := objstore.New(objstore.Config{Endpoint: srv.Endpoint, Bucket: s.Bucket(), AccessKey: s3test.AccessKey, SecretKey: "nope", PathStyle: true})
		path, _ := file(t, 1000)
		if _, err := bad.Put(ctx, "x.mp4", path, meta); err == nil || strings.Contains(err.Error(), "nope") {
			t.Errorf("put with a wrong secret: %v", err)
		}
	})

	t.Run("changed object fails the check", func(t *testing.T) {
		path, _ := file(t, 1000)
		if _, err := s.Put(ctx, "c.mp4", path, meta); err != nil {
			t.Fatal(err)
		}
		// Someone else overwrites the object: its SHA-256 metadata no longer matches the file.
		if _, err := srv.Client.PutObject(ctx, s.Bucket(), "node-a/c.mp4", strings.NewReader("other"), 5, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		o, _ := s.Stat(ctx, "c.mp4")
		sums, _ := objstore.Checksum(path)
		if err := objstore.Verify(o, sums); err == nil {
			t.Error("an overwritten object passed the check")
		}
	})
}

func TestConfig(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:8333", "ftp://x", "http://h/path"} {
		if _, err := objstore.New(objstore.Config{Endpoint: ep, Bucket: "b"}); err == nil {
			t.Errorf("endpoint %q accepted", ep)
		}
	}
	if _, err := objstore.New(objstore.Config{Endpoint: "http://127.0.0.1:1"}); err == nil {
		t.Error("empty bucket accepted")
	}
}

func TestChecksumETag(t *testing.T) {
	// The ETags S3 gives these sizes: one MD5, or the MD5 of the parts' MD5s with their count.
	for _, tc := range []struct {
		size  int
		parts string
	}{{0, ""}, {1, ""}, {objstore.PartSize, ""}, {objstore.PartSize + 1, "-2"}, {3 * objstore.PartSize, "-3"}} {
		path, _ := file(t, tc.size)
		s, err := objstore.Checksum(path)
		if err != nil {
			t.Fatal(err)
		}
		if s.Size != int64(tc.size) || len(s.SHA256) != 64 || !strings.HasSuffix(s.ETag, tc.parts) || (tc.parts == "" && strings.Contains(s.ETag, "-")) {
			t.Errorf("size %d: %+v", tc.size, s)
		}
	}
}

// TestRange: Range reads the bytes asked for, makes its request before the first read, and
// refuses an object that is no longer the one of the ETag given.
func TestRange(t *testing.T) {
	s, _ := open(t, "")
	ctx := context.Background()
	path, body := file(t, 100<<10)
	o, err := s.Put(ctx, "r.mp4", path, objstore.Meta{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Range(ctx, "r.mp4", o.ETag, 1000, 5000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body[1000:6000]) {
		t.Errorf("range 1000+5000: %d bytes, %v", len(got), err)
	}
	if _, err := s.Range(ctx, "r.mp4", "0123456789abcdef0123456789abcdef", 0, 10); err == nil {
		t.Error("a stale ETag was not refused")
	}
	if _, err := s.Range(ctx, "none.mp4", "", 0, 10); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("missing object: %v, want ErrNotFound", err)
	}
}
