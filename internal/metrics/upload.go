package metrics

import "github.com/prometheus/client_golang/prometheus"

// UploadSource is where the upload of finished files to object storage (record_s3_*) plugs its
// figures in: the metrics read them at each scrape, so the uploader keeps its own counts and
// knows nothing of Prometheus. Until SetUploads is called no upload metric is exported.
type UploadSource interface {
	UploadFigures() UploadFigures
}

// UploadFigures are the upload queue's state and its running totals.
type UploadFigures struct {
	Queued    int               // files waiting to be uploaded (retries included)
	Uploading int               // files being uploaded now
	Bytes     uint64            // bytes uploaded and verified so far
	Results   map[string]uint64 // files by result so far: "uploaded", "failed", "retried"...
}

type uploadSource struct{ UploadSource }

// SetUploads plugs the uploader's figures in (nil unplugs them).
func (m *Metrics) SetUploads(u UploadSource) {
	if u == nil {
		m.uploads.Store(nil)
		return
	}
	m.uploads.Store(&uploadSource{u})
}

var (
	uploadQueued    = desc("upload_queue_files", "Finished files waiting to be uploaded to object storage.")
	uploadUploading = desc("upload_in_progress_files", "Files being uploaded to object storage now.")
	uploadBytes     = desc("upload_bytes_total", "Bytes uploaded to object storage and verified.")
	uploadResults   = desc("upload_files_total", "Files whose upload to object storage ended, by result.", "result")
)

// uploadCollector exports the UploadSource's figures, when one is plugged in.
type uploadCollector struct{ m *Metrics }

func (c *uploadCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{uploadQueued, uploadUploading, uploadBytes, uploadResults} {
		ch <- d
	}
}

func (c *uploadCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.m.uploads.Load()
	if src == nil {
		return
	}
	f := src.UploadFigures()
	ch <- prometheus.MustNewConstMetric(uploadQueued, prometheus.GaugeValue, float64(f.Queued))
	ch <- prometheus.MustNewConstMetric(uploadUploading, prometheus.GaugeValue, float64(f.Uploading))
	ch <- prometheus.MustNewConstMetric(uploadBytes, prometheus.CounterValue, float64(f.Bytes))
	for result, n := range f.Results {
		ch <- prometheus.MustNewConstMetric(uploadResults, prometheus.CounterValue, float64(n), result)
	}
}
