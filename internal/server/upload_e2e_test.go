package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/streamrec/streamrec/internal/s3test"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/upload"
)

// s3Settings are the settings that upload to bucket on srv, as node, plus more.
func s3Settings(srv *s3test.Store, bucket, node string, more map[string]string) map[string]string {
	s := map[string]string{
		"record_s3_endpoint": srv.Endpoint, "record_s3_bucket": bucket, "record_s3_prefix": "rec/",
		"record_s3_access_key": s3test.AccessKey, "record_s3_secret_key": s3test.SecretKey,
		"record_s3_path_style": "true", "node_name": node,
		"record_flash_published_streams": "true", "stream_record_policy": "streamName",
	}
	for k, v := range more {
		s[k] = v
	}
	return s
}

// objectSum reads the object of key and returns its SHA-256 and the one its metadata carries.
func objectSum(t *testing.T, srv *s3test.Store, bucket, key string) (body, meta string) {
	t.Helper()
	ctx := context.Background()
	obj, err := srv.Client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	info, err := srv.Client.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), info.UserMetadata["Sha256"]
}

func localSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// waitUploaded waits until the server's queue says name is uploaded.
func waitUploaded(t *testing.T, e *st.Env, name string, limit time.Duration) upload.Status {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := e.Server.Uploads.Status(name)
		if s.State == upload.Uploaded {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v after %s, want uploaded", name, s, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A rotated RTMP recording: every part is in the bucket, byte for byte, with its metadata.
func TestUploadRotatedRecording(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t, "rot")
	e := st.Start(t, s3Settings(srv, bucket, "node-1", map[string]string{"record_rotation": "2", "admin.password": adminPassword}))
	if e.LogLines("uploading finished recordings", "bucket="+bucket) == nil {
		t.Error("no log line saying where recordings are uploaded")
	}
	for _, l := range e.LogLines() {
		if strings.Contains(l, s3test.SecretKey) {
			t.Errorf("the secret key is in the log: %s", l)
		}
	}
	files := recordParts(t, e, "rot", st.Source{Seconds: 7, FPS: 30, GOP: 30, SampleRate: 44100}, 4)
	for i, f := range files {
		s := waitUploaded(t, e, f, 30*time.Second)
		if s.Key != "rec/"+f {
			t.Errorf("%s: key %s", f, s.Key)
		}
		body, meta := objectSum(t, srv, bucket, s.Key)
		if local := localSum(t, filepath.Join(e.Records, f)); body != local || meta != local {
			t.Errorf("%s: object SHA-256 %s (metadata %s), the local file's %s", f, body, meta, local)
		}
		info, err := srv.Client.StatObject(context.Background(), bucket, s.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := info.UserMetadata
		if m["Node"] != "node-1" || m["Stream"] != "rot" || m["Codecs"] != "h264,aac" || m["Part"] != string(rune('1'+i)) || m["Media-Session-Id"] == "" || m["Duration-Ms"] == "" || m["Start"] == "" {
			t.Errorf("%s: metadata %v", f, m)
		}
	}
	for _, l := range e.LogLines("upload verified") {
		t.Log(l[strings.Index(l, "msg="):])
	}
	code, b := adminGet(t, e, "/admin/api/uploads")
	var got struct {
		Enabled bool
		Bucket  string
		Summary upload.Summary
	}
	json.Unmarshal(b, &got)
	if code != 200 || !got.Enabled || got.Bucket != bucket || got.Summary.Counts[upload.Uploaded] != 4 || strings.Contains(string(b), s3test.SecretKey) {
		t.Errorf("GET /admin/api/uploads: %d %s", code, b)
	}
	m := scrapeMetrics(t, e, "")
	var total int64
	for _, f := range files {
		fi, _ := os.Stat(filepath.Join(e.Records, f))
		total += fi.Size()
	}
	if m.value(t, `streamrec_upload_files_total{result="uploaded"}`) != 4 || m.value(t, "streamrec_upload_bytes_total") != float64(total) ||
		m.value(t, "streamrec_upload_queue_files") != 0 {
		t.Errorf("upload metrics: %v", m)
	}
}

// record_s3_delete_local: each part's local copy goes once its upload is verified (after its
// hook ran on it); the objects are whole and decode.
func TestUploadDeleteLocal(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Shared(t)
	bucket := srv.Bucket(t, "del")
	seen := filepath.Join(t.TempDir(), "seen.txt")
	script := writeScript(t, "sleep 1; wc -c < \"$2\" >> "+seen+"\n")
	e := st.Start(t, s3Settings(srv, bucket, "node-1", map[string]string{"record_rotation": "2",
		"record_s3_delete_local": "true", "on_record_hook_script": script}))
	recordClip(t, e, "del", st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100})
	names := []string{"del-1.mp4", "del-2.mp4", "del-3.mp4"} // the first may be gone already
	for _, f := range names {
		s := waitUploaded(t, e, f, 30*time.Second)
		body, meta := objectSum(t, srv, bucket, s.Key)
		if body != meta {
			t.Errorf("%s: object SHA-256 %s, its metadata says %s", f, body, meta)
		}
		tmp := filepath.Join(t.TempDir(), f)
		if err := srv.Client.FGetObject(context.Background(), bucket, s.Key, tmp, minio.GetObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if out := st.Decodes(t, tmp); out != "" {
			t.Errorf("%s from the bucket does not decode: %s", f, out)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(recordings(e)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := recordings(e); len(left) > 0 {
		t.Errorf("local copies left: %v", left)
	}
	b, _ := os.ReadFile(seen)
	if n := strings.Count(strings.TrimSpace(string(b)), "\n") + 1; n != len(names) || strings.Contains(string(b), "No such file") {
		t.Errorf("the hook saw %q: want each part whole, before its deletion", b)
	}
	for _, f := range names {
		if s := e.Server.Uploads.Status(f); s.State != upload.Uploaded {
			t.Errorf("%s after the local copy went: %+v", f, s)
		}
	}
}

// kill -9 while an upload is in flight (the store hangs), and while a recording is open: after
// the restart the hung upload is done again and the recovered file uploaded, each object equal
// to its local file.
func TestUploadSIGKILL(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "kill")
	e := st.Prepare(t, s3Settings(srv, bucket, "node-1", nil))
	child := startChild(t, e)
	src := st.Make(t, st.Source{Seconds: 4, FPS: 30, GOP: 30, SampleRate: 44100})
	long := st.Make(t, st.Source{Seconds: 30, FPS: 30, GOP: 30, SampleRate: 44100})
	st.Publish(t, long, e.RTMP+"/open")
	time.Sleep(time.Second)
	srv.Pause() // from now on every request hangs
	pub := st.Publish(t, src, e.RTMP+"/done")
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	journal := filepath.Join(e.Records, upload.JournalName)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, _ := os.ReadFile(journal); strings.Contains(string(b), `"done.mp4"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("done.mp4 not in the upload journal 10 s after its recording ended")
		}
	}
	time.Sleep(500 * time.Millisecond) // its attempt is under way, hung
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	srv.Continue()

	startChild(t, e)
	want := map[string]bool{"done.mp4": false, "open.mp4": false}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		left := 0
		for name := range want {
			want[name] = uploadedInJournal(t, journal, name)
			if !want[name] {
				left++
			}
		}
		if left == 0 {
			break
		}
	}
	for name, ok := range want {
		if !ok {
			b, _ := os.ReadFile(journal)
			t.Fatalf("%s not uploaded 60 s after the restart; journal:\n%s", name, b)
		}
		body, meta := objectSum(t, srv, bucket, "rec/"+name)
		if local := localSum(t, filepath.Join(e.Records, name)); body != local || meta != local {
			t.Errorf("%s: object SHA-256 %s (metadata %s), the local file's %s", name, body, meta, local)
		}
	}
}

const adminPassword = "upload-e2e-password"

// adminGet logs in to the dashboard (admin.password = adminPassword) and GETs path.
func adminGet(t *testing.T, e *st.Env, path string) (int, []byte) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := login(client, e.HTTP, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get(e.HTTP + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// uploadedInJournal reads the queue's journal as a restarted server left it.
func uploadedInJournal(t *testing.T, journal, name string) bool {
	var j struct {
		Uploads []struct {
			Name       string
			UploadedAt time.Time
		}
	}
	b, _ := os.ReadFile(journal)
	json.Unmarshal(b, &j)
	for _, u := range j.Uploads {
		if u.Name == name && !u.UploadedAt.IsZero() {
			return true
		}
	}
	return false
}

// The dashboard's Uploads page: the files failing while the bucket is missing, with the reason,
// then uploaded once it exists.
func TestUploadsPageInBrowser(t *testing.T) {
	root := browserEnv(t)
	srv := s3test.Shared(t)
	bucket := fmt.Sprintf("later-%d", time.Now().UnixNano()%1e9)
	e := st.Start(t, s3Settings(srv, bucket, "node-1", map[string]string{"record_rotation": "2", "admin.password": adminPassword}))
	recordClip(t, e, "page", st.Source{Seconds: 3, FPS: 30, GOP: 30, SampleRate: 44100})
	r := browse(t, root, "uploads.mjs", map[string]string{"BASE": e.HTTP, "PASSWORD": adminPassword, "SHOTS": shotsDir(t),
		"COUNT": "2", "FAILING": "page-1.mp4", "BUCKET": bucket}, map[string]func(){
		"failing": func() {
			if err := srv.Client.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
				t.Error(err)
			}
		},
	})
	t.Logf("the page's reason: %v", r["reason"])
}

// Retention never deletes a file that is not yet safely in the bucket: with the store hung,
// parts older than record_delete_after stay on disk; once the store answers they are uploaded,
// then deleted, and still download from the bucket, whole and by Range.
func TestRetentionWaitsForUpload(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "hold")
	e := st.Start(t, s3Settings(srv, bucket, "node-1", map[string]string{"record_rotation": "2", "record_delete_after": "1s"}))
	srv.Pause()
	paused := true
	defer func() {
		if paused {
			srv.Continue()
		}
	}()
	files := recordParts(t, e, "held", st.Source{Seconds: 5, FPS: 30, GOP: 30, SampleRate: 44100}, 3)
	local := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(e.Records, f))
		if err != nil {
			t.Fatal(err)
		}
		local[f] = b
	}
	time.Sleep(12 * time.Second) // past record_delete_after, and a retention pass (every 10 s)
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(e.Records, f)); err != nil {
			t.Errorf("%s deleted before its upload: %v", f, err)
		}
	}
	srv.Continue()
	paused = false
	for _, f := range files {
		waitUploaded(t, e, f, 90*time.Second)
	}
	for deadline := time.Now().Add(20 * time.Second); len(e.RecordFiles()) > 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("uploaded files older than record_delete_after still on disk: %v", e.RecordFiles())
		}
	}
	f := files[1]
	code, body := getAuth(t, e, "/client/records/"+f, "")
	if code != 200 || body != string(local[f]) {
		t.Errorf("download of %s from the bucket: %d, %d bytes, want %d", f, code, len(body), len(local[f]))
	}
	req, _ := http.NewRequest(http.MethodGet, e.HTTP+"/client/records/"+f, nil)
	req.Header.Set("Range", "bytes=100-1099")
	resp, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(got) != string(local[f][100:1100]) {
		t.Errorf("range from the bucket: %d, %d bytes", resp.StatusCode, len(got))
	}
}
