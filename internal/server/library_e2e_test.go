package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/admin"
	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/s3test"
	st "github.com/streamrec/streamrec/internal/servertest"
)

const libraryPassword = "one-library-many-nodes"

// nodeSettings are the settings of a node that records RTMP streams by name and shares bucket.
func nodeSettings(srv *s3test.Store, bucket, node string) map[string]string {
	return map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"admin.password":                 libraryPassword,
		"node_name":                      node,
		"record_s3_endpoint":             srv.Endpoint,
		"record_s3_bucket":               bucket,
		"record_s3_access_key":           s3test.AccessKey,
		"record_s3_secret_key":           s3test.SecretKey,
		"record_s3_path_style":           "true",
	}
}

// bucketOf is the test's own view of the bucket, the one the uploader takes.
func bucketOf(t *testing.T, srv *s3test.Store, bucket string) *objstore.Store {
	t.Helper()
	s, err := objstore.New(objstore.Config{Endpoint: srv.Endpoint, Bucket: bucket, AccessKey: s3test.AccessKey,
		SecretKey: s3test.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record publishes a short clip to each env as stream "cam-" + its node name (at once), and
// returns the finished files' paths by node.
func record(t *testing.T, nodes map[string]*st.Env) map[string]string {
	t.Helper()
	src := st.Make(t, st.Source{Seconds: 3, FPS: 25, GOP: 25, SampleRate: 44100})
	pubs := map[string]*st.Publisher{}
	for node, e := range nodes {
		pubs[node] = st.Publish(t, src, e.RTMP+"/cam-"+node)
	}
	paths := map[string]string{}
	for node, e := range nodes {
		if out, err := pubs[node].Wait(30 * time.Second); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		e.WaitGone("cam-"+node, 10*time.Second)
		paths[node] = filepath.Join(e.Records, "cam-"+node+".mp4")
	}
	return paths
}

// putObject puts a node's finished file in the bucket as the uploader does, metadata and all.
func putObject(t *testing.T, b *objstore.Store, path, node, stream string) {
	t.Helper()
	meta := objstore.Meta{Node: node, Stream: stream, MediaSessionID: "ms-" + stream, Start: time.Now().Add(-3 * time.Second),
		Duration: 3 * time.Second, Codecs: "h264,aac"}
	if _, err := b.Put(context.Background(), filepath.Base(path), path, meta); err != nil {
		t.Fatalf("put %s: %v", path, err)
	}
}

// dashboard is a logged-in dashboard session on one node.
type dashboard struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

func logIn(t *testing.T, e *st.Env) *dashboard {
	t.Helper()
	resp, err := login(st.Client, e.HTTP, libraryPassword)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == admin.CookieName {
			return &dashboard{t: t, base: e.HTTP, cookie: c}
		}
	}
	t.Fatalf("login: %d, no session cookie", resp.StatusCode)
	return nil
}

func (d *dashboard) do(method, path, body string) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.AddCookie(d.cookie)
	req.Header.Set(admin.CSRFHeader, "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := st.Client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type libraryAnswer struct {
	Groups []admin.LibraryGroup `json:"groups"`
	Nodes  []string             `json:"nodes"`
	Node   string               `json:"node"`
	Bucket struct {
		Name    string `json:"name"`
		Objects int    `json:"objects"`
		Error   string `json:"error"`
	} `json:"bucket"`
}

func (d *dashboard) library(query string) libraryAnswer {
	d.t.Helper()
	code, body := d.do("GET", "/admin/api/recordings?"+query, "")
	if code != 200 {
		d.t.Fatalf("recordings: %d %s", code, body)
	}
	var a libraryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		d.t.Fatalf("recordings: %v: %s", err, body)
	}
	return a
}

// file finds a file of the library by name.
func (a libraryAnswer) file(name string) (admin.LibraryGroup, admin.LibraryFile, bool) {
	for _, g := range a.Groups {
		for _, p := range g.Parts {
			if p.Name == name {
				return g, p, true
			}
		}
	}
	return admin.LibraryGroup{}, admin.LibraryFile{}, false
}

func fetchURL(t *testing.T, method, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, u, err)
	}
	return resp, b
}

