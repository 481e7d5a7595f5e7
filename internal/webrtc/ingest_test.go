package webrtc

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stage "github.com/streamrec/streamrec/internal/ingest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtp"
)

type fakeSink struct {
	mu     sync.Mutex
	tracks []media.Track
	frames []media.Frame
}

func (s *fakeSink) Publish(t []media.Track) {
	s.mu.Lock()
	s.tracks = t
	s.mu.Unlock()
}

func (s *fakeSink) WriteFrame(f media.Frame) {
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
}

// A real SPS (640x480 constrained baseline) and PPS, as Chrome sends them.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xf6, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x58, 0xba, 0x80}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func h264Frame(ts uint32, key bool) *rtp.Frame {
	if key {
		return &rtp.Frame{TS: ts, Key: true, SPS: testSPS, PPS: testPPS, Data: rtp.AppendAVC(nil, testSPS, testPPS, nal(5, 50))}
	}
	return &rtp.Frame{TS: ts, Data: rtp.AppendAVC(nil, nal(1, 20))}
}

// nal makes an H.264 NAL unit of a type (5 IDR, 1 other slice) and size.
func nal(typ byte, size int) []byte {
	n := make([]byte, size)
	n[0] = 0x60 | typ
	for i := 1; i < size; i++ {
		n[i] = byte(i*7 + int(typ))
	}
	n[1] |= 0x80 // first_mb_in_slice 0
	return n
}

func opusFrame(ts uint32) *rtp.Frame {
	return &rtp.Frame{TS: ts, Key: true, Data: []byte{0xfc, 0xff, 0xfe}}
}

func newTestIngest(sink *fakeSink, asks *atomic.Int32) (*ingest, *string) {
	var failed string
	g := newIngest(sink, slog.New(slog.DiscardHandler), func() { asks.Add(1) }, func(r string) { failed = r }, -1)
	return g, &failed
}

// ntp makes an NTP timestamp d after an arbitrary sender epoch.
func ntp(d time.Duration) uint64 {
	base := uint64(3_900_000_000) << 32
	return base + uint64(d/time.Second)<<32 + uint64(d%time.Second)<<32/uint64(time.Second)
}

func TestIngestPublishesOnFirstKeyframe(t *testing.T) {
	sink := &fakeSink{}
	var asks atomic.Int32
	g, _ := newTestIngest(sink, &asks)
	g.expect(media.Video, media.H264, 90000, 1)
	t0 := time.Unix(1000, 0)
	g.first(media.Video, media.H264, 90000, 1, 1000, t0)
	g.frame(media.Video, h264Frame(1000, false), false, t0)
	g.frame(media.Video, h264Frame(4000, false), false, t0.Add(33*time.Millisecond))
	if sink.tracks != nil {
		t.Fatal("published before a keyframe")
	}
	g.frame(media.Video, h264Frame(7000, true), false, t0.Add(66*time.Millisecond))
	g.frame(media.Video, h264Frame(10000, false), false, t0.Add(100*time.Millisecond))
	if len(sink.tracks) != 1 {
		t.Fatalf("tracks %+v", sink.tracks)
	}
	tr := sink.tracks[0]
	if tr.Codec != media.H264 || tr.Width != 640 || tr.Height != 480 || len(tr.SPS) != 1 || len(tr.PPS) != 1 {
		t.Errorf("video track %+v", tr)
	}
	if len(sink.frames) != 2 || !sink.frames[0].Key || (sink.frames[1].DTS-sink.frames[0].DTS).Round(time.Millisecond) != 33*time.Millisecond {
		t.Errorf("frames %+v", sink.frames)
	}
	time.Sleep(10 * time.Millisecond)
	if asks.Load() == 0 {
		t.Error("no keyframe request while frames without one arrived")
	}
}

