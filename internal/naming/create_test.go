package naming

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustCreate creates, writes content and closes.
func mustCreate(t *testing.T, dir, name, content string) string {
	t.Helper()
	f, used, err := Create(dir, name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if filepath.Base(f.Name()) != used || filepath.Dir(f.Name()) != filepath.Clean(dir) {
		t.Errorf("file is %q, name used %q", f.Name(), used)
	}
	return used
}

func TestCreateClash(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, want string
	}{
		{"stream_ffmpeg.mp4", "stream_ffmpeg.mp4"},
		{"stream_ffmpeg.mp4", "stream_ffmpeg_2.mp4"},
		{"stream_ffmpeg.mp4", "stream_ffmpeg_3.mp4"},
		{"cam-1.mp4", "cam-1.mp4"},
		{"cam-1.mp4", "cam-1_2.mp4"}, // opaque: the suffix goes before the extension
		{"noext", "noext"},
		{"noext", "noext_2"},
		{"a.b.webm", "a.b.webm"},
		{"a.b.webm", "a.b_2.webm"},
	}
	for i, tc := range tests {
		content := "recording " + itoa(i+1)
		got := mustCreate(t, dir, tc.name, content)
		if got != tc.want {
			t.Errorf("Create(%q) #%d = %q, want %q", tc.name, i+1, got, tc.want)
		}
		checkName(t, got)
	}
	// Every file kept its own bytes: no create truncated or overwrote an earlier one.
	for i, tc := range tests {
		if got, want := readFile(t, dir, tc.want), "recording "+itoa(i+1); got != want {
			t.Errorf("%s holds %q, want %q", tc.want, got, want)
		}
	}
}

func TestCreatePermissions(t *testing.T) {
	dir := t.TempDir()
	f, _, err := Create(dir, "p.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 || perm&0o600 != 0o600 {
		t.Errorf("mode %v, want 0644 less umask, owner read-write", perm)
	}
}

func TestCreateKeepsExistingBytes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rec.mp4", "first recording")
	f, used, err := Create(dir, "rec.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("SECOND"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if used == "rec.mp4" {
		t.Fatalf("Create reused an existing name")
	}
	if got := readFile(t, dir, "rec.mp4"); got != "first recording" {
		t.Errorf("first file now holds %q", got)
	}
	if got := readFile(t, dir, used); got != "SECOND" {
		t.Errorf("%s holds %q", used, got)
	}
}

func TestCreateDoesNotFollowSymlink(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(outside, filepath.Join(dir, "s.mp4")); err != nil {
		t.Skip("no symlinks:", err)
	}
	used := mustCreate(t, dir, "s.mp4", "x")
	if used != "s_2.mp4" {
		t.Errorf("name used %q, want s_2.mp4", used)
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("symlink target was created: %v", err)
	}
}

func TestCreateLongNameClash(t *testing.T) {
	tests := map[string]string{
		"ascii 251+4 = 255":  strings.Repeat("a", 251),
		"2-byte runes":       strings.Repeat("Ж", 200),
		"4-byte runes":       strings.Repeat("😀", 100),
		"4-byte, odd offset": "a" + strings.Repeat("😀", 100),
	}
	for label, base := range tests {
		t.Run(label, func(t *testing.T) {
			dir := t.TempDir()
			name := FileName(base, 0, "mp4")
			seen := map[string]bool{}
			for i := 1; i <= 12; i++ {
				used := mustCreate(t, dir, name, itoa(i))
				checkName(t, used)
				if seen[used] {
					t.Fatalf("name %q used twice", used)
				}
				seen[used] = true
				want := ".mp4"
				if i > 1 {
					want = "_" + itoa(i) + ".mp4"
				}
				if !strings.HasSuffix(used, want) {
					t.Errorf("attempt %d: %q does not end with %q", i, used, want)
				}
				if len(used) < MaxNameBytes-3 {
					t.Errorf("attempt %d: %q shortened more than needed (%d bytes)", i, used, len(used))
				}
			}
			if got := readFile(t, dir, name); got != "1" {
				t.Errorf("first file holds %q", got)
			}
		})
	}
}

