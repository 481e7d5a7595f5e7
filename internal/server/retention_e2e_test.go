package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/admin"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/retention"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// beingWritten lists the files the journal says are being written, and fails the test for any
// of them missing from the folder. A file leaves the journal when it is finished, and is then
// younger than any retention age, so a file listed here that is gone was deleted while written.
func beingWritten(t *testing.T, e *st.Env) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.Records, records.JournalDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range ents {
		name, ok := strings.CutSuffix(en.Name(), ".json")
		if !ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(e.Records, name)); err != nil && e.Server.Files.Writing(name) {
			t.Errorf("%s is being written but gone from the folder: %v", name, err)
		}
		names = append(names, name)
	}
	return names
}

// oldFile puts a recording of size bytes, last written age ago, into the records folder.
func oldFile(t *testing.T, e *st.Env, name string, size int, age time.Duration) {
	t.Helper()
	path := filepath.Join(e.Records, name)
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// partNumber is N of a part NAME-N.EXT.
func partNumber(t *testing.T, name string) int {
	t.Helper()
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.Atoi(strings.TrimSuffix(name[i+1:], filepath.Ext(name)))
	if i < 0 || err != nil {
		t.Fatalf("%s is not a part", name)
	}
	return n
}

func exists(e *st.Env, name string) bool {
	_, err := os.Stat(filepath.Join(e.Records, name))
	return err == nil
}

// waitFor polls cond every 100 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

func deletedNames(e *st.Env) []string {
	var names []string
	for _, d := range e.Server.Retention.Deletions() {
		names = append(names, d.Name)
	}
	slices.Reverse(names) // oldest deletion first
	return names
}

// adminRetention logs in to the dashboard and reads GET /admin/api/retention.
func adminRetention(t *testing.T, e *st.Env, password string) retention.Status {
	t.Helper()
	resp, err := login(st.Client, e.HTTP, password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == admin.CookieName {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", e.HTTP+"/admin/api/retention", nil)
	anon, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	anon.Body.Close()
	if anon.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /admin/api/retention without a session: %d, want 401", anon.StatusCode)
	}
	req.AddCookie(cookie)
	r, err := st.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var out retention.Status
	if r.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("GET /admin/api/retention: %d %s", r.StatusCode, body)
	}
	return out
}

// TestRetentionByAge: with record_delete_after=3s and parts of 2 s, the finished parts go
// about 3 s after they were finished while the stream is still recording, and the part being
// written never does; once the stream ends, the last parts go too. Every deletion is listed
// with its age and reason on the dashboard's API.
func TestRetentionByAge(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	const password = "retention-by-age"
	e := st.Start(t, withBystander(map[string]string{"record_rotation": "2", "record_delete_after": "3s", "admin.password": password}))
	pub := st.Publish(t, st.Make(t, st.Source{Seconds: 16, FPS: 25, GOP: 25, SampleRate: 44100}), e.RTMP+"/aged")
	e.WaitStream("aged", "PUBLISHING", 15*time.Second)

	written := map[string]bool{}
	firstGoneWhileRecording := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		cur := beingWritten(t, e)
		for _, n := range cur {
			written[n] = true
		}
		if len(cur) > 0 && written["aged-1.mp4"] && !exists(e, "aged-1.mp4") {
			firstGoneWhileRecording = true
		}
		if !slices.ContainsFunc(e.Streams(), func(s st.Stream) bool { return s.Name == "aged" }) {
			break // the stream ended, its last part finished
		}
	}
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Errorf("ffmpeg: %v\n%s", err, out)
	}
	if len(written) < 5 {
		t.Fatalf("only %d parts were written: %v", len(written), written)
	}
	if !firstGoneWhileRecording {
		t.Errorf("aged-1.mp4 was not deleted while the stream was still recording; deletions %v", deletedNames(e))
	}
	// The last parts go at the latest at the next 10 s pass after they are 3 s old.
	waitFor(t, 20*time.Second, "every part deleted", func() bool { return len(recordings(e)) == 0 })
	if got := deletedNames(e); len(got) != len(written) {
		t.Errorf("deleted %v, written %v", got, written)
	}
	for _, d := range e.Server.Retention.Deletions() {
		if d.Age < 3*time.Second || d.Reason != "older than record_delete_after=3s" || d.Size <= 0 {
			t.Errorf("deletion %+v", d)
		}
	}
	if n := len(e.LogLines("recording deleted", "reason=\"older than record_delete_after=3s\"")); n != len(written) {
		t.Errorf("%d deletions logged, want %d", n, len(written))
	}
	status := adminRetention(t, e, password)
	if status.DeleteAfter != "3s" || status.Refused != "" || len(status.Deletions) != len(written) || status.Deletions[0].AgeSeconds < 3 {
		t.Errorf("admin retention: %+v", status)
	}
}

