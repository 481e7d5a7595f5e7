package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
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

// TestMerge: a local file and its object are one file ("both"), also when its upload took
// another name; another node's object is a file of its own, apart from a local file of the
// same name; upload states come from the uploader for local files, from the location otherwise.
func TestMerge(t *testing.T) {
	l := &library{node: func() string { return "a" },
		objectOf: func(name string) string {
			if name == "taken.mp4" {
				return "taken-a.mp4"
			}
			return name
		},
		uploads: func(name string) (string, string) {
			if name == "failing.mp4" {
				return "failed", "the store answered 500"
			}
			return "local", "" // what the upload queue says of a file it never queued
		}}
	local := []string{"up.mp4", "taken.mp4", "clash.mp4", "failing.mp4", "only.mp4"}
	var files []LibraryFile
	var recs []records.Recording
	present := map[string]bool{}
	for _, n := range local {
		files = append(files, LibraryFile{Name: n, Location: onDisk})
		recs = append(recs, records.Recording{Name: n})
		present[n] = true
	}
	obj := func(name, node string) objstore.Object {
		return objstore.Object{Name: name, Meta: objstore.Meta{Node: node, Stream: "s", Duration: time.Second, Codecs: "h264,aac"}}
	}
	more, recs := l.merge(files, recs, present, []objstore.Object{
		obj("up.mp4", "a"), obj("taken-a.mp4", "a"), obj("taken.mp4", "b"), obj("clash.mp4", "b"), obj("far.mp4", "c"), obj("notes.txt", "c"),
	})
	all := append(files, more...)
	for i := range all {
		l.describe(&all[i], "a")
	}
	type want struct{ name, node, location, status, url string }
	got := []want{}
	for _, f := range all {
		got = append(got, want{f.Name, f.Node, f.Location, f.Status + f.StatusReason, f.URL})
	}
	exp := []want{
		{"up.mp4", "a", "both", "uploaded", "/client/records/up.mp4"},
		{"taken.mp4", "a", "both", "uploaded", "/client/records/taken.mp4"},
		{"clash.mp4", "a", "local", "local", "/client/records/clash.mp4"},
		{"failing.mp4", "a", "local", "failedthe store answered 500", "/client/records/failing.mp4"},
		{"only.mp4", "a", "local", "local", "/client/records/only.mp4"},
		{"taken.mp4", "b", "bucket", "uploaded", "/client/records/taken.mp4?node=b"},
		{"clash.mp4", "b", "bucket", "uploaded", "/client/records/clash.mp4?node=b"},
		{"far.mp4", "c", "bucket", "uploaded", "/client/records/far.mp4?node=c"},
	}
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Errorf("merged:\n%v\nwant\n%v", got, exp)
	}
	if v := more[len(more)-1]; v.Video == nil || v.Video.Codec != "H264" || v.Audio == nil || v.Audio.Codec != "AAC" || v.Duration != 1 {
		t.Errorf("media of an object from its metadata: %+v", v.MediaInfo)
	}
	groups := group(all, recs, present)
	ids := map[string]bool{}
	for _, g := range groups {
		ids[g.ID] = true
	}
	if len(groups) != len(all) || !ids["clash.mp4@b"] || !ids["clash.mp4"] {
		t.Errorf("groups %v: another node's file of the same name must be a group of its own", ids)
	}
}
