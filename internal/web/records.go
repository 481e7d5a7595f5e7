// Package web serves what a browser loads: finished recordings at /client/records/NAME (with
// Range, so a <video> element can play and seek them) and the embedded pages.
package web

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/recorder"
)

// Records serves finished recordings from one folder.
type Records struct {
	Dir   string
	Files *recorder.Files
}

// contentTypes are the recordings we serve; anything else in the folder is not a recording.
var contentTypes = map[string]string{".mp4": "video/mp4", ".webm": "video/webm"}

// Register mounts GET/HEAD /client/records/*.
func (rs *Records) Register(app fiber.Router) {
	app.Get("/client/records/*", rs.serve) // GET routes answer HEAD too
}

// Path resolves a recording name from a URL to a finished file, or says why not.
// A name is one path element: no "/", no "..", not hidden, a known extension, and not being written.
func (rs *Records) Path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("%q is not a recording name", name)
	}
	if _, ok := contentTypes[strings.ToLower(filepath.Ext(name))]; !ok {
		return "", fmt.Errorf("%q is not a recording", name)
	}
	if rs.Files.Writing(name) {
		return "", fmt.Errorf("%q is still being recorded", name)
	}
	path := filepath.Join(rs.Dir, name)
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("no recording %q", name)
	}
	return path, nil
}

func (rs *Records) serve(c *fiber.Ctx) error {
	name, err := url.PathUnescape(c.Params("*"))
	if err == nil {
		var path string
		if path, err = rs.Path(name); err == nil {
			return sendFile(c, path, contentTypes[strings.ToLower(filepath.Ext(name))])
		}
	}
	return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"status": 404, "error": "Not Found", "message": err.Error()})
}

// sendFile answers with the file, honouring a single "Range: bytes=" range.
func sendFile(c *fiber.Ctx, path, contentType string) error {
	f, err := os.Open(path)
	if err != nil {
		return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"status": 404, "error": "Not Found", "message": "recording is gone"})
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := st.Size()
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderLastModified, st.ModTime().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	start, n := int64(0), size
	if h := c.Get(fiber.HeaderRange); h != "" {
		var ok bool
		start, n, ok = parseRange(h, size)
		if !ok {
			f.Close()
			c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
			return c.SendStatus(fiber.StatusRequestedRangeNotSatisfiable)
		}
		c.Status(fiber.StatusPartialContent)
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, size))
	}
	if c.Method() == fiber.MethodHead {
		f.Close()
		c.Response().Header.SetContentLength(int(n))
		c.Response().SkipBody = true
		return nil
	}
	// fasthttp closes the body stream (and so the file) when the response is sent.
	c.Response().SetBodyStream(&section{io.NewSectionReader(f, start, n), f}, int(n))
	return nil
}

type section struct {
	*io.SectionReader
	f *os.File
}

func (s *section) Close() error { return s.f.Close() }

// parseRange reads one "bytes=a-b", "bytes=a-" or "bytes=-n" range. Several ranges are answered
// with the first one only, which RFC 9110 allows.
func parseRange(h string, size int64) (start, n int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	spec, _, _ = strings.Cut(spec, ",")
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		last, err := strconv.ParseInt(b, 10, 64)
		if err != nil || last <= 0 || size == 0 {
			return 0, 0, false
		}
		last = min(last, size)
		return size - last, last, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < first {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return first, end - first + 1, true
}
