package web

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
)

// Bounds on a download from the bucket: a store that is down or hangs gets the client a 503
// within bucketWait, never a request that hangs; a transfer that stalls for bucketIdle (the
// store stopped mid-body) is cut, so the connection is not held forever.
const (
	bucketWait = 10 * time.Second
	bucketIdle = 30 * time.Second
)

// sendObject answers with the object of name as sendFile does with a file: same Range, HEAD and
// headers (Last-Modified is the upload's time, ETag the object's). The bytes are proxied, not
// redirected to a presigned URL: the store's address is often one that browsers cannot reach.
//
// node "" asks for this node's file (under the name its upload took, see UploadedAs), or any
// node's of that name; another node's name asks for that node's object only.
func (rs *Records) sendObject(c *fiber.Ctx, name, node string) error {
	key := name
	if node == "" && rs.UploadedAs != nil {
		if as := rs.UploadedAs(name); as != "" {
			key = as
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bucketWait)
	defer cancel()
	o, err := rs.Bucket.Stat(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) || (err == nil && node != "" && o.Meta.Node != node) {
		where := "on this node nor in the bucket"
		if node != "" {
			where = "of node \"" + node + "\" in the bucket"
		}
		return missing(c, "no recording \""+name+"\" "+where)
	}
	if err != nil {
		return rs.unavailable(c, name, err)
	}
	start, n, body := answer(c, o.Size, o.Modified, o.ETag, records.ContentType(name))
	if !body {
		return nil
	}
	// The transfer outlives this handler (fasthttp reads the body stream after it returns): its
	// context ends when the stream is closed, or when no byte came for bucketIdle.
	tctx, tcancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(bucketWait, tcancel) // the store accepted the request but sends no answer
	r, err := rs.Bucket.Range(tctx, key, o.ETag, start, n)
	if !timer.Stop() && err == nil {
		r.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		tcancel()
		return rs.unavailable(c, name, err)
	}
	c.Response().SetBodyStream(newIdleReader(r, tcancel), int(n))
	return nil
}

// unavailable answers 503: the file is not here and the bucket could not say whether it holds it.
// The client is told which file and that it may retry; the store's own error (its address)
// goes to the log only.
func (rs *Records) unavailable(c *fiber.Ctx, name string, err error) error {
	if ok, hidden := rs.logs.Allow("bucket"); ok {
		rs.Log.Warn("recording download: the bucket did not answer", "file", name, "bucket", rs.Bucket.Bucket(),
			"err", err, "failedBefore", hidden)
	}
	c.Set(fiber.HeaderRetryAfter, "10")
	return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": 503, "error": "Service Unavailable",
		"message": "recording \"" + name + "\" is not on this node's disk and the object store does not answer; try again later"})
}

// idleReader is a transfer from the store that is ended (its context cancelled) when it is
// closed or when a read waits longer than bucketIdle.
type idleReader struct {
	r      io.ReadCloser
	cancel context.CancelFunc
	timer  *time.Timer
	once   sync.Once
}

func newIdleReader(r io.ReadCloser, cancel context.CancelFunc) *idleReader {
	ir := &idleReader{r: r, cancel: cancel, timer: time.AfterFunc(bucketIdle, cancel)}
	ir.timer.Stop() // armed by each Read
	return ir
}

// Read waits for the store at most bucketIdle; the time the client takes to take the bytes
// (between reads) does not count.
func (ir *idleReader) Read(p []byte) (int, error) {
	ir.timer.Reset(bucketIdle)
	n, err := ir.r.Read(p)
	ir.timer.Stop()
	return n, err
}

func (ir *idleReader) Close() error {
	var err error
	ir.once.Do(func() {
		ir.timer.Stop()
		err = ir.r.Close()
		ir.cancel()
	})
	return err
}
