package recorder

import (
	"io"
	"log/slog"
	"testing"

	"github.com/streamrec/streamrec/recorder/media"
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
