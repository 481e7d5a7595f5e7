package admin

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/s3test"
)

// TestBucketViewCache: a listing Stats each object once; later listings reuse its metadata
// until the object changes (another ETag); a bucket holding more than max objects is listed cut.
func TestBucketViewCache(t *testing.T) {
	srv := s3test.Shared(t)
	store, err := objstore.New(objstore.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(t, "view"),
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, node, body string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Put(context.Background(), name, path, objstore.Meta{Node: node, Stream: "s-" + name, Duration: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	put("a.mp4", "n1", "one")
	put("b.mp4", "n2", "two")
	b := newBucketView(store)
	l := b.listing(false)
	if l.Err != nil || len(l.Objects) != 2 || l.Cut || b.stats.Load() != 2 {
		t.Fatalf("first listing: %+v, %d Stats", l, b.stats.Load())
	}
	for _, o := range l.Objects {
		if want := map[string]string{"a.mp4": "n1", "b.mp4": "n2"}[o.Name]; o.Meta.Node != want || o.Meta.Stream != "s-"+o.Name {
			t.Errorf("%s: meta %+v", o.Name, o.Meta)
		}
	}
	if l := b.listing(false); len(l.Objects) != 2 || b.stats.Load() != 2 {
		t.Errorf("a listing within %v asked the bucket again: %d Stats", bucketEvery, b.stats.Load())
	}
	put("b.mp4", "n3", "two, again")
	if b.listing(true); b.stats.Load() != 2 {
		t.Errorf("a refresh asked for within %v of the last one asked the bucket again", bucketMinEvery)
	}
	b.tried = b.tried.Add(-bucketMinEvery) // as if a second had passed
	l = b.listing(true)
	if b.stats.Load() != 3 {
		t.Errorf("refresh after one object changed: %d Stats, want 3", b.stats.Load())
	}
	for _, o := range l.Objects {
		if o.Name == "b.mp4" && o.Meta.Node != "n3" {
			t.Errorf("changed object keeps its old metadata: %+v", o.Meta)
		}
	}
	b.max = 1
	b.tried = b.tried.Add(-bucketMinEvery)
	if l := b.listing(true); !l.Cut || len(l.Objects) != 1 {
		t.Errorf("max 1: cut %v, %d objects", l.Cut, len(l.Objects))
	}
}
