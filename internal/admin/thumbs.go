package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/thumb"
)

// A recording's thumbnail is its first video keyframe, scaled to thumbWidth pixels wide, as a
// JPEG kept in records/.streamrec-thumbs/NAME.jpg: made once, on the library's first look, and
// deleted with the recording (records.Store.Delete). It is decoded in-process (package thumb:
// libavcodec, image/jpeg). A container thumb does not read is handed to the ffmpeg program when
// it is on the PATH (never through a shell: its arguments are a list, the file an absolute path
// under records/); without it, or for a file without video, the page shows a placeholder.
// Making one is bounded: one at a time, thumbTimeout each (ffmpeg), and at most thumbProbe bytes
// read to find the keyframe.
const (
	thumbWidth   = 160
	thumbTimeout = 10 * time.Second
	thumbProbe   = 16 << 20
)

// errNoThumb answers 404: the page shows its placeholder.
var errNoThumb = errors.New("no thumbnail")

type thumbs struct {
	store  *records.Store
	ffmpeg string        // the program's path; "" when it is not installed
	one    chan struct{} // one thumbnail made at a time

	mu     sync.Mutex
	failed map[string]time.Time // file name → modification time of a file that gave none
}

func newThumbs(store *records.Store) *thumbs {
	path, _ := exec.LookPath("ffmpeg")
	return &thumbs{store: store, ffmpeg: path, one: make(chan struct{}, 1), failed: map[string]time.Time{}}
}

// get returns the path of the named recording's thumbnail, making it when there is none yet.
func (t *thumbs) get(ctx context.Context, name string, hasVideo bool) (string, error) {
	src, err := t.store.Resolve(name)
	if err != nil {
		return "", errNoThumb // not a finished local file: another node's, or gone
	}
	jpg := t.store.ThumbPath(name)
	if _, err := os.Stat(jpg); err == nil {
		return jpg, nil
	}
	fi, err := os.Stat(src)
	if err != nil || !hasVideo || t.gaveNone(name, fi.ModTime()) {
		return "", errNoThumb
	}
	select {
	case t.one <- struct{}{}:
		defer func() { <-t.one }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if _, err := os.Stat(jpg); err == nil {
		return jpg, nil // made while this call waited
	}
	if err := t.make(ctx, src, jpg); err != nil {
		t.mu.Lock()
		t.failed[name] = fi.ModTime()
		t.mu.Unlock()
		return "", fmt.Errorf("%w: %v", errNoThumb, err)
	}
	return jpg, nil
}

// gaveNone says whether this version of the file failed before (it is not tried again).
func (t *thumbs) gaveNone(name string, mod time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.failed[name]
	return ok && at.Equal(mod)
}

// make decodes the first keyframe of src into a JPEG at jpg (written aside, then renamed, so a
// half-made file is never served).
func (t *thumbs) make(ctx context.Context, src, jpg string) error {
	if err := os.MkdirAll(filepath.Dir(jpg), 0o755); err != nil {
		return err
	}
	b, err := thumb.Make(src, thumbWidth, thumbProbe)
	switch {
	case err == nil:
		tmp := jpg + ".tmp.jpg"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, jpg)
	case errors.Is(err, thumb.ErrUnsupported) && t.ffmpeg != "":
		return t.run(ctx, src, jpg)
	default:
		return err
	}
}

// run has the ffmpeg program make the JPEG at jpg of src's first keyframe.
func (t *thumbs) run(ctx context.Context, src, jpg string) error {
	ctx, cancel := context.WithTimeout(ctx, thumbTimeout)
	defer cancel()
	tmp := jpg + ".tmp.jpg"
	defer os.Remove(tmp)
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, t.ffmpeg, "-nostdin", "-v", "error", "-y",
		"-probesize", fmt.Sprint(thumbProbe), "-skip_frame", "nokey", "-i", abs,
		"-map", "0:v:0", "-frames:v", "1", "-vf", fmt.Sprintf("scale=%d:-2", thumbWidth), "-q:v", "5", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %.200s", err, out)
	}
	return os.Rename(tmp, jpg)
}

// thumb serves GET /recordings/thumb/NAME: the JPEG, or 404 (the page's placeholder).
func (a *Admin) thumb(c *fiber.Ctx) error {
	name := c.Params("name")
	path, err := a.thumbs.get(c.UserContext(), name, a.library.hasVideo(name))
	if err != nil {
		return fail(c, fiber.StatusNotFound, err.Error())
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
	c.Set(fiber.HeaderContentType, "image/jpeg")
	return c.SendFile(path)
}
