package recorder

import (
	"io"
	"log/slog"
	"testing"

	"github.com/streamrec/streamrec/internal/media"
)

// A recorder that falls behind holds at most queueBytes of media, whatever the frame count.
func TestQueueBoundedInBytes(t *testing.T) {
	r := &Recorder{opts: Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, wake: make(chan struct{}, 1)}
	big := make([]byte, 4<<20) // the largest RTMP message
	for range 20 {
		r.Push(media.Frame{Data: big, Key: true})
	}
	if n, want := len(r.queue), queueBytes/len(big); n != want {
		t.Errorf("%d frames of 4 MB queued, want %d (%d MB)", n, want, queueBytes>>20)
	}
	if _, dropped := r.Backlog(); dropped != uint64(20-len(r.queue)) {
		t.Errorf("dropped %d", dropped)
	}
	r.take()
	r.Push(media.Frame{Data: big, Key: true})
	if len(r.queue) != 1 {
		t.Error("the queue stays full once taken")
	}
}

// A keyframe with new video parameters dropped from a full queue does not lose the change: the
// next video keyframe queued carries its Params.
func TestDroppedParamsCarriedOver(t *testing.T) {
	r := &Recorder{opts: Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, wake: make(chan struct{}, 1),
		plan: plan{kinds: []media.Kind{media.Video, media.Audio}}}
	big := make([]byte, queueBytes)
	r.Push(media.Frame{Track: 0, Data: big, Key: true})
	params := &media.Track{Kind: media.Video, Codec: media.H264, Width: 1280, Height: 720}
	r.Push(media.Frame{Track: 0, Data: []byte{1}, Key: true, Params: params}) // dropped: the queue is full
	r.take()
	r.Push(media.Frame{Track: 1, Data: []byte{2}, Key: true})
	r.Push(media.Frame{Track: 0, Data: []byte{3}})
	r.Push(media.Frame{Track: 0, Data: []byte{4}, Key: true})
	if len(r.queue) != 3 || r.queue[0].f.Params != nil || r.queue[1].f.Params != nil || r.queue[2].f.Params != params {
		t.Errorf("the next video keyframe does not carry the dropped Params")
	}
}
