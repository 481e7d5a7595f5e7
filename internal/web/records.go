// Package web serves what a browser loads: finished recordings at /client/records/NAME (with
// Range, so a <video> element can play and seek them) and the embedded pages.
package web

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/records"
)

// Records serves the finished recordings of a records store.
type Records struct {
	Store *records.Store
}

// Register mounts GET/HEAD /client/records/*.
func (rs *Records) Register(app fiber.Router) {
	app.Get("/client/records/*", rs.serve) // GET routes answer HEAD too
}

func (rs *Records) serve(c *fiber.Ctx) error {
	name, err := url.PathUnescape(c.Params("*"))
	if err == nil {
		var path string
		if path, err = rs.Store.Resolve(name); err == nil {
			return sendFile(c, path, records.ContentType(name))
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