func TestIngestSkipsToKeyframeAfterLoss(t *testing.T) {
	sink := &fakeSink{}
	var asks atomic.Int32
	g, _ := newTestIngest(sink, &asks)
	g.expect(media.Video, media.VP8, 90000, 1)
	t0 := time.Unix(1000, 0)
	g.first(media.Video, media.VP8, 90000, 1, 0, t0)
	key := &rtp.Frame{TS: 0, Key: true, Data: []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}}
	g.frame(media.Video, key, false, t0)
	g.frame(media.Video, &rtp.Frame{TS: 3000, Data: []byte{1}}, false, t0)
	before := asks.Load()
	g.frame(media.Video, nil, true, t0.Add(time.Second)) // a frame was lost
	g.frame(media.Video, &rtp.Frame{TS: 9000, Data: []byte{1}}, false, t0.Add(2*time.Second))
	key2 := *key
	key2.TS = 12000
	g.frame(media.Video, &key2, false, t0.Add(3*time.Second))
	g.frame(media.Video, &rtp.Frame{TS: 15000, Data: []byte{1}}, false, t0.Add(4*time.Second))
	var ts []time.Duration
	for _, f := range sink.frames {
		ts = append(ts, f.DTS)
	}
	want := []time.Duration{0, 33333333, 133333333, 166666666}
	if len(ts) != len(want) {
		t.Fatalf("frames at %v, want %v (the frame after the loss skipped)", ts, want)
	}
	for i := range ts {
		if ts[i] != want[i] {
			t.Fatalf("frames at %v, want %v", ts, want)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if asks.Load() <= before {
		t.Error("no keyframe request after a loss")
	}
	if sink.tracks[0].Width != 640 || sink.tracks[0].Height != 480 {
		t.Errorf("VP8 track %+v", sink.tracks[0])
	}
}

// TestIngestAlignsBySenderReports: audio arrives 80 ms after video by the network's and the
// encoders' doing, but the sender reports say both began at the same capture instant.
func TestIngestAlignsBySenderReports(t *testing.T) {
	sink := &fakeSink{}
	var asks atomic.Int32
	g, _ := newTestIngest(sink, &asks)
	g.expect(media.Video, media.H264, 90000, 1)
	g.expect(media.Audio, media.Opus, 48000, 2)
	t0 := time.Unix(1000, 0)
	const v0, a0 = 900000, 4_294_000_000 // audio's RTP clock wraps during the test
	g.first(media.Video, media.H264, 90000, 1, v0, t0)
	g.first(media.Audio, media.Opus, 48000, 2, a0, t0.Add(80*time.Millisecond))
	now := t0
	for i := 0; i < 100; i++ { // 2 s of 20 ms audio frames, 30 fps video
		now = t0.Add(time.Duration(i) * 20 * time.Millisecond)
		g.frame(media.Audio, opusFrame(a0+uint32(i)*960), false, now.Add(80*time.Millisecond))
		if i%3 == 0 {
			g.frame(media.Video, h264Frame(v0+uint32(i/3)*3000, i == 0), false, now)
		}
		g.tick(now)
	}
	if n := len(sink.frames); n != 0 {
		t.Fatalf("%d frames released before the sender reports aligned the tracks", n)
	}
	// Sender reports: the same NTP instant is video RTP v0+90000 and audio RTP a0+48000.
	g.senderReport(1, ntp(10*time.Second), v0+90000)
	g.senderReport(2, ntp(10*time.Second), a0+48000)
	g.tick(now)
	g.flush()
	var firstAudio, firstVideo time.Duration = -1, -1
	last := map[int]time.Duration{}
	var prev time.Duration
	for i, f := range sink.frames {
		if i > 0 && f.DTS < prev-stage.InterleaveWait {
			t.Errorf("frame %d at %v long before the previous one at %v", i, f.DTS, prev)
		}
		prev = f.DTS
		if l, ok := last[f.Track]; ok && f.DTS <= l {
			t.Errorf("track %d goes back from %v to %v", f.Track, l, f.DTS)
		}
		last[f.Track] = f.DTS
		if f.Track == 1 && firstAudio < 0 {
			firstAudio = f.DTS
		}
		if f.Track == 0 && firstVideo < 0 {
			firstVideo = f.DTS
		}
	}
	if d := firstAudio - firstVideo; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("audio starts %v after video, want 0 (the capture instants are equal)", d)
	}
	if len(sink.tracks) != 2 || sink.tracks[1].Codec != media.Opus || sink.tracks[1].SampleRate != 48000 || sink.tracks[1].Channels != 2 {
		t.Errorf("tracks %+v", sink.tracks)
	}
}

func TestIngestAudioOnly(t *testing.T) {
	sink := &fakeSink{}
	var asks atomic.Int32
	g, _ := newTestIngest(sink, &asks)
	g.expect(media.Audio, media.Opus, 48000, 2)
	t0 := time.Unix(1000, 0)
	g.first(media.Audio, media.Opus, 48000, 2, 4294967000, t0)
	for i := 0; i < 5; i++ {
		g.frame(media.Audio, opusFrame(4294967000+uint32(i)*960), false, t0)
	}
	if len(sink.tracks) != 1 || sink.tracks[0].Kind != media.Audio || len(sink.frames) != 5 || sink.frames[4].DTS != 80*time.Millisecond {
		t.Errorf("tracks %+v frames %d last %v", sink.tracks, len(sink.frames), sink.frames[len(sink.frames)-1].DTS)
	}
}

func TestIngestFailsWithoutKeyframe(t *testing.T) {
	sink := &fakeSink{}
	var asks atomic.Int32
	var failed atomic.Value
	g := newIngest(sink, slog.New(slog.DiscardHandler), func() { asks.Add(1) }, func(r string) { failed.Store(r) }, -1)
	g.expect(media.Video, media.H264, 90000, 1)
	t0 := time.Unix(1000, 0)
	g.first(media.Video, media.H264, 90000, 1, 0, t0)
	g.frame(media.Video, h264Frame(0, false), false, t0)
	g.tick(t0.Add(firstKeyframeWait + time.Second))
	time.Sleep(10 * time.Millisecond)
	if r, _ := failed.Load().(string); r == "" {
		t.Error("a publisher that never sends a keyframe was not failed")
	}
}

// The audio track's channel count is what the offer said of its Opus (opusChannels), also when
// the browser sends Opus though another negotiated codec came first; G.711 is mono.
func TestIngestOpusChannels(t *testing.T) {
	for _, c := range []struct {
		expect   media.Codec
		rate     int
		opusCh   int
		sends    media.Codec
		sendRate int
		want     int
	}{
		{media.Opus, 48000, 1, media.Opus, 48000, 1},
		{media.Opus, 48000, 2, media.Opus, 48000, 2},
		{media.PCMA, 8000, 1, media.Opus, 48000, 1},
		{media.PCMA, 8000, 2, media.Opus, 48000, 2},
		{media.Opus, 48000, 2, media.PCMU, 8000, 1},
	} {
		sink := &fakeSink{}
		var asks atomic.Int32
		g, _ := newTestIngest(sink, &asks)
		g.expect(media.Audio, c.expect, c.rate, c.opusCh)
		t0 := time.Unix(1000, 0)
		g.first(media.Audio, c.sends, c.sendRate, 2, 1000, t0)
		g.frame(media.Audio, opusFrame(1000), false, t0)
		if len(sink.tracks) != 1 || sink.tracks[0].Codec != c.sends || sink.tracks[0].Channels != c.want {
			t.Errorf("expected %s (Opus %d ch), sent %s: tracks %+v, want %d channels", c.expect, c.opusCh, c.sends, sink.tracks, c.want)
		}
	}
}