// TestTwoNodesOneLibrary is issue 15's "two nodes on one bucket": each node records a stream
// and (as its uploader will) puts the file in the shared bucket; each node's library then lists
// both recordings with the node that made them, and serves the other node's file, which it
// holds only in the bucket, byte for byte, with Range and HEAD.
func TestTwoNodesOneLibrary(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t, "library")
	nodes := map[string]*st.Env{
		"node-a": st.Start(t, nodeSettings(srv, bucket, "node-a")),
		"node-b": st.Start(t, nodeSettings(srv, bucket, "node-b")),
	}
	b := bucketOf(t, srv, bucket)
	local := map[string][]byte{}
	for node, path := range record(t, nodes) {
		waitUploaded(t, nodes[node], filepath.Base(path), 30*time.Second)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		local[filepath.Base(path)] = data
	}

	for node, e := range nodes {
		t.Run(node, func(t *testing.T) {
			d := logIn(t, e)
			lib := d.library("refresh=1")
			if lib.Node != node || lib.Bucket.Name != bucket || lib.Bucket.Error != "" || len(lib.Nodes) != 2 {
				t.Errorf("library of %s: node %q, nodes %v, bucket %+v", node, lib.Node, lib.Nodes, lib.Bucket)
			}
			for other := range nodes {
				name := "cam-" + other + ".mp4"
				g, f, ok := lib.file(name)
				if !ok {
					t.Fatalf("%s's library does not list %s: %+v", node, name, lib.Groups)
				}
				where := "bucket"
				if other == node {
					where = "both"
				}
				if f.Node != other || g.Node != other || f.Location != where || f.Status != "uploaded" ||
					g.Stream != "cam-"+other || f.Size != int64(len(local[name])) {
					t.Errorf("%s lists %s as %+v in %+v; want node %s, location %s, uploaded", node, name, f, g, other, where)
				}
			}
			if only := d.library("node=" + node); len(only.Groups) != 1 || only.Groups[0].Node != node {
				t.Errorf("filter node=%s: %+v", node, only.Groups)
			}
		})
	}

	// Node A serves B's recording, which it has only in the bucket.
	a := nodes["node-a"]
	name := "cam-node-b.mp4"
	want := local[name]
	u := a.HTTP + "/client/records/" + name
	resp, body := fetchURL(t, "GET", u)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("GET %s from the bucket: %d, %d bytes (want %d), %s", name, resp.StatusCode, len(body), len(want), resp.Header.Get("Content-Type"))
	}
	resp, body = fetchURL(t, "GET", u, "Range", "bytes=1000-5999")
	if resp.StatusCode != 206 || !bytes.Equal(body, want[1000:6000]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-5999/%d", len(want)) {
		t.Errorf("Range 1000-5999: %d, %d bytes, Content-Range %q", resp.StatusCode, len(body), resp.Header.Get("Content-Range"))
	}
	resp, body = fetchURL(t, "GET", u, "Range", "bytes=-100")
	if resp.StatusCode != 206 || !bytes.Equal(body, want[len(want)-100:]) {
		t.Errorf("Range -100: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = fetchURL(t, "GET", u, "Range", fmt.Sprintf("bytes=%d-", len(want)))
	if resp.StatusCode != 416 {
		t.Errorf("Range past the end: %d, want 416", resp.StatusCode)
	}
	resp, body = fetchURL(t, "HEAD", u)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(want)) ||
		resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d, length %d (want %d), headers %v", resp.StatusCode, resp.ContentLength, len(want), resp.Header)
	}
	for _, bad := range []string{"..%2F" + name, "%2E" + name, "cam-node-b.txt", "nothing.mp4"} {
		if resp, _ := fetchURL(t, "GET", a.HTTP+"/client/records/"+bad); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", bad, resp.StatusCode)
		}
	}

	// The REST listing has both, with where to download them.
	code, rest := a.Post("/rest-api/records", "") // POST is not the listing: it changes nothing and is refused
	if code == 200 {
		t.Errorf("POST /rest-api/records: %d %s", code, rest)
	}
	resp, rest = fetchURL(t, "GET", a.HTTP+"/rest-api/records")
	var listing struct {
		Node  string             `json:"node"`
		Files []admin.RecordFile `json:"files"`
	}
	if err := json.Unmarshal(rest, &listing); err != nil || resp.StatusCode != 200 || len(listing.Files) != 2 {
		t.Fatalf("GET /rest-api/records: %d %v %s", resp.StatusCode, err, rest)
	}
	for _, f := range listing.Files {
		other := strings.TrimSuffix(strings.TrimPrefix(f.Name, "cam-"), ".mp4")
		wantURL := a.HTTP + "/client/records/" + url.PathEscape(f.Name)
		if other != "node-a" {
			wantURL += "?node=" + other // names are unique per node only
		}
		if f.Node != other || f.Stream != "cam-"+other || f.URL != wantURL ||
			f.Size != int64(len(local[f.Name])) || f.Status != "uploaded" || f.Duration < 2.5 {
			t.Errorf("REST lists %+v", f)
		}
	}

	// A node deletes its own recordings, not another node's.
	d := logIn(t, a)
	code, answer := d.do("POST", "/admin/api/recordings/delete", `{"names":["`+name+`"]}`)
	if code != 400 || !strings.Contains(string(answer), `recorded by node \"node-b\"`) {
		t.Errorf("delete node B's object from node A: %d %s", code, answer)
	}
	if _, err := b.Stat(context.Background(), name); err != nil {
		t.Errorf("node B's object after node A's refused delete: %v", err)
	}
	code, answer = d.do("POST", "/admin/api/recordings/delete", `{"names":["cam-node-a.mp4"]}`)
	if code != 200 {
		t.Errorf("delete node A's own recording: %d %s", code, answer)
	}
	if _, err := b.Stat(context.Background(), "cam-node-a.mp4"); err == nil {
		t.Errorf("node A's object is still in the bucket after its deletion")
	}
	if _, err := os.Stat(filepath.Join(a.Records, "cam-node-a.mp4")); err == nil {
		t.Errorf("node A's local copy is still there after its deletion")
	}

	// Node B's local copy goes (as record_s3_delete_local does it): B serves its file from the
	// bucket, lists it there as its own, and may delete it from there.
	nb := nodes["node-b"]
	if err := os.Remove(filepath.Join(nb.Records, name)); err != nil {
		t.Fatal(err)
	}
	if resp, body := fetchURL(t, "GET", nb.HTTP+"/client/records/"+name, "Range", "bytes=0-"); resp.StatusCode != 206 || !bytes.Equal(body, want) {
		t.Errorf("node B's own file, local copy gone: %d, %d bytes", resp.StatusCode, len(body))
	}
	db := logIn(t, nb)
	if _, f, ok := db.library("refresh=1").file(name); !ok || f.Location != "bucket" || f.Node != "node-b" {
		t.Errorf("node B lists its file whose local copy is gone as %+v", f)
	}
	if code, answer := db.do("POST", "/admin/api/recordings/delete", `{"names":["`+name+`"]}`); code != 200 {
		t.Errorf("node B deletes its own object: %d %s", code, answer)
	}
	if _, err := b.Stat(context.Background(), name); err == nil {
		t.Errorf("node B's object is still in the bucket after B deleted it")
	}
	if _, _, ok := db.library("").file(name); ok {
		t.Errorf("node B still lists its deleted object")
	}
}

