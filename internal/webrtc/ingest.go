package webrtc

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	stage "github.com/streamrec/streamrec/internal/ingest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtp"
)

// Timing of the ingest.
const (
	// keyframeRetry is how often a keyframe is asked for again while one is awaited.
	keyframeRetry = time.Second
	// firstKeyframeWait is how long a video publisher may take to send its first decodable keyframe.
	firstKeyframeWait = 10 * time.Second
	// resyncThreshold: once aligned, audio moves against video only when sender reports
	// disagree with the current alignment by more than this (clock drift).
	resyncThreshold = 15 * time.Millisecond
	// maxEarlyAudio bounds the audio kept while the first video keyframe is awaited.
	maxEarlyAudio = 3 * time.Second
	// syncWait: at the start of a stream with audio and video, frames are held until the
	// sender reports of both tracks have aligned them (browsers send the first ones within
	// about 2 s), so the recording is in sync from its first frame; after this long without
	// them, arrival times align the tracks.
	syncWait = 4 * time.Second
)

// stageConfig is how the WebRTC ingest uses the ingest stage: aligned by sender reports as
// soon as both tracks sent one, and again on drift.
var stageConfig = stage.Config{Limits: stage.Limits{Media: maxEarlyAudio}, SyncWait: syncWait, Resync: resyncThreshold}

// ingest turns a publisher's reassembled frames into the stream's tracks and frames: it waits
// for the first keyframe (with H.264 parameter sets) before publishing, skips to the next
// keyframe after a loss and asks for one, and gives every frame a stream time from its RTP
// timestamp (each track anchored where its first packet arrived). The ingest stage aligns
// audio with video by the sender reports it is given (NTP time <-> RTP time of each track)
// and releases the frames of both tracks in timestamp order.
type ingest struct {
	stage    *stage.Stage
	log      *slog.Logger
	keyframe func()       // sends PLI (and FIR) to the browser
	fail     func(string) // ends the publication as FAILED
	every    time.Duration

	mu        sync.Mutex
	start     time.Time // stream time 0
	video     *trackIn  // nil: the publisher sends no video
	audio     *trackIn  // nil: no audio
	published bool
	flowing   atomic.Bool // published, readable without g.mu (the engine counts pending publishers)
	waitKey   bool        // video: drop frames until a keyframe
	asked     time.Time
	firstAsk  time.Time // when the first keyframe was first awaited with media flowing
	lastKey   time.Time
	failed    bool
	warned    map[string]bool

	// H.264 parameter sets from the SDP, for senders that never repeat them in-band.
	sdpSPS, sdpPPS []byte
}

// trackIn is one incoming track: its RTP clock and its mapping to stream time.
type trackIn struct {
	kind  media.Kind
	codec media.Codec
	rate  int64
	ssrc  uint32
	track media.Track
	// opusChannels is what the publisher's Opus carries, by its offer (1 or 2).
	opusChannels int

	seen     bool
	lastTS   uint32
	ext      int64 // extended RTP timestamp of the newest frame
	firstExt int64
	base     time.Duration // stream time of firstExt
}

func newIngest(st stage.Sink, log *slog.Logger, keyframe func(), fail func(string), every time.Duration) *ingest {
	return &ingest{stage: stage.New(st, log, stageConfig), log: log, keyframe: keyframe, fail: fail, every: every, warned: map[string]bool{}}
}

// expect declares a track the publisher sends (from the negotiated SDP), before any media.
// opusChannels is what its Opus carries (opusChannels of the offer), should the audio be, or
// turn out to be, Opus; any other audio codec here is mono.
func (g *ingest) expect(kind media.Kind, codec media.Codec, rate, opusChannels int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := &trackIn{kind: kind, codec: codec, rate: int64(rate), opusChannels: opusChannels}
	if kind == media.Video {
		g.video = t
	} else {
		g.audio = t
		t.track = media.Track{Kind: media.Audio, Codec: codec, SampleRate: rate, Channels: 1}
		if codec == media.Opus {
			t.track.Channels = opusChannels
		}
	}
}

// first notes the first packet of a track: its SSRC and the arrival time that anchors its
// clock until sender reports align it.
func (g *ingest) first(kind media.Kind, codec media.Codec, rate int, ssrc uint32, ts uint32, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.track(kind)
	if t == nil || t.seen {
		return
	}
	if codec != t.codec && !g.published && rate > 0 {
		// The browser sends another of the answered codecs than the first: take what it sends.
		g.log.Info("browser sends another negotiated codec", "kind", kind.String(), "codec", string(codec), "expected", string(t.codec))
		t.codec, t.rate = codec, int64(rate)
		if kind == media.Audio {
			t.track.Codec, t.track.SampleRate = codec, rate
			t.track.Channels = 1
			if codec == media.Opus {
				t.track.Channels = t.opusChannels
			}
		}
	}
	if g.start.IsZero() {
		g.start = at
	}
	t.ssrc, t.seen, t.lastTS = ssrc, true, ts
	t.ext = int64(ts)
	t.firstExt = t.ext
	t.base = at.Sub(g.start)
	if kind == media.Video && g.firstAsk.IsZero() {
		g.firstAsk = at
	}
}

func (g *ingest) track(kind media.Kind) *trackIn {
	if kind == media.Video {
		return g.video
	}
	return g.audio
}

// unwrap extends a 32-bit RTP timestamp near the track's newest one.
func (t *trackIn) unwrap(ts uint32) int64 {
	return t.ext + int64(int32(ts-t.lastTS))
}

