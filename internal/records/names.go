package records

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamrec/streamrec/internal/media"
)

// ContentType is the MIME type a recording is served with, "" for a name that is no recording:
// a recording's extension names its container (media.Containers); anything else in the folder
// is not a recording.
func ContentType(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
	for _, c := range media.Containers() {
		if c.Name == ext {
			return c.MIME
		}
	}
	return ""
}

// plain reports whether name is one path element that is not hidden: no "/", "\" or NUL, not
// "..", not the store's bookkeeping.
func plain(name string) bool {
	return name != "" && !strings.ContainsAny(name, "/\\\x00") && !strings.HasPrefix(name, ".")
}

// IsRecording reports whether name is a recording's name: one path element, not hidden, with a
// known extension. It says nothing of whether the file exists or is finished (Resolve does).
func IsRecording(name string) bool { return plain(name) && ContentType(name) != "" }

// Resolve turns a recording's name from a client (a URL, the dashboard) into the path of a
// finished file directly inside the folder, or says why not: the name is not a recording's,
// the file is still being written, or it is not a regular file (a symlink, a folder) there.
func (s *Store) Resolve(name string) (string, error) {
	if !plain(name) {
		return "", fmt.Errorf("%q is not a recording name", name)
	}
	if ContentType(name) == "" {
		return "", fmt.Errorf("%q is not a recording", name)
	}
	if s.Writing(name) {
		return "", fmt.Errorf("%q is still being recorded", name)
	}
	path := s.Path(name)
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("no recording %q", name)
	}
	return path, nil
}
