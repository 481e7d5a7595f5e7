package stream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// journal is a subscriber that writes down what it is given.
type journal struct {
	reg *Registry
	log []string
}

func (j *journal) Tracks(tracks []media.Track, published bool) {
	j.log = append(j.log, fmt.Sprintf("tracks %v %d", published, tracks[0].Width))
}

func (j *journal) Frame(f media.Frame) {
	j.log = append(j.log, fmt.Sprintf("frame %d", f.DTS/time.Millisecond))
}

func (j *journal) Ended() {
	j.log = append(j.log, "ended, listed: "+fmt.Sprint(len(j.reg.All())))
}

// Every subscriber gets the tracks when the stream publishes, the frames in order, a track's
// new parameters before the frame carrying them, and the end before the stream leaves the list;
// nothing before publishing or after the end.
func TestSubscribersSeeTheStream(t *testing.T) {
	var a, b *journal
	var r *Registry
	r = New(Config{Attach: func(s *Stream) {
		a, b = &journal{reg: r}, &journal{reg: r}
		s.AddSubscriber(a)
		s.AddSubscriber(b)
	}})
	var events []string
	defer r.Subscribe(func(sn Snapshot) { events = append(events, sn.Status.String()) })()
	s, err := r.Create(Identity{Name: "hub", Provider: ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	video := media.Track{Kind: media.Video, Codec: media.H264, Width: 640}
	s.WriteFrame(media.Frame{Track: 0, Key: true}) // pending: no one sees it
	s.Publish([]media.Track{video})
	s.WriteFrame(media.Frame{Track: 0, DTS: 40 * time.Millisecond})
	s.WriteFrame(media.Frame{Track: 1, DTS: 80 * time.Millisecond}) // no such track
	wider := video
	wider.Width = 1280
	s.WriteFrame(media.Frame{Track: 0, DTS: 120 * time.Millisecond, Key: true, Params: &wider})
	s.Unpublish()
	s.WriteFrame(media.Frame{Track: 0, DTS: 160 * time.Millisecond})
	want := "tracks true 640; frame 40; tracks false 1280; frame 120; ended, listed: 1"
	for _, j := range []*journal{a, b} {
		if got := strings.Join(j.log, "; "); got != want {
			t.Errorf("subscriber saw\n%s\nwant\n%s", got, want)
		}
	}
	if got := strings.Join(events, " "); got != "PUBLISHING UNPUBLISHED" {
		t.Errorf("events %s", got)
	}
	if sn := s.Snapshot(); sn.Width != 1280 || sn.Stream() != s {
		t.Errorf("snapshot after the change: %+v", sn)
	}
}