// dts is the stream time of an extended RTP timestamp.
func (t *trackIn) dts(ext int64) time.Duration {
	return t.base + time.Duration((ext-t.firstExt)*int64(time.Second)/t.rate)
}

// senderReport takes an RTCP sender report of the stream with that SSRC: the stage learns the
// sender's wall clock at a stream time of the track.
func (g *ingest) senderReport(ssrc uint32, ntp uint64, ts uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range []*trackIn{g.video, g.audio} {
		if t != nil && t.seen && t.ssrc == ssrc {
			g.stage.Sync(t.kind, stage.NTP(ntp), t.dts(t.unwrap(ts)))
		}
	}
}

// frame takes a reassembled frame of a track; lost says frames were lost before it.
func (g *ingest) frame(kind media.Kind, f *rtp.Frame, lost bool, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.track(kind)
	if t == nil || !t.seen || g.failed {
		return
	}
	if kind == media.Video && lost && !g.waitKey {
		g.waitKey = true
		if g.published {
			g.log.Warn("video packets lost: skipping to the next keyframe")
		}
	}
	if f == nil {
		if kind == media.Video && g.waitKey {
			g.askKeyframe(now, false)
		}
		return
	}
	ext := t.unwrap(f.TS)
	if ext > t.ext {
		t.ext, t.lastTS = ext, f.TS
	}
	var params *media.Track
	if kind == media.Video {
		var ok bool
		if params, ok = g.videoFrame(t, f, now); !ok {
			return
		}
	} else if !g.published && g.video == nil {
		g.publish(now) // audio-only: the first frame is enough
	}
	dts := t.dts(ext)
	g.stage.Write(kind, media.Frame{DTS: dts, PTS: dts, Key: f.Key, Data: f.Data, Params: params}, now)
}

// videoFrame decides whether a video frame is usable, publishing the stream on the first
// keyframe; a keyframe changing the track's description returns the new one. Caller holds g.mu.
func (g *ingest) videoFrame(t *trackIn, f *rtp.Frame, now time.Time) (*media.Track, bool) {
	if f.Key && t.codec == media.H264 {
		if f.SPS == nil && g.sdpSPS != nil {
			f.SPS, f.PPS = g.sdpSPS, g.sdpPPS
		}
		if !g.published && (f.SPS == nil || f.PPS == nil) {
			g.warnOnce("noparams", "H.264 keyframe without SPS/PPS dropped: asking for another")
			g.askKeyframe(now, true)
			return nil, false
		}
	}
	if !f.Key {
		if g.waitKey || !g.published {
			g.askKeyframe(now, false)
			return nil, false
		}
		return nil, true
	}
	g.waitKey = false
	g.lastKey = now
	if g.published {
		// A resolution change: the stream's track and the recording follow from this keyframe on.
		params := media.KeyParams(t.track, f.Data)
		if params != nil {
			t.track = *params
		}
		return params, true
	}
	tr := media.Track{Kind: media.Video, Codec: t.codec}
	switch t.codec {
	case media.H264:
		tr.SPS, tr.PPS = [][]byte{f.SPS}, [][]byte{f.PPS}
		if sps, err := media.ParseSPS(f.SPS); err == nil {
			tr.Width, tr.Height = int(sps.Width), int(sps.Height)
		}
	case media.VP8:
		tr.Width, tr.Height, _ = media.VP8Size(f.Data)
	}
	t.track = tr
	g.publish(now)
	return nil, true
}

// publish sets the stream's tracks. Caller holds g.mu.
func (g *ingest) publish(now time.Time) {
	var tracks []media.Track
	for _, t := range []*trackIn{g.video, g.audio} {
		if t != nil {
			tracks = append(tracks, t.track)
		}
	}
	g.published = true
	g.flowing.Store(true)
	g.stage.Publish(tracks, now)
}

// askKeyframe asks the browser for a keyframe, at most every keyframeRetry unless now.
// Caller holds g.mu.
func (g *ingest) askKeyframe(now time.Time, urgent bool) {
	if g.keyframe == nil || (!urgent && now.Sub(g.asked) < keyframeRetry) {
		return
	}
	g.asked = now
	go g.keyframe()
}

// tick runs periodically: the stage releases frames that waited long enough; it repeats keyframe
// requests, asks for the periodic keyframe and gives up on a publisher that never sends a
// decodable keyframe.
func (g *ingest) tick(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed {
		return
	}
	g.stage.Tick(now)
	if g.video == nil {
		return
	}
	switch {
	case !g.published && !g.start.IsZero() && now.Sub(g.start) > firstKeyframeWait:
		g.failed = true
		reason := fmt.Sprintf("Failed by RTP activity: no decodable %s keyframe within %v", g.video.codec, firstKeyframeWait)
		go g.fail(reason)
	case g.waitKey || (!g.published && !g.firstAsk.IsZero()):
		g.askKeyframe(now, false)
	case g.published && g.every > 0 && now.Sub(g.lastKey) >= g.every && now.Sub(g.asked) >= g.every:
		g.askKeyframe(now, true)
	}
}

// media tells whether any RTP arrived.
func (g *ingest) media() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.start.IsZero()
}

// flush hands every frame waiting in the stage on: the publication is ending.
func (g *ingest) flush() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stage.Flush()
}

func (g *ingest) warnOnce(key, msg string) {
	if !g.warned[key] {
		g.warned[key] = true
		g.log.Warn(msg)
	}
}
