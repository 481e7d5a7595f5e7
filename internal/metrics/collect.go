package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
)

// protocols are the label values of the ingests, by the registry's provider names.
var protocols = map[string]string{
	stream.ProviderRTMP:   "rtmp",
	stream.ProviderRTSP:   "rtsp",
	stream.ProviderWebRTC: "webrtc",
}

// protocolOf is the protocol label of a stream's provider.
func protocolOf(provider string) string {
	if p, ok := protocols[provider]; ok {
		return p
	}
	return strings.ToLower(provider)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// streamCollector reads the stream registry at each scrape: one pass over the streams listed.
type streamCollector struct {
	reg                                         *stream.Registry
	streams, publishers, recordings, queue, ing *prometheus.Desc
}

func newStreamCollector(reg *stream.Registry) *streamCollector {
	return &streamCollector{
		reg: reg,
		streams: desc("streams", "Streams listed now, by protocol and status (pending: tracks not known yet; publishing).",
			"protocol", "status"),
		publishers: desc("publishers_connected", "Publishers connected now (streams pending or publishing; a pulled RTSP camera counts as one), by protocol.",
			"protocol"),
		recordings: desc("recordings_in_progress", "Streams being recorded now, by protocol.", "protocol"),
		queue:      desc("recorder_queue_frames", "Frames waiting in the recorders' queues for the disk, summed over the recordings."),
		ing:        desc("ingest_bytes_total", "Media bytes received from publishers (frame payloads), by protocol.", "protocol"),
	}
}

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.streams, c.publishers, c.recordings, c.queue, c.ing} {
		ch <- d
	}
}

// figures are the registry's counts by protocol.
type figures struct {
	streams    map[[2]string]int // protocol, status
	publishers map[string]int
	recordings map[string]int
	queued     int
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	f := count(c.reg.All())
	for k, n := range f.streams {
		ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for p, n := range f.publishers {
		ch <- prometheus.MustNewConstMetric(c.publishers, prometheus.GaugeValue, float64(n), p)
	}
	for p, n := range f.recordings {
		ch <- prometheus.MustNewConstMetric(c.recordings, prometheus.GaugeValue, float64(n), p)
	}
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(f.queued))
	bytes := c.reg.IngestBytes()
	for provider := range protocols {
		bytes[provider] += 0 // every protocol exported, at 0 before its first stream
	}
	for provider, n := range bytes {
		ch <- prometheus.MustNewConstMetric(c.ing, prometheus.CounterValue, float64(n), protocolOf(provider))
	}
}

// count sorts the streams listed by protocol and status. Every protocol is counted, at 0 when
// it has no stream, so a dashboard's series do not come and go.
func count(list []stream.Snapshot) figures {
	f := figures{streams: map[[2]string]int{}, publishers: map[string]int{}, recordings: map[string]int{}}
	for _, p := range protocols {
		f.publishers[p], f.recordings[p] = 0, 0
		for _, st := range []stream.Status{stream.StatusPending, stream.StatusPublishing} {
			f.streams[[2]string{p, statusLabel(st)}] = 0
		}
	}
	for _, sn := range list {
		p := protocolOf(sn.MediaProvider)
		f.streams[[2]string{p, statusLabel(sn.Status)}]++
		if !sn.Status.Ended() {
			f.publishers[p]++
		}
		if rec := recording.Of(sn.Stream()); rec != nil {
			if rec.State().Recording {
				f.recordings[p]++
			}
			queued, _ := rec.Backlog()
			f.queued += queued
		}
	}
	return f
}

func statusLabel(st stream.Status) string { return strings.ToLower(st.String()) }

// registerRecorders exports the recorders' running totals.
func registerRecorders(reg *prometheus.Registry, s *recorder.Stats) {
	counter := func(name, help string, value func(recorder.Totals) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
			func() float64 { return value(s.Totals()) })
	}
	reg.MustRegister(
		counter("recorder_frames_written_total", "Frames written to recording files (audio and video).",
			func(t recorder.Totals) float64 { return float64(t.Frames) }),
		counter("recorder_frames_dropped_total", "Frames dropped because a recorder could not keep up (its queue was full: a disk too slow); the recording skipped to the next keyframe.",
			func(t recorder.Totals) float64 { return float64(t.Dropped) }),
		counter("recorder_written_bytes_total", "Bytes written to recording files.",
			func(t recorder.Totals) float64 { return float64(t.Bytes) }),
		counter("audio_transcode_cpu_seconds_total", "CPU time spent transcoding audio (decoding, resampling and encoding in libavcodec).",
			func(t recorder.Totals) float64 { return t.Transcode.Seconds() }),
	)
}

// registerDisk exports the free space of the records file system: one statfs per scrape.
func registerDisk(reg *prometheus.Registry, dir string) {
	gauge := func(name, help string, pick func(free, total uint64) uint64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, func() float64 {
			free, total, err := recorder.DiskSpace(dir)
			if err != nil {
				return -1
			}
			return float64(pick(free, total))
		})
	}
	reg.MustRegister(
		gauge("records_disk_free_bytes", "Bytes available to the server on the records folder's file system (-1: unknown). Below 64 MiB no recording starts.",
			func(free, _ uint64) uint64 { return free }),
		gauge("records_disk_size_bytes", "Size of the records folder's file system (-1: unknown).",
			func(_, total uint64) uint64 { return total }),
	)
}
