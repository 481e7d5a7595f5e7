package recorder

import (
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
)

// TestPartsGoThroughTheStore: a recording's file is created in the store's folder and is being
// written (neither listed nor served) until it is finished; a name that waits for {endTime} is
// given at the finish, by a rename in the folder, and the finished File says that name.
func TestPartsGoThroughTheStore(t *testing.T) {
	store := records.New(t.TempDir(), nil)
	o := Options{
		Settings: &conf.Settings{Policy: "template", Template: "{streamName}-{endTimeMillis}", SampleRate: 44100},
		Values:   naming.Values{StreamName: "hall"},
		Tracks:   []media.Track{{Kind: media.Video, Codec: media.H264}},
		Files:    store,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	p, err := newPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	p.create = func(*os.File, []media.Track) (container, error) { return &fakeContainer{}, nil }
	w := newWriter(&Recorder{opts: o, plan: p})
	if err := w.openPart(nil, 0); err != nil {
		t.Fatal(err)
	}
	first := w.cur.name
	if !store.Writing(first) {
		t.Errorf("%s is not being written", first)
	}
	if recs, _ := store.List(); len(recs) != 0 {
		t.Errorf("a file being written is listed: %+v", recs)
	}
	for i := 0; i < 30; i++ {
		ts := time.Duration(i) * time.Second / 30
		w.frame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i == 0, Data: []byte{1}})
	}
	time.Sleep(2 * time.Millisecond) // the end time differs from the start's
	w.finish()
	done := w.r.Finished()
	if len(done) != 1 {
		t.Fatalf("finished %+v, want one file", done)
	}
	f := done[0]
	recs, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range recs {
		listed = append(listed, r.Name)
	}
	if f.Name == first || !strings.HasPrefix(f.Name, "hall-") || f.Path != store.Path(f.Name) || store.Writing(first) ||
		store.Writing(f.Name) || !slices.Equal(listed, []string{f.Name}) {
		t.Errorf("finished %+v (first named %s), listed %v: want the file renamed at its end, alone, finished", f, first, listed)
	}
}
