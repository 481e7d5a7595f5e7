package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/thumb"
)

// A recording's thumbnail is its first video keyframe, scaled to thumbWidth pixels wide, as a
// JPEG kept in records/.streamrec-thumbs/NAME.jpg: made once, on the library's first look, and
// deleted with the recording (records.Store.Delete). It is decoded in-process (package thumb:
// libavcodec, image/jpeg; no program is run); a file without video gets the page's placeholder.
// Making one is bounded: one at a time, at most thumbProbe bytes of the file looked through for
// the keyframe (thumb bounds the keyframe and the picture too).
const (
	thumbWidth = 160
	thumbProbe = 16 << 20
	maxFailed  = 10000 // files remembered as giving no thumbnail
)

// errNoThumb answers 404: the page shows its placeholder.
var errNoThumb = errors.New("no thumbnail")

type thumbs struct {
	store *records.Store
	one   chan struct{} // one thumbnail made at a time

	mu     sync.Mutex
	failed map[string]time.Time // file name → modification time of a file that gave none
}

func newThumbs(store *records.Store) *thumbs {
	return &thumbs{store: store, one: make(chan struct{}, 1), failed: map[string]time.Time{}}
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
	if err := t.make(name, src); err != nil {
		t.mu.Lock()
		if len(t.failed) >= maxFailed {
			clear(t.failed) // bounded: at worst a file is tried once more
		}
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

// make decodes the first keyframe of the named recording at src and keeps its JPEG.
func (t *thumbs) make(name, src string) error {
	b, err := thumb.Make(src, thumbWidth, thumbProbe)
	if err != nil {
		return err
	}
	return t.store.SaveThumb(name, b)
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