// TestRetentionByTotalSize: with record_max_total_size=1M, files put in the folder before the
// recording (4 × 256 KB) go oldest first as the recording's parts come (about 200 KB each),
// then the oldest parts, and the folder ends within the bound with the newest parts, which play.
func TestRetentionByTotalSize(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, withBystander(map[string]string{"record_rotation": "2", "record_max_total_size": "1M"}))
	for i, name := range []string{"old-1.mp4", "old-2.mp4", "old-3.mp4", "old-4.mp4"} {
		oldFile(t, e, name, 256<<10, time.Duration(4-i)*time.Hour)
	}
	pub := st.Publish(t, st.Make(t, st.Source{Seconds: 12, FPS: 25, GOP: 25, SampleRate: 44100}), e.RTMP+"/sized")
	e.WaitStream("sized", "PUBLISHING", 15*time.Second)
	if out, err := pub.Wait(30 * time.Second); err != nil {
		t.Errorf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("sized", 15*time.Second)
	var total int64
	waitFor(t, 15*time.Second, "the folder within 1 MB", func() bool {
		total = 0
		for _, name := range recordings(e) {
			if fi, err := os.Stat(filepath.Join(e.Records, name)); err == nil {
				total += fi.Size()
			}
		}
		return total <= 1<<20
	})
	got := deletedNames(e)
	t.Logf("deleted %v; left %v (%d bytes)", got, recordings(e), total)
	if len(got) < 2 || got[0] != "old-1.mp4" || got[1] != "old-2.mp4" {
		t.Fatalf("deletions %v, want old-1.mp4 then old-2.mp4 first", got)
	}
	// Oldest first: no part of the recording went while an older file was left.
	for i, name := range got {
		if strings.HasPrefix(name, "sized-") && slices.ContainsFunc(got[i:], func(n string) bool { return strings.HasPrefix(n, "old-") }) {
			t.Errorf("%s deleted before an older file: %v", name, got)
		}
		if strings.HasPrefix(name, "sized-") && slices.ContainsFunc(recordings(e), func(n string) bool { return strings.HasPrefix(n, "old-") }) {
			t.Errorf("%s deleted while an older file is left: %v", name, recordings(e))
		}
	}
	for _, d := range e.Server.Retention.Deletions() {
		if !strings.HasPrefix(d.Reason, "records folder ") || !strings.HasSuffix(d.Reason, " over record_max_total_size=1M") {
			t.Errorf("deletion %+v", d)
		}
	}
	parts := slices.DeleteFunc(recordings(e), func(n string) bool { return !strings.HasPrefix(n, "sized-") })
	if len(parts) == 0 || len(got) <= 4 {
		t.Fatalf("left %v, deleted %v: want the newest parts left, the oldest deleted", parts, got)
	}
	// The parts left are the newest: numbered after every part deleted.
	for _, name := range got[4:] {
		for _, kept := range parts {
			if partNumber(t, name) > partNumber(t, kept) {
				t.Errorf("%s deleted, the older %s kept", name, kept)
			}
		}
	}
	for _, name := range parts {
		if out := st.Decodes(t, filepath.Join(e.Records, name)); out != "" {
			t.Errorf("%s: %s", name, out)
		}
	}
}

