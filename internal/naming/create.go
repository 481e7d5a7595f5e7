package naming

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxExtBytes is the longest text after the last '.' that Create treats as an extension.
const maxExtBytes = 32

// maxAttempts bounds the clash suffixes tried ("_2" ... "_10000") before giving up.
const maxAttempts = 10000

// Create creates dir/name exclusively (O_CREATE|O_EXCL|O_WRONLY, 0644). If the name is taken
// it tries the name with "_2", "_3", ... inserted before the extension (the text from the last
// '.', if at most 32 bytes; otherwise at the end), shortening the rest so the name stays within
// MaxNameBytes. It returns the open file and the name used. name must be a safe single name
// such as FileName returns; anything else, or a path that does not resolve directly inside dir,
// is refused. Use CreatePart for rotated parts so the suffix goes before the part number.
func Create(dir, name string) (*os.File, string, error) {
	if !safe(name) {
		return nil, "", fmt.Errorf("create recording in %s: unsafe file name %q", dir, name)
	}
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtBytes {
		stem, ext = name[:i], name[i:]
	}
	f, used, _, err := create(dir, stem, ext)
	return f, used, err
}

// CreatePart creates the file FileName(base, part, ext) in dir exclusively, like Create, but on a
// clash puts the suffix before the part number: "base_2-3.mp4". It returns the open file, the
// name used and the base used (base itself, possibly shortened, plus any suffix); pass that
// base for the following parts of the same recording so they keep the same stem.
func CreatePart(dir, base string, part int, ext string) (f *os.File, name, usedBase string, err error) {
	return create(dir, sanitize(base), tail(part, ext))
}

// Rename moves dir/oldName to dir/newName without replacing any existing file: it reserves
// newName (or newName with a suffix, as Create does) with an exclusive create, then renames the
// old file over that empty placeholder. It returns the name used. If oldName equals newName
// nothing happens. A crash between the two steps can leave an empty placeholder behind, never a
// lost recording.
func Rename(dir, oldName, newName string) (string, error) {
	if !safe(oldName) {
		return "", fmt.Errorf("rename recording in %s: unsafe file name %q", dir, oldName)
	}
	if _, err := inside(dir, oldName); err != nil {
		return "", fmt.Errorf("rename recording: %w", err)
	}
	if oldName == newName {
		return newName, nil
	}
	f, used, err := Create(dir, newName)
	if err != nil {
		return "", fmt.Errorf("rename %s: %w", oldName, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(filepath.Join(dir, used))
		return "", fmt.Errorf("rename %s to %s: %w", oldName, used, err)
	}
	if err := os.Rename(filepath.Join(dir, oldName), filepath.Join(dir, used)); err != nil {
		_ = os.Remove(filepath.Join(dir, used))
		return "", fmt.Errorf("rename %s to %s: %w", oldName, used, err)
	}
	return used, nil
}

// create tries stem+tail, then stem_2+tail, stem_3+tail, ... It returns the file, the name and
// the stem used. stem must be sanitized.
func create(dir, stem, tail string) (*os.File, string, string, error) {
	for k := 1; k <= maxAttempts; k++ {
		s := stem
		if k > 1 {
			suffix := "_" + strconv.Itoa(k)
			s = truncBytes(stem, MaxNameBytes-len(tail)-len(suffix)) + suffix
		}
		name := join(s, tail)
		path, err := inside(dir, name)
		if err != nil {
			return nil, "", "", fmt.Errorf("create recording: %w", err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			return f, name, s, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", "", fmt.Errorf("create recording %s: %w", name, err)
		}
	}
	return nil, "", "", fmt.Errorf("create recording %s in %s: no free name after %d attempts",
		stem+tail, dir, maxAttempts)
}

// inside returns dir/name after checking that it resolves directly inside dir.
func inside(dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", fmt.Errorf("file name %q is not a single name", name)
	}
	path := filepath.Join(dir, name)
	if filepath.Dir(path) != filepath.Clean(dir) || filepath.Base(path) != name {
		return "", fmt.Errorf("file name %q does not resolve directly inside %s", name, dir)
	}
	return path, nil
}
