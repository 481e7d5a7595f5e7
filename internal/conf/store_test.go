package conf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openTemp writes content (unless it is "") to a settings file in a new directory and opens it.
func openTemp(t *testing.T, content string) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conf", "flashphoner.properties")
	if content != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenCreatesDefaultFile(t *testing.T) {
	s := openTemp(t, "")
	data := readString(t, s.Path())
	lines := strings.Split(data, "\n")
	for _, sp := range Specs() {
		i := -1
		for j, l := range lines {
			if strings.HasPrefix(l, sp.Key+"=") {
				i = j
			}
		}
		if i < 1 {
			t.Errorf("%s missing from the default file", sp.Key)
			continue
		}
		if lines[i] != sp.Key+"="+sp.Default {
			t.Errorf("line %q, want %s=%s", lines[i], sp.Key, sp.Default)
		}
		if wantC := "# " + sp.Help; !strings.HasPrefix(lines[i-1], wantC) {
			t.Errorf("line above %s is %q, want %q", sp.Key, lines[i-1], wantC)
		}
		if sp.Restart != strings.HasSuffix(lines[i-1], "[restart]") {
			t.Errorf("%s: restart marker wrong in %q", sp.Key, lines[i-1])
		}
	}
	if !reflect.DeepEqual(s.Current(), Defaults()) {
		t.Errorf("Current() = %+v", s.Current())
	}
	if got, err := Parse(strings.NewReader(data)); err != nil || !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("default file parses to %+v, %v", got, err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if u := s.Unknown(); len(u) != 0 {
		t.Errorf("Unknown() = %q", u)
	}
	vals := s.Values()
	if len(vals) != len(Specs()) || vals["record_rotation"] != "" || vals["ws.port"] != "8080" {
		t.Errorf("Values() = %q", vals)
	}
	// Opening again reads the same file and does not rewrite it.
	s2, err := Open(s.Path())
	if err != nil || readString(t, s.Path()) != data || !reflect.DeepEqual(s2.Current(), Defaults()) {
		t.Errorf("reopen: %v", err)
	}
}

func TestOpenRefusesInvalidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flashphoner.properties")
	content := "# c\n\nrecord_audio_codec_sample_rate=abc\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	want := path + `:3: record_audio_codec_sample_rate: "abc" is not a number (8000–96000)`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if readString(t, path) != content {
		t.Error("Open changed an invalid file")
	}
}

// wcsFile is a settings file as an administrator might have it: comments, blank lines, keys
// we do not know, odd spacing, a continued line and Windows line ends on one line.
const wcsFile = `# Flashphoner WCS settings
! old style comment

ip=192.168.1.5
record_streams = true
stream_record_policy:template
stream_record_policy_template stream-{mediaSessionId}-{login}
#record_rotation=20
codecs=opus,alaw,ulaw,g729,speex16,g722,mpeg4-generic,telephone-event,h264,vp8,flv,mpv
exclude_record_name_characters=/
on_record_hook_script=/usr/local/FlashphonerWebCallServer/bin/on_record_hook.sh
record_audio_codec_sample_rate=44100` + "\r" + `
rtmp.port=1935
wcs_agent_port_from=44001
long.unknown=one,\
    two
`

