package server

import (
	"github.com/streamrec/streamrec/internal/metrics"
	"github.com/streamrec/streamrec/internal/upload"
)

// uploadFigures gives the metrics the upload queue's counts at each scrape.
type uploadFigures struct{ q *upload.Queue }

func (u uploadFigures) UploadFigures() metrics.UploadFigures {
	sum := u.q.Summary()
	return metrics.UploadFigures{
		Queued:    sum.Counts[upload.Queued] + sum.Counts[upload.Failed], // a failed file waits for its retry
		Uploading: sum.Counts[upload.Uploading],
		Bytes:     uint64(sum.BytesUploaded),
		// retried: failed attempts, each tried again after its backoff
		Results: map[string]uint64{"uploaded": uint64(sum.Uploaded), "retried": uint64(sum.Failures)},
	}
}