// TestRetentionByFreeSpace, on a 200 MB tmpfs with record_min_free_space=130M: the oldest files
// go first, only as many as the free space needs, as the disk fills; when nothing is left to
// delete (a ballast the server does not own fills the disk) new recordings are refused with
// 507 and a status naming the setting, logged once, while the running recording goes on and
// its part being written stays; once the space is back the refused stream records by itself.
func TestRetentionByFreeSpace(t *testing.T) {
	if err := tmpfs.Mountable(); err != nil && os.Getenv("CI") != "" {
		t.Fatalf("CI must run this test, but a tmpfs cannot be mounted (needs root or CAP_SYS_ADMIN): %v", err)
	}
	e := st.Start(t, withBystander(map[string]string{"record_rotation": "2", "record_min_free_space": "130M"}))
	tmpfs.Mount(t, e.Records, 200<<20)
	for i := range 5 { // 100 MB: 100 MB free, 130 MB wanted
		oldFile(t, e, "old-"+string(rune('1'+i))+".mp4", 20<<20, time.Duration(5-i)*time.Hour)
	}
	clip := st.Make(t, st.Source{Seconds: 60, FPS: 25, GOP: 25, SampleRate: 44100})
	pub := st.Publish(t, clip, e.RTMP+"/spacious")
	e.WaitStream("spacious", "PUBLISHING", 15*time.Second)
	// The start itself made room: the two oldest went, no more.
	waitFor(t, 10*time.Second, "recording", func() bool { return len(beingWritten(t, e)) > 0 })
	if got := deletedNames(e); !slices.Equal(got, []string{"old-1.mp4", "old-2.mp4"}) {
		t.Fatalf("deletions at the start %v, want old-1.mp4, old-2.mp4", got)
	}
	// 125 MB free: the next oldest goes at the next finished part.
	ballast := tmpfs.Fill(t, e.Records, 125<<20)
	waitFor(t, 10*time.Second, "old-3.mp4 deleted", func() bool { beingWritten(t, e); return !exists(e, "old-3.mp4") })
	if !exists(e, "old-4.mp4") || !exists(e, "old-5.mp4") {
		t.Fatalf("more than needed deleted: %v", deletedNames(e))
	}
	// 80 MB free: everything finished goes and it is not enough.
	tmpfs.Fill(t, e.Records, 80<<20)
	waitFor(t, 10*time.Second, "new recordings refused", func() bool { beingWritten(t, e); return e.Server.Retention.Refused() != "" })
	if exists(e, "old-4.mp4") || exists(e, "old-5.mp4") {
		t.Errorf("old files left while refusing: %v", recordings(e))
	}
	late := st.Publish(t, clip, e.RTMP+"/late")
	ls := e.WaitStream("late", "PUBLISHING", 15*time.Second)
	if msg := waitRecordError(t, e, "late", 10*time.Second); !strings.Contains(msg, "record_min_free_space=130M") {
		t.Errorf("late: recordError %q, want the refusal naming record_min_free_space", msg)
	}
	if code, body := e.Post("/rest-api/stream/startRecording", `{"mediaSessionId":"`+ls.MediaSessionID+`"}`); code != 507 || !strings.Contains(string(body), "record_min_free_space=130M") {
		t.Errorf("REST startRecording while refused: %d %s, want 507 naming record_min_free_space", code, body)
	}
	// The running recording goes on, rotating; its part being written is never deleted.
	before := beingWritten(t, e)
	time.Sleep(5 * time.Second)
	after := beingWritten(t, e)
	if len(before) != 1 || len(after) != 1 || before[0] == after[0] {
		t.Errorf("the running recording did not go on: writing %v, then %v", before, after)
	}
	if n := len(e.LogLines("new recordings refused")); n != 1 {
		t.Errorf("the refusal was logged %d times, want once", n)
	}
	// Space back: the refused stream records by itself, and the log says so once.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "late recording", func() bool {
		for _, s := range e.Streams() {
			if s.Name == "late" && s.Recording {
				return true
			}
		}
		return false
	})
	if n := len(e.LogLines("new recordings accepted again")); n != 1 {
		t.Errorf("accepted again logged %d times, want once", n)
	}
	pub.Kill()
	late.Kill()
}

// TestRetentionViewInBrowser: a retention setting saved while the server runs (as the
// dashboard's Settings page saves it) applies at the next timed pass, without a restart; the
// dashboard's Retention page lists the deletion with its reason and the settings in effect;
// the Settings page edits the three settings in their own section.
func TestRetentionViewInBrowser(t *testing.T) {
	root := browserEnv(t)
	e := st.Start(t, nil)
	oldFile(t, e, "forgotten.mp4", 1<<20, 2*time.Hour)
	if err := e.Server.Settings.Update(map[string]string{"record_delete_after": "1h"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, retention.Every+5*time.Second, "forgotten.mp4 (2 h old) deleted with record_delete_after=1h", func() bool {
		return !exists(e, "forgotten.mp4")
	})
	browse(t, root, "retention.mjs", map[string]string{"BASE": e.HTTP, "PASSWORD": password(e), "SHOTS": shotsDir(t), "FILE": "forgotten.mp4"}, nil)
}