// nodeAndOther starts node-a on bucket with a recording of its own, uploaded (cam-node-a.mp4),
// and puts the same bytes in the bucket as node-b's file other, which node-a holds in the bucket
// only. It returns node-a and the bytes.
func nodeAndOther(t *testing.T, srv *s3test.Store, bucket, other string) (*st.Env, []byte) {
	t.Helper()
	e := st.Start(t, nodeSettings(srv, bucket, "node-a"))
	path := record(t, map[string]*st.Env{"node-a": e})["node-a"]
	b := bucketOf(t, srv, bucket)
	waitUploaded(t, e, filepath.Base(path), 30*time.Second)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), other)
	if err := os.WriteFile(copied, data, 0o644); err != nil {
		t.Fatal(err)
	}
	putObject(t, b, copied, "node-b", strings.TrimSuffix(other, ".mp4"))
	return e, data
}

// TestBucketDown: a download of a file that only the bucket holds, while the store hangs, is
// answered 503 within 10 s, and at once while it is stopped; local files are served as ever,
// and the library says what the bucket said last.
func TestBucketDown(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Start(t)
	e, data := nodeAndOther(t, srv, srv.Bucket(t, "down"), "gone.mp4")
	d := logIn(t, e)
	if _, f, ok := d.library("refresh=1").file("gone.mp4"); !ok || f.Location != "bucket" {
		t.Fatalf("the library does not list the bucket's file: %+v", f)
	}
	if resp, body := fetchURL(t, "GET", e.HTTP+"/client/records/gone.mp4"); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET from the bucket while it is up: %d, %d bytes", resp.StatusCode, len(body))
	}

	// A store that accepts connections but answers nothing (SIGSTOP): 503 within the bound.
	srv.Pause()
	began := time.Now()
	resp, body := fetchURL(t, "GET", e.HTTP+"/client/records/gone.mp4")
	if took := time.Since(began); resp.StatusCode != 503 || took > 15*time.Second {
		t.Errorf("GET with the store hung: %d after %v, %s", resp.StatusCode, took, body)
	}
	srv.Continue()

	srv.Stop()
	for _, method := range []string{"GET", "HEAD"} {
		began := time.Now()
		resp, body := fetchURL(t, method, e.HTTP+"/client/records/gone.mp4", "Range", "bytes=0-99")
		if took := time.Since(began); resp.StatusCode != 503 || took > 5*time.Second || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the store down: %d after %v, %s", method, resp.StatusCode, took, body)
		}
		if method == "GET" && (!strings.Contains(string(body), "object store does not answer") || strings.Contains(string(body), srv.Endpoint)) {
			t.Errorf("503 body: %s", body)
		}
	}
	if resp, body := fetchURL(t, "GET", e.HTTP+"/client/records/cam-node-a.mp4"); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("local file with the store down: %d, %d bytes", resp.StatusCode, len(body))
	}
	began = time.Now()
	lib := d.library("refresh=1")
	if _, f, ok := lib.file("gone.mp4"); !ok || lib.Bucket.Error == "" || time.Since(began) > 5*time.Second {
		t.Errorf("library with the store down (after %v): %+v, bucket %+v", time.Since(began), f, lib.Bucket)
	}
	if len(e.LogLines("the bucket did not answer", "gone.mp4")) == 0 {
		t.Errorf("no log line for the failed download")
	}
}