func TestUpdatePreservesFile(t *testing.T) {
	s := openTemp(t, wcsFile)
	if got := s.Unknown(); !reflect.DeepEqual(got, []string{"codecs", "wcs_agent_port_from", "long.unknown"}) {
		t.Errorf("Unknown() = %q", got)
	}
	if s.Current().HookScript != "/usr/local/FlashphonerWebCallServer/bin/on_record_hook.sh" {
		t.Errorf("hook %q", s.Current().HookScript)
	}
	err := s.Update(map[string]string{
		"record_streams":                 "false",
		"stream_record_policy_template":  "{streamName}",
		"exclude_record_name_characters": ":., /",
		"record_audio_codec_sample_rate": " 48000 ",
		"record_rotation":                "10M",
		"rtmp.port":                      "1935",  // unchanged: no-op
		"record_flash_published_streams": "false", // the default, not in the file: no-op
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Flashphoner WCS settings
! old style comment

ip=192.168.1.5
record_streams = false
stream_record_policy:template
stream_record_policy_template {streamName}
#record_rotation=20
codecs=opus,alaw,ulaw,g729,speex16,g722,mpeg4-generic,telephone-event,h264,vp8,flv,mpv
exclude_record_name_characters=:., /
on_record_hook_script=/usr/local/FlashphonerWebCallServer/bin/on_record_hook.sh
record_audio_codec_sample_rate=48000` + "\r" + `
rtmp.port=1935
wcs_agent_port_from=44001
long.unknown=one,\
    two

# Record in parts: N seconds (e.g. 20) or N megabytes (e.g. 10M) per part; empty, 0 or off = one file
record_rotation=10M
`
	if got := readString(t, s.Path()); got != want {
		t.Errorf("file after Update:\n%s\nwant:\n%s", got, want)
	}
	cur := s.Current()
	if cur.RecordStreams || cur.Template != "{streamName}" || cur.Exclude != ":., /" ||
		cur.SampleRate != 48000 || cur.RotationBytes != 10<<20 {
		t.Errorf("Current() = %+v", cur)
	}
	if v := s.Values(); v["record_audio_codec_sample_rate"] != "48000" || v["exclude_record_name_characters"] != ":., /" {
		t.Errorf("Values() = %q", v)
	}
	// The file reads back to the same snapshot.
	s2, err := Open(s.Path())
	if err != nil || !reflect.DeepEqual(s2.Current(), cur) {
		t.Errorf("reopened: %+v, %v", s2.Current(), err)
	}
	// A second update of the appended key changes it in place.
	if err := s.Update(map[string]string{"record_rotation": "20"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Path()); got != strings.Replace(want, "record_rotation=10M", "record_rotation=20", 1) {
		t.Errorf("second update:\n%s", got)
	}
}

func TestUpdateInvalidLeavesFileAlone(t *testing.T) {
	s := openTemp(t, wcsFile)
	before := s.Current()
	beforeVals := s.Values()
	cases := []struct {
		changes map[string]string
		errs    map[string]string // key → message by ByKey
	}{
		{map[string]string{"record_audio_codec_sample_rate": "abc", "record_streams": "false"},
			map[string]string{"record_audio_codec_sample_rate": `"abc" is not a number (8000–96000)`}},
		{map[string]string{"no.such.key": "1", "ws.port": "65536", "record_rotation": "20s"},
			map[string]string{
				"no.such.key":     "unknown setting",
				"ws.port":         "65536 is out of range (0–65535, 0 turns the listener off)",
				"record_rotation": `"20s" is not a rotation (N seconds such as 20, N megabytes such as 10M, or off)`,
			}},
		{map[string]string{"media_port_from": "40000", "media_port_to": "39999"},
			map[string]string{"media_port_to": "39999 is below media_port_from (40000)"}},
		{map[string]string{"exclude_record_name_characters": "\xff"},
			map[string]string{"exclude_record_name_characters": "value is not valid UTF-8"}},
		{map[string]string{"https.cert": "a.crt"},
			map[string]string{"https.key": "must be set when https.cert is set (or leave both empty for a self-signed certificate)"}},
	}
	for _, c := range cases {
		err := s.Update(c.changes)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%v: got %v", c.changes, err)
		}
		if got := ve.ByKey(); !reflect.DeepEqual(got, c.errs) {
			t.Errorf("%v: ByKey = %q, want %q", c.changes, got, c.errs)
		}
		if got := readString(t, s.Path()); got != wcsFile {
			t.Errorf("%v: file changed:\n%s", c.changes, got)
		}
		if s.Current() != before || !reflect.DeepEqual(s.Values(), beforeVals) {
			t.Errorf("%v: snapshot changed", c.changes)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path()))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the settings file", len(entries))
	}
	// The order of errors follows the settings, unknown keys last.
	err := s.Update(map[string]string{"zzz": "1", "admin.pass": "x", "ws.port": "x", "record_streams": "x"})
	want := `record_streams: "x" is not a boolean (true or false); ws.port: "x" is not a number (0–65535, 0 turns the listener off); admin.pass: unknown setting; zzz: unknown setting`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestUpdateNoOpDoesNotWrite(t *testing.T) {
	s := openTemp(t, wcsFile)
	fi1, _ := os.Stat(s.Path())
	if err := os.Chmod(s.Path(), 0o640); err != nil {
		t.Fatal(err)
	}
	before := s.Current()
	if err := s.Update(map[string]string{"record_streams": "true ", "ws.port": "8080"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(nil); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(s.Path())
	if !os.SameFile(fi1, fi2) || readString(t, s.Path()) != wcsFile {
		t.Error("a no-op update replaced the file")
	}
	if !reflect.DeepEqual(s.Current(), before) {
		t.Error("a no-op update changed the settings")
	}
	// A real update keeps the file's mode.
	if err := s.Update(map[string]string{"ws.port": "0"}); err != nil {
		t.Fatal(err)
	}
	if fi3, _ := os.Stat(s.Path()); fi3.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after update", fi3.Mode())
	}
}

func TestUpdateEscapesValues(t *testing.T) {
	s := openTemp(t, "exclude_record_name_characters :\nadmin.password=old\n")
	if s.Current().Exclude != "" {
		// "key :" — whitespace then ':' is the separator, so the value is empty.
		t.Fatalf("Exclude %q", s.Current().Exclude)
	}
	vals := map[string]string{
		"exclude_record_name_characters": " :., / ",
		"admin.password":                 `p\ss wörd`,
	}
	if err := s.Update(vals); err != nil {
		t.Fatal(err)
	}
	got := readString(t, s.Path())
	want := "exclude_record_name_characters :\\ :., /\\u0020\nadmin.password=p\\\\ss w\\u00F6rd\n"
	if got != want {
		t.Errorf("file %q, want %q", got, want)
	}
	s2, err := Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if s2.Current().Exclude != " :., / " || s2.Current().AdminPassword != `p\ss wörd` {
		t.Errorf("read back %q %q", s2.Current().Exclude, s2.Current().AdminPassword)
	}

	// A value starting with ':' after a whitespace-only separator is escaped.
	s = openTemp(t, "exclude_record_name_characters /\n")
	if err := s.Update(map[string]string{"exclude_record_name_characters": ":x"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Path()); got != "exclude_record_name_characters \\:x\n" {
		t.Errorf("file %q", got)
	}
}

func TestUpdateKeepsHandEdits(t *testing.T) {
	s := openTemp(t, "record_streams=true\n")
	// The administrator edits the file by hand after the server started.
	hand := "# added by hand\nrecord_streams=true\nrtmp.port=1936\n"
	if err := os.WriteFile(s.Path(), []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(map[string]string{"record_streams": "false"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Path()); got != "# added by hand\nrecord_streams=false\nrtmp.port=1936\n" {
		t.Errorf("file %q", got)
	}
	if s.Current().RTMPPort != 1936 {
		t.Errorf("hand edit not in effect")
	}

	// A bad hand edit: updating another key fails naming the bad line; fixing it works.
	bad := "record_streams=false\nrecord_rotation=20 seconds\n"
	if err := os.WriteFile(s.Path(), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Update(map[string]string{"ws.port": "9000"})
	want := s.Path() + `:2: record_rotation: "20 seconds" is not a rotation (N seconds such as 20, N megabytes such as 10M, or off)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if readString(t, s.Path()) != bad {
		t.Error("file changed")
	}
	if err := s.Update(map[string]string{"record_rotation": "20"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, s.Path()); got != "record_streams=false\nrecord_rotation=20\n" {
		t.Errorf("file %q", got)
	}
}

func TestUpdateRecreatesDeletedFile(t *testing.T) {
	s := openTemp(t, "record_rotation=20\n")
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(map[string]string{"ws.port": "9000"}); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(strings.NewReader(readString(t, s.Path())))
	if err != nil || got.RotationSeconds != 20 || got.WSPort != 9000 {
		t.Errorf("recreated file gives %+v, %v", got, err)
	}
}

func TestUpdateThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.properties")
	link := filepath.Join(dir, "flashphoner.properties")
	if err := os.WriteFile(real, []byte("ws.port=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	s, err := Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(map[string]string{"ws.port": "2"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
	if readString(t, real) != "ws.port=2\n" {
		t.Errorf("target %q", readString(t, real))
	}
}

func TestReload(t *testing.T) {
	s := openTemp(t, "ws.port=1\n")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(s.Path(), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ws.port=2\nnew.unknown=1\nrecord_rotation=60\n")
	r, err := s.Reload()
	if err != nil || s.Current().WSPort != 2 || s.Current().RotationSeconds != 60 || len(s.Unknown()) != 1 {
		t.Errorf("reload: %v %+v", err, s.Current())
	}
	if !slices.Equal(r.Changed, []string{"record_rotation", "ws.port"}) || !slices.Equal(r.Restart, []string{"ws.port"}) || len(r.Refused) != 0 {
		t.Errorf("report %+v", r)
	}

	// A bad value is refused alone, with its line; the good edit beside it applies.
	write("ws.port=2\n# comment\nrecord_rotation=often\nrecord_streams=false\n")
	r, err = s.Reload()
	if err != nil || s.Current().RotationSeconds != 60 || s.Current().RecordStreams {
		t.Errorf("partial reload: %v %+v", err, s.Current())
	}
	if len(r.Refused) != 1 || r.Refused[0].Key != "record_rotation" || r.Refused[0].Line != 3 ||
		!slices.Equal(r.Changed, []string{"record_streams"}) {
		t.Errorf("report %+v", r)
	}

	// A refusal across two keys: the emptied template keeps its value, so the policy applies.
	write("stream_record_policy=streamName\n")
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	write("stream_record_policy=template\nstream_record_policy_template=\n")
	r, err = s.Reload()
	if err != nil || s.Current().Policy != "template" || s.Current().Template != DefaultTemplate ||
		len(r.Refused) != 1 || r.Refused[0].Key != "stream_record_policy_template" {
		t.Errorf("cross-field refusal: %v %+v %+v", err, r, s.Current())
	}

	// A file that cannot be read changes nothing.
	before := s.Current()
	os.Remove(s.Path())
	if _, err := s.Reload(); err == nil || s.Current() != before {
		t.Errorf("missing file: %v %+v", err, s.Current())
	}
}

// TestConcurrentUpdate reads snapshots while updates change several keys together; every
// snapshot must be one whole version (run with -race).
func TestConcurrentUpdate(t *testing.T) {
	s := openTemp(t, "")
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				c := s.Current()
				// Each version sets ws.port = N, http.port = N+1, media range N*2..N*2+1.
				if c.WSPort != 8080 && (c.HTTPPort != c.WSPort+1 || c.MediaPortFrom != 2*c.WSPort ||
					c.MediaPortTo != 2*c.WSPort+1) {
					t.Errorf("torn snapshot %+v", c)
					return
				}
				v := s.Values()
				if v["ws.port"] == "" {
					t.Error("Values() lacks ws.port")
					return
				}
				_ = c.RecordFormats["h264"]
				reads.Add(1)
			}
		})
	}
	var updaters sync.WaitGroup
	for w := range 3 {
		updaters.Go(func() {
			for i := range 30 {
				n := 1000 + w*100 + i
				err := s.Update(map[string]string{
					"ws.port":         strconv.Itoa(n),
					"http.port":       strconv.Itoa(n + 1),
					"media_port_from": strconv.Itoa(2 * n),
					"media_port_to":   strconv.Itoa(2*n + 1),
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	updaters.Wait()
	stop.Store(true)
	wg.Wait()
	// The file holds the last snapshot.
	got, err := Parse(bytes.NewReader([]byte(readString(t, s.Path()))))
	if err != nil || !reflect.DeepEqual(got, s.Current()) {
		t.Errorf("file %+v, current %+v, %v", got, s.Current(), err)
	}
	if reads.Load() == 0 {
		t.Error("no reads")
	}
}

// TestWatch edits the file as an editor would (in place, then through a new file renamed over
// it) and sees each edit applied and reported, and a save by Update reported as no change.
func TestWatch(t *testing.T) {
	s := openTemp(t, "record_rotation=10\n")
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan Reloaded, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, 20*time.Millisecond, func(r Reloaded, err error) {
			if err != nil {
				t.Errorf("reload: %v", err)
			}
			reports <- r
		})
	}()
	defer func() { cancel(); <-done }()
	next := func() Reloaded {
		t.Helper()
		select {
		case r := <-reports:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no reload within 5 s")
		}
		return Reloaded{}
	}
	if err := os.WriteFile(s.Path(), []byte("record_rotation=20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := next(); !slices.Equal(r.Changed, []string{"record_rotation"}) || s.Current().RotationSeconds != 20 {
		t.Errorf("in-place edit: %+v, rotation %d", r, s.Current().RotationSeconds)
	}
	tmp := s.Path() + ".swp"
	if err := os.WriteFile(tmp, []byte("record_rotation=30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.Path()); err != nil {
		t.Fatal(err)
	}
	if r := next(); s.Current().RotationSeconds != 30 || len(r.Changed) != 1 {
		t.Errorf("rename over: %+v, rotation %d", r, s.Current().RotationSeconds)
	}
	if err := s.Update(map[string]string{"record_rotation": "40"}); err != nil {
		t.Fatal(err)
	}
	if r := next(); len(r.Changed) != 0 || len(r.Refused) != 0 {
		t.Errorf("own save reported as a change: %+v", r)
	}
}

// A settings file other users can read is said to be exposed once it holds a secret, and a save
// makes it readable by its owner alone.
func TestSecretsTightenTheMode(t *testing.T) {
	s := openTemp(t, "ws.port=1\n")
	if err := os.Chmod(s.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.Exposed() {
		t.Error("a file without secrets said to be exposed")
	}
	if err := s.Update(map[string]string{"record_s3_secret_key": "k3y"}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(s.Path())
	if fi.Mode().Perm() != 0o600 || s.Exposed() {
		t.Errorf("after saving a secret: mode %v, exposed %v", fi.Mode().Perm(), s.Exposed())
	}
	os.Chmod(s.Path(), 0o644)
	if !s.Exposed() {
		t.Error("a readable file with a secret not said to be exposed")
	}
}
