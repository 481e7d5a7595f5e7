package recording

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
)

var audio = []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2, Config: []byte{0x12, 0x10}}}

// send writes n AAC frames of 1024 samples to st.
func send(st *stream.Stream, n int) {
	for i := range n {
		ts := time.Duration(i) * 1024 * time.Second / 44100
		st.WriteFrame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: true, Data: []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}})
	}
}

// registry returns a registry whose streams are recorded; auto records RTMP streams from the start.
func registry(t *testing.T, auto bool) *stream.Registry {
	t.Helper()
	settings := conf.Defaults()
	settings.RecordStreams, settings.RecordFlash = true, auto
	settings.Policy = "streamName"
	rs := New(Config{Settings: func() *conf.Settings { return settings }, Files: records.New(t.TempDir(), nil)})
	reg := stream.New(stream.Config{Attach: rs.Attach})
	t.Cleanup(reg.Close)
	return reg
}

// On demand: only a publishing stream is recorded, once at a time; stop names the file, which
// the state keeps after the stream ended.
func TestStartStopOnDemand(t *testing.T) {
	reg := registry(t, false)
	st, err := reg.Create(stream.Identity{Name: "cam", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	r := Of(st)
	if r == nil {
		t.Fatal("the registry attached no recording")
	}
	if err := r.Start(Options{}); !errors.Is(err, ErrNotPublishing) || !strings.Contains(err.Error(), "(it is PENDING)") {
		t.Fatalf("start before publishing: %v", err)
	}
	st.Publish(audio)
	if s := r.State(); s.Recording || s.Name != "" {
		t.Fatalf("recorded without being asked: %+v", s)
	}
	if err := r.Start(Options{}); err != nil {
		t.Fatal(err)
	}
	send(st, 20)
	s := r.State()
	if !s.Recording || s.Name != "cam.mp4" || s.Since.IsZero() {
		t.Fatalf("state while recording: %+v", s)
	}
	if err := r.Start(Options{}); !errors.Is(err, ErrRecording) {
		t.Fatalf("second start: %v", err)
	}
	files, err := r.Stop()
	if err != nil || len(files) != 1 || files[0].Name != "cam.mp4" {
		t.Fatalf("stop: %v %+v", err, files)
	}
	if _, err := r.Stop(); !errors.Is(err, ErrNotRecording) {
		t.Fatalf("second stop: %v", err)
	}
	st.Unpublish()
	if s := StateOf(st.Snapshot()); s.Recording || s.Name != "cam.mp4" || !s.Since.IsZero() {
		t.Fatalf("state after the end: %+v", s)
	}
	if err := r.Start(Options{}); !errors.Is(err, ErrNotPublishing) || !strings.Contains(err.Error(), "(it is UNPUBLISHED)") {
		t.Fatalf("start after the end: %v", err)
	}
}

// The settings start a recording before the PUBLISHING event, and the stream's end finishes it
// before the UNPUBLISHED event: both events show the file.
func TestAutomaticRecordingInEvents(t *testing.T) {
	reg := registry(t, true)
	var mu sync.Mutex
	seen := map[stream.Status]State{}
	cancel := reg.Subscribe(func(s stream.Snapshot) {
		mu.Lock()
		seen[s.Status] = StateOf(s)
		mu.Unlock()
	})
	defer cancel()
	st, err := reg.Create(stream.Identity{Name: "auto", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	st.Publish(audio)
	st.Unpublish()
	mu.Lock()
	defer mu.Unlock()
	if s := seen[stream.StatusPublishing]; !s.Recording || s.Name != "auto.mp4" {
		t.Errorf("PUBLISHING event: %+v", s)
	}
	if s := seen[stream.StatusUnpublished]; s.Recording || s.Name != "auto.mp4" {
		t.Errorf("UNPUBLISHED event: %+v", s)
	}
}

// A stream the settings do not record, and a registry without recording, report no recording.
func TestNoRecording(t *testing.T) {
	reg := stream.New(stream.Config{})
	defer reg.Close()
	st, err := reg.Create(stream.Identity{Name: "bare", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	st.Publish(audio)
	if Of(st) != nil || StateOf(st.Snapshot()) != (State{}) {
		t.Errorf("a registry without recording has a recording: %+v", StateOf(st.Snapshot()))
	}
}