func TestCreatePart(t *testing.T) {
	dir := t.TempDir()
	// An earlier recording of the same stream left parts 1..3.
	for _, n := range []string{"cam-1.mp4", "cam-2.mp4", "cam-3.mp4"} {
		writeFile(t, dir, n, "old "+n)
	}
	f, name, base, err := CreatePart(dir, "cam", 1, "mp4")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if name != "cam_2-1.mp4" || base != "cam_2" {
		t.Fatalf("part 1: name %q base %q, want cam_2-1.mp4 cam_2", name, base)
	}
	// Later parts use the returned base and stay grouped even though cam-4 would be free.
	for part := 2; part <= 4; part++ {
		f, name, b, err := CreatePart(dir, base, part, ".mp4")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if want := "cam_2-" + itoa(part) + ".mp4"; name != want || b != base {
			t.Errorf("part %d: name %q base %q, want %q %q", part, name, b, want, base)
		}
	}
	for _, n := range []string{"cam-1.mp4", "cam-2.mp4", "cam-3.mp4"} {
		if got := readFile(t, dir, n); got != "old "+n {
			t.Errorf("%s now holds %q", n, got)
		}
	}
	// No clash: the base comes back unchanged, even a long one that had to be shortened.
	long := strings.Repeat("L", 300)
	f, name, base, err = CreatePart(dir, long, 7, "webm")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if base != long || name != long[:248]+"-7.webm" {
		t.Errorf("long: name %q (%d bytes) base %d bytes", name, len(name), len(base))
	}
	// Clash on a long name: suffix before the part number, within 255 bytes.
	f, name, base, err = CreatePart(dir, long, 7, "webm")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if name != long[:246]+"_2-7.webm" || base != long[:246]+"_2" {
		t.Errorf("long clash: name %q base %q", name, base)
	}
	checkName(t, name)
	// A hostile base is sanitized.
	f, name, _, err = CreatePart(dir, "../../etc/passwd", 1, "mp4")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if name != "____etcpasswd-1.mp4" {
		t.Errorf("hostile base gave %q", name)
	}
}

func TestCreateRefusesUnsafe(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"", ".", "..", "../x.mp4", "a/b.mp4", "/etc/passwd", ".hidden.mp4",
		"a\x00b", "a\nb", `a\b`, "a\xffb",
	} {
		if f, used, err := Create(dir, name); err == nil {
			f.Close()
			t.Errorf("Create(%q) succeeded with %q", name, used)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("refused names still created %d entries", len(entries))
	}
	if _, err := inside(dir, ".."); err == nil {
		t.Errorf("inside accepted ..")
	}
}

func TestCreateMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if f, _, err := Create(dir, "a.mp4"); err == nil {
		f.Close()
		t.Fatal("Create in a missing directory succeeded")
	} else if !strings.Contains(err.Error(), "a.mp4") {
		t.Errorf("error lacks the name: %v", err)
	}
}

func TestRename(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rec.mp4", "recording")
	writeFile(t, dir, "final.mp4", "someone else's")

	used, err := Rename(dir, "rec.mp4", "final.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if used != "final_2.mp4" {
		t.Errorf("Rename used %q, want final_2.mp4", used)
	}
	if got := readFile(t, dir, "final.mp4"); got != "someone else's" {
		t.Errorf("existing file overwritten: %q", got)
	}
	if got := readFile(t, dir, used); got != "recording" {
		t.Errorf("%s holds %q", used, got)
	}
	if _, err := os.Stat(filepath.Join(dir, "rec.mp4")); !os.IsNotExist(err) {
		t.Errorf("old name still exists: %v", err)
	}

	// Free target: plain move.
	if used, err = Rename(dir, used, "other.mp4"); err != nil || used != "other.mp4" {
		t.Errorf("Rename to free name: %q, %v", used, err)
	}
	// Same name: nothing to do.
	if used, err = Rename(dir, "other.mp4", "other.mp4"); err != nil || used != "other.mp4" {
		t.Errorf("Rename to itself: %q, %v", used, err)
	}
	if got := readFile(t, dir, "other.mp4"); got != "recording" {
		t.Errorf("other.mp4 holds %q", got)
	}
	// Missing source: error, and no placeholder left behind.
	if _, err := Rename(dir, "missing.mp4", "ghost.mp4"); err == nil {
		t.Errorf("Rename of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "ghost.mp4")); !os.IsNotExist(err) {
		t.Errorf("placeholder left behind: %v", err)
	}
	// Unsafe names.
	for _, pair := range [][2]string{{"../x", "y.mp4"}, {"other.mp4", "../y.mp4"}, {"other.mp4", ".."}} {
		if _, err := Rename(dir, pair[0], pair[1]); err == nil {
			t.Errorf("Rename(%q, %q) succeeded", pair[0], pair[1])
		}
	}
}
