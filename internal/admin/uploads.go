package admin

import (
	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/upload"
)

// Uploads gives the upload queue (nil when record_s3_bucket is empty). A function: the server
// opens the queue at Start, after the dashboard is made.
type Uploads func() *upload.Queue

// queue is the upload queue now, nil when there is none (a nil queue answers Status and
// UploadedAs as for upload off).
func (u Uploads) queue() *upload.Queue {
	if u == nil {
		return nil
	}
	return u()
}

// uploads answers GET /admin/api/uploads: where the bucket is (never its keys), the counts per
// state, what was uploaded since the start, the last error and the files failing now.
func (a *Admin) uploads(c *fiber.Ctx) error {
	q := a.cfg.Uploads.queue()
	st := a.cfg.Settings.Current().S3
	out := fiber.Map{"enabled": q != nil, "endpoint": st.Endpoint, "bucket": st.Bucket, "prefix": st.Prefix,
		"deleteLocal": st.DeleteLocal}
	if q != nil {
		out["summary"] = q.Summary()
	}
	return c.JSON(out)
}