// TestRESTRecordsGuarded: GET /rest-api/records is guarded like every REST call (the token, a
// foreign origin) and, without a bucket, lists this node's files as local.
func TestRESTRecordsGuarded(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"rest_token": "tok-123", "node_name": "solo"})
	if err := os.WriteFile(filepath.Join(e.Records, "copied-in.mp4"), []byte("not really a recording"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := e.HTTP + "/rest-api/records"
	if resp, body := fetchURL(t, "GET", u); resp.StatusCode != 401 {
		t.Errorf("without the token: %d %s", resp.StatusCode, body)
	}
	if resp, body := fetchURL(t, "GET", u, "Authorization", "Bearer tok-123", "Origin", "https://evil.example"); resp.StatusCode != 403 {
		t.Errorf("foreign origin: %d %s", resp.StatusCode, body)
	}
	resp, body := fetchURL(t, "GET", u, "Authorization", "Bearer tok-123")
	var listing struct {
		Node   string             `json:"node"`
		Bucket *struct{}          `json:"bucket"`
		Files  []admin.RecordFile `json:"files"`
	}
	if err := json.Unmarshal(body, &listing); err != nil || resp.StatusCode != 200 {
		t.Fatalf("with the token: %d %v %s", resp.StatusCode, err, body)
	}
	if listing.Node != "solo" || listing.Bucket != nil || len(listing.Files) != 1 {
		t.Fatalf("listing: %s", body)
	}
	f := listing.Files[0]
	if f.Name != "copied-in.mp4" || f.Node != "solo" || f.Location != "local" || f.Status != "local" || f.URL != e.HTTP+"/client/records/copied-in.mp4" {
		t.Errorf("file: %+v", f)
	}
}

// TestSameNameOnTwoNodes: names are unique per node only. Another node's object named like a
// file of this node is listed apart, with its node, and downloads with ?node=; the plain name
// stays this node's file; this node cannot delete the other's object.
func TestSameNameOnTwoNodes(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t, "clash")
	e := st.Start(t, nodeSettings(srv, bucket, "node-a"))
	mine, theirs := bytes.Repeat([]byte("node A's file "), 5000), bytes.Repeat([]byte("node B's file, longer "), 5000)
	if err := os.WriteFile(filepath.Join(e.Records, "cam1.mp4"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cam1.mp4")
	if err := os.WriteFile(path, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	putObject(t, bucketOf(t, srv, bucket), path, "node-b", "cam1")

	d := logIn(t, e)
	lib := d.library("refresh=1")
	byNode := map[string]admin.LibraryFile{}
	for _, g := range lib.Groups {
		for _, p := range g.Parts {
			byNode[p.Node] = p
		}
	}
	a, b := byNode["node-a"], byNode["node-b"]
	if len(lib.Groups) != 2 || a.Name != "cam1.mp4" || a.Location != "local" || b.Name != "cam1.mp4" || b.Location != "bucket" ||
		b.URL != "/client/records/cam1.mp4?node=node-b" || a.URL != "/client/records/cam1.mp4" {
		t.Fatalf("library: %+v", lib.Groups)
	}
	for u, want := range map[string][]byte{a.URL: mine, b.URL: theirs, a.URL + "?node=node-a": mine} {
		if resp, body := fetchURL(t, "GET", e.HTTP+u); resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET %s: %d, %d bytes, want %d", u, resp.StatusCode, len(body), len(want))
		}
	}
	if resp, _ := fetchURL(t, "GET", e.HTTP+a.URL+"?node=node-c"); resp.StatusCode != 404 {
		t.Errorf("a node that made no such file: %d, want 404", resp.StatusCode)
	}
	// Deleting the name deletes this node's file; the other node's object stays.
	if code, answer := d.do("POST", "/admin/api/recordings/delete", `{"names":["cam1.mp4"]}`); code != 200 {
		t.Errorf("delete: %d %s", code, answer)
	}
	if resp, body := fetchURL(t, "GET", e.HTTP+a.URL); resp.StatusCode != 200 || !bytes.Equal(body, theirs) {
		t.Errorf("after deleting this node's cam1.mp4, the name serves %d, %d bytes: want node B's", resp.StatusCode, len(body))
	}
	if code, answer := d.do("POST", "/admin/api/recordings/delete", `{"names":["cam1.mp4"]}`); code != 400 {
		t.Errorf("delete node B's object from node A: %d %s", code, answer)
	}
}
