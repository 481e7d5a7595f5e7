package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/admin"
	"github.com/streamrec/streamrec/internal/mediatest"
	"github.com/streamrec/streamrec/internal/records"
)

var (
	clipsOnce sync.Once
	clipsDir  string
	clipsErr  error
)

// clips makes a one-second MP4 (H.264 + AAC, moov at the end as ffmpeg writes it) and a WebM
// (VP8 + Vorbis) once per test binary.
func clips(t testing.TB) (mp4, webm string) {
	t.Helper()
	mediatest.NeedFFmpeg(t)
	clipsOnce.Do(func() {
		clipsDir, clipsErr = os.MkdirTemp("", "admin-clips-")
		if clipsErr != nil {
			return
		}
		src := []string{"-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"}
		for _, args := range [][]string{
			append(append([]string{}, src...), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", filepath.Join(clipsDir, "c.mp4")),
			append(append([]string{}, src...), "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libvorbis", "-shortest", filepath.Join(clipsDir, "c.webm")),
		} {
			if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				clipsErr = err
				os.Stderr.Write(out)
				return
			}
		}
	})
	if clipsErr != nil {
		t.Fatalf("make clips: %v", clipsErr)
	}
	return filepath.Join(clipsDir, "c.mp4"), filepath.Join(clipsDir, "c.webm")
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProbe(t *testing.T) {
	mp4, webm := clips(t)
	m := admin.Probe(mp4)
	if m.Problem != "" || m.Video == nil || m.Audio == nil {
		t.Fatalf("mp4: %+v", m)
	}
	if m.Video.Codec != "H264" || m.Video.Width != 160 || m.Video.Height != 120 || m.Audio.Codec != "AAC" || m.Audio.SampleRate != 44100 {
		t.Errorf("mp4 tracks: video %+v audio %+v", *m.Video, *m.Audio)
	}
	if math.Abs(m.Duration-1) > 0.1 {
		t.Errorf("mp4 duration %.3f, want 1 s", m.Duration)
	}
	w := admin.Probe(webm)
	if w.Problem != "" || w.Video == nil || w.Audio == nil {
		t.Fatalf("webm: %+v", w)
	}
	if w.Video.Codec != "VP8" || w.Video.Width != 160 || w.Audio.Codec != "vorbis" || w.Audio.SampleRate != 44100 {
		t.Errorf("webm tracks: video %+v audio %+v", *w.Video, *w.Audio)
	}
	if math.Abs(w.Duration-1) > 0.1 {
		t.Errorf("webm duration %.3f, want 1 s", w.Duration)
	}
	junk := filepath.Join(t.TempDir(), "junk.mp4")
	os.WriteFile(junk, []byte("not a movie at all"), 0o644)
	if p := admin.Probe(junk); p.Problem == "" {
		t.Errorf("junk probed without a problem: %+v", p)
	}
}

type library struct {
	Groups []admin.LibraryGroup `json:"groups"`
	Total  int                  `json:"total"`
	Page   int                  `json:"page"`
	Pages  int                  `json:"pages"`
	Files  int                  `json:"files"`
	Bytes  int64                `json:"bytes"`
}

func (e *env) library(cookie, query string) library {
	e.t.Helper()
	r := e.do("GET", "/admin/api/recordings"+query, "", cookie)
	var l library
	if r.code != 200 || json.Unmarshal(r.body, &l) != nil {
		e.t.Fatalf("recordings%s: %d %s", query, r.code, r.body)
	}
	return l
}

func groupByID(l library, id string) *admin.LibraryGroup {
	for i := range l.Groups {
		if l.Groups[i].ID == id {
			return &l.Groups[i]
		}
	}
	return nil
}

func TestLibraryListsGroupsAndSurvivesRestart(t *testing.T) {
	mp4, webm := clips(t)
	e := newEnv(t)
	cookie := e.login()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// Files the index knows (as the recorder reports them)...
	for i, f := range []records.File{
		{Name: "rot-1.mp4", Part: 1, StreamName: "hall", MediaSessionID: "m1"},
		{Name: "rot-2.mp4", Part: 2, StreamName: "hall", MediaSessionID: "m1", Err: "no space left on device"},
		{Name: "stream-abc-.mp4", StreamName: "lobby", MediaSessionID: "m2"},
		{Name: "cam-2.mp4", StreamName: "cam-2"}, // a stream named cam-2, not a part
	} {
		copyFile(t, mp4, filepath.Join(e.records, f.Name))
		f.Start = t0.Add(time.Duration(i) * time.Minute)
		e.files.Finished(f)
	}
	// ...and files it does not (copied in by hand, or from before the index).
	for _, n := range []string{"old-1.mp4", "old-2.mp4", "old-3.mp4", "solo-2.mp4", "v.webm"} {
		src := mp4
		if filepath.Ext(n) == ".webm" {
			src = webm
		}
		copyFile(t, src, filepath.Join(e.records, n))
	}
	os.WriteFile(filepath.Join(e.records, "notes.txt"), []byte("x"), 0o644)
	copyFile(t, mp4, filepath.Join(e.records, ".hidden.mp4"))
	os.Mkdir(filepath.Join(e.records, "dir.mp4"), 0o755)

	check := func(l library) {
		t.Helper()
		if l.Files != 9 || l.Total != 6 {
			t.Fatalf("%d files in %d groups, want 9 in 6: %+v", l.Files, l.Total, l.Groups)
		}
		rot := groupByID(l, "rot.mp4")
		if rot == nil || len(rot.Parts) != 2 || rot.Parts[0].Name != "rot-1.mp4" || rot.Parts[1].Part != 2 || rot.Stream != "hall" {
			t.Fatalf("rotated parts not grouped: %+v", rot)
		}
		if rot.Parts[0].Error != "" || rot.Parts[1].Error != "no space left on device" {
			t.Errorf("write errors of the parts: %q, %q; want none and the second's", rot.Parts[0].Error, rot.Parts[1].Error)
		}
		if math.Abs(rot.Duration-2) > 0.2 || rot.Size != rot.Parts[0].Size*2 || !rot.Start.Equal(t0) {
			t.Errorf("group totals: %.2f s, %d bytes, start %v", rot.Duration, rot.Size, rot.Start)
		}
		old := groupByID(l, "old.mp4")
		if old == nil || len(old.Parts) != 3 || old.Parts[2].Name != "old-3.mp4" || old.Stream != "" {
			t.Errorf("unindexed parts not grouped by name: %+v", old)
		}
		for _, single := range []string{"solo-2.mp4", "cam-2.mp4", "stream-abc-.mp4", "v.webm"} {
			if g := groupByID(l, single); g == nil || len(g.Parts) != 1 {
				t.Errorf("%s is not a recording of its own: %+v", single, g)
			}
		}
		if g := groupByID(l, "stream-abc-.mp4"); g != nil && g.Stream != "lobby" {
			t.Errorf("stream of stream-abc-.mp4: %q, want lobby", g.Stream)
		}
		if g := groupByID(l, "v.webm"); g != nil && (g.Parts[0].Video == nil || g.Parts[0].Video.Codec != "VP8") {
			t.Errorf("v.webm codecs: %+v", g.Parts[0])
		}
	}
	check(e.library(cookie, ""))

	// Filter, sort and page.
	if l := e.library(cookie, "?q=HALL"); l.Total != 1 || l.Groups[0].ID != "rot.mp4" {
		t.Errorf("filter by stream: %+v", l.Groups)
	}
	if l := e.library(cookie, "?q=old-2"); l.Total != 1 || l.Groups[0].ID != "old.mp4" {
		t.Errorf("filter by file name: %+v", l.Groups)
	}
	l := e.library(cookie, "?sort=name&order=asc&size=4&page=2")
	if l.Pages != 2 || l.Page != 2 || len(l.Groups) != 2 || l.Groups[0].ID != "stream-abc-.mp4" || l.Groups[1].ID != "v.webm" {
		t.Errorf("page 2 by name: pages %d page %d %+v", l.Pages, l.Page, l.Groups)
	}
	if l := e.library(cookie, "?sort=size&order=desc&size=1"); l.Groups[0].ID != "old.mp4" {
		t.Errorf("largest first: %s", l.Groups[0].ID)
	}
	if l := e.library(cookie, "?page=99&size=200"); l.Page != 1 || len(l.Groups) != 6 {
		t.Errorf("page past the end: page %d, %d groups", l.Page, len(l.Groups))
	}

	// A restart reads the same library from disk.
	e.start()
	check(e.library(e.login(), ""))
}

// BenchmarkLibraryListing lists a records folder of 3000 files (300 rotated recordings of 10
// parts) once probed: what each visit of the Recordings page costs.
func BenchmarkLibraryListing(b *testing.B) {
	mp4, _ := clips(b)
	e := newEnv(b)
	cookie := e.login()
	for r := range 300 {
		for p := 1; p <= 10; p++ {
			name := fmt.Sprintf("rec%03d-%d.mp4", r, p)
			copyFile(b, mp4, filepath.Join(e.records, name))
			e.files.Finished(records.File{Name: name, Part: p, StreamName: fmt.Sprintf("s%d", r%7)})
		}
	}
	start := time.Now()
	if l := e.library(cookie, "?size=50"); l.Files != 3000 || l.Total != 300 {
		b.Fatalf("%d files, %d recordings", l.Files, l.Total)
	}
	b.Logf("first listing (probing 3000 files): %v", time.Since(start))
	b.ResetTimer()
	for range b.N {
		e.library(cookie, "?q=s3&sort=size&page=2&size=50")
	}
}

// Thumbnails: behind the login, made once (cached in records/.streamrec-thumbs) from MP4 and
// WebM, none for a name that is not a finished recording, and deleted with the recording.
func TestThumbnails(t *testing.T) {
	mp4, webm := clips(t)
	e := newEnv(t)
	cookie := e.login()
	copyFile(t, mp4, filepath.Join(e.records, "a.mp4"))
	copyFile(t, webm, filepath.Join(e.records, "v.webm"))
	e.library(cookie, "") // the listing probes the files: the thumbnail needs to know there is video
	if r := e.do("GET", "/admin/api/recordings/thumb/a.mp4", "", ""); r.code != 401 {
		t.Errorf("a thumbnail without the login: %d", r.code)
	}
	for _, name := range []string{"a.mp4", "v.webm"} {
		r := e.do("GET", "/admin/api/recordings/thumb/"+name, "", cookie)
		if r.code != 200 || r.header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("thumbnail of %s: %d %s %.100s", name, r.code, r.header.Get("Content-Type"), r.body)
		}
		img, err := jpeg.Decode(bytes.NewReader(r.body))
		if err != nil || img.Bounds().Dx() != 160 {
			t.Errorf("thumbnail of %s: %v %v", name, err, img)
		}
		if _, err := os.Stat(e.files.ThumbPath(name)); err != nil {
			t.Errorf("thumbnail of %s not cached: %v", name, err)
		}
	}
	for _, name := range []string{"nope.mp4", "..%2Fconf.mp4", ".streamrec-index.jsonl"} {
		if r := e.do("GET", "/admin/api/recordings/thumb/"+name, "", cookie); r.code != 404 {
			t.Errorf("thumbnail of %s: %d", name, r.code)
		}
	}
	if r := e.do("POST", "/admin/api/recordings/delete", `{"names":["a.mp4"]}`, cookie); r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	if _, err := os.Stat(e.files.ThumbPath("a.mp4")); !os.IsNotExist(err) {
		t.Errorf("the thumbnail outlived its recording: %v", err)
	}
}

// The date filter keeps the recordings started in [from, to); the counts are of what matches.
func TestLibraryDateFilterCounts(t *testing.T) {
	mp4, _ := clips(t)
	e := newEnv(t)
	cookie := e.login()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"d1.mp4", "d2.mp4", "d3.mp4"} {
		copyFile(t, mp4, filepath.Join(e.records, name))
		e.files.Finished(records.File{Name: name, StreamName: name, Start: t0.Add(time.Duration(i) * 24 * time.Hour)})
	}
	l := e.library(cookie, "?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z")
	if l.Total != 1 || l.Files != 1 || len(l.Groups) != 1 || l.Groups[0].ID != "d2.mp4" || l.Bytes != l.Groups[0].Size {
		t.Errorf("one day: %d recordings, %d files, %d bytes: %+v", l.Total, l.Files, l.Bytes, l.Groups)
	}
	if l := e.library(cookie, "?from=2026-03-02T00:00:00Z"); l.Total != 2 || l.Files != 2 {
		t.Errorf("from the 2nd: %d recordings, %d files", l.Total, l.Files)
	}
	if r := e.do("GET", "/admin/api/recordings?from=yesterday", "", cookie); r.code != 400 {
		t.Errorf("a bad date: %d", r.code)
	}
}
