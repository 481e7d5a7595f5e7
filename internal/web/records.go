// Package web serves what a browser loads: finished recordings at /client/records/NAME (with
// Range, so a <video> element can play and seek them; from the bucket when the local copy is
// gone) and the embedded pages.
package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/lograte"
	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
)

// Records serves the finished recordings of a records store, and those whose local copy is
// gone (or that another node made) from the bucket, when there is one.
type Records struct {
	Store *records.Store
	// Bucket is the object store finished files are uploaded to; nil when upload is off.
	Bucket *objstore.Store
	// Node is this node's name (node_name). NAME?node=OTHER asks for the object NAME that node
	// OTHER made, even when this node has a file of that name (names are unique per node only).
	Node func() string
	// UploadedAs gives the name a local file's object has when it is not the file's own (another
	// node's object had that name: the uploader took NAME-NODE.EXT); nil or "" = its own name.
	UploadedAs func(name string) string
	Log        *slog.Logger

	logs *lograte.Limiter // the bucket's failures: a line a minute
}

// Register mounts GET/HEAD /client/records/*.
func (rs *Records) Register(app fiber.Router) {
	if rs.Log == nil {
		rs.Log = slog.Default()
	}
	rs.logs = lograte.New(time.Minute, 16)
	app.Get("/client/records/*", rs.serve) // GET routes answer HEAD too
}

// serve answers from the local file first, as it always did; only a recording's name that the
// folder does not hold (and that is not being written here) is looked up in the bucket.
func (rs *Records) serve(c *fiber.Ctx) error {
	name, err := url.PathUnescape(c.Params("*"))
	if err != nil {
		return missing(c, err.Error())
	}
	node := c.Query("node")
	if node == "" || rs.Node == nil || node == rs.Node() {
		var path string
		if path, err = rs.Store.Resolve(name); err == nil {
			return sendFile(c, path, records.ContentType(name))
		}
		node = ""
	} else if !records.IsRecording(name) {
		err = fmt.Errorf("%q is not a recording", name)
	}
	if rs.Bucket != nil && records.IsRecording(name) && (node != "" || !rs.Store.Writing(name)) {
		return rs.sendObject(c, name, node)
	}
	if err == nil {
		err = fmt.Errorf("no recording %q", name) // another node's, and no bucket
	}
	return missing(c, err.Error())
}

func missing(c *fiber.Ctx, message string) error {
	return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"status": 404, "error": "Not Found", "message": message})
}

// sendFile answers with the file, honouring a single "Range: bytes=" range.
func sendFile(c *fiber.Ctx, path, contentType string) error {
	f, err := os.Open(path)
	if err != nil {
		return missing(c, "recording is gone")
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	start, n, body := answer(c, st.Size(), st.ModTime(), "", contentType)
	if !body {
		f.Close()
		return nil
	}
	// fasthttp closes the body stream (and so the file) when the response is sent.
	c.Response().SetBodyStream(&section{io.NewSectionReader(f, start, n), f}, int(n))
	return nil
}

// answer sets the headers of a file of size bytes (its status, range and validators) and says
// which bytes to send, or body false when none are: a HEAD, or a range outside the file (416).
func answer(c *fiber.Ctx, size int64, mod time.Time, etag, contentType string) (start, n int64, body bool) {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderLastModified, mod.UTC().Format(http.TimeFormat))
	if etag != "" {
		c.Set(fiber.HeaderETag, `"`+etag+`"`)
	}
	start, n = 0, size
	if h := c.Get(fiber.HeaderRange); h != "" {
		var ok bool
		start, n, ok = parseRange(h, size)
		if !ok {
			c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
			c.SendStatus(fiber.StatusRequestedRangeNotSatisfiable) //nolint:errcheck // it only sets the status and body
			return 0, 0, false
		}
		c.Status(fiber.StatusPartialContent)
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, size))
	}
	if c.Method() == fiber.MethodHead {
		c.Response().Header.SetContentLength(int(n))
		c.Response().SkipBody = true
		return start, n, false
	}
	return start, n, true
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
