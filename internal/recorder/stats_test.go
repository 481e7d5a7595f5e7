package recorder

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
)

// growingContainer is a file that grows by each frame's payload plus an 8-byte header.
type growingContainer struct {
	fakeContainer
	size int64
}

func (c *growingContainer) WriteFrame(f media.Frame) error {
	c.size += int64(len(f.Data)) + 8
	return c.fakeContainer.WriteFrame(f)
}
func (c *growingContainer) Size() int64 { return c.size }

// The server's totals get each batch's frames and the bytes the file grew by, and the frames a
// full queue drops; a nil Stats counts nothing.
func TestStatsCountFramesBytesDrops(t *testing.T) {
	stats := &Stats{}
	o := Options{
		Settings: &conf.Settings{Policy: "streamName", SampleRate: 44100},
		Values:   naming.Values{StreamName: "counted"},
		Tracks:   []media.Track{{Kind: media.Video, Codec: media.H264}},
		Files:    records.New(t.TempDir(), nil),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Stats:    stats,
	}
	p, err := newPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	p.create = func(*os.File, []media.Track) (container, error) { return &growingContainer{}, nil }
	w := newWriter(&Recorder{opts: o, plan: p})
	if err := w.openPart(nil, 0); err != nil {
		t.Fatal(err)
	}
	w.frame(media.Frame{Track: 0, Data: make([]byte, 100)}) // before the first keyframe: not written
	for i := range 10 {
		w.frame(media.Frame{Track: 0, Key: i == 0, Data: make([]byte, 100)})
	}
	if got := stats.Totals(); got != (Totals{}) {
		t.Errorf("counted before the batch ended: %+v", got)
	}
	w.report()
	if got := stats.Totals(); got.Frames != 10 || got.Bytes != 1080 {
		t.Errorf("after a batch: %+v, want 10 frames, 1080 bytes", got)
	}
	w.report()
	if got := stats.Totals(); got.Frames != 10 || got.Bytes != 1080 {
		t.Errorf("counted twice: %+v", got)
	}
	r := &Recorder{opts: o, wake: make(chan struct{}, 1)}
	big := make([]byte, queueBytes)
	r.Push(media.Frame{Data: big, Key: true})
	r.Push(media.Frame{Data: big, Key: true}) // dropped
	r.Push(media.Frame{Data: big, Key: true}) // dropped
	if got := stats.Totals().Dropped; got != 2 {
		t.Errorf("dropped %d, want 2", got)
	}
	var none *Stats
	none.drop()
	if none.Totals() != (Totals{}) {
		t.Error("a nil Stats counted")
	}
}
