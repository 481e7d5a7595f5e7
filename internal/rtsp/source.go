package rtsp

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/streamrec/streamrec/internal/ingest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/stream"
)

// Refusal is an RTSP session whose media cannot be recorded (H.265, MJPEG, ...). Retrying does
// not help: the reason is shown as the stream's FAILED info and the camera's status.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// input is one RTSP media that is recorded: its format, depacketizer and stream track.
type input struct {
	media  *description.Media
	format format.Format
	kind   media.Kind
	dep    depacketizer
	name   string

	sr senderReport // the last RTCP sender report, to align the tracks
}

// selection is what an RTSP session's description offers that can be recorded.
type selection struct {
	inputs   []*input // video first, then audio
	skipped  []string // media left out, for the log ("audio G722")
	hasVideo bool
}

// warnSkipped says once, in the log and in the stream's info (dashboard, REST), which media of
// the session are left out: the publisher or camera itself is told nothing by RTSP.
func (s selection) warnSkipped(st *stream.Stream) {
	if len(s.skipped) == 0 {
		return
	}
	what := strings.Join(s.skipped, ", ")
	st.Log().Warn("media not recorded", "media", what)
	st.Note("not recorded: " + what)
}

// medias returns the medias to set up.
func (s selection) medias() []*description.Media {
	out := make([]*description.Media, len(s.inputs))
	for i, in := range s.inputs {
		out[i] = in.media
	}
	return out
}

// selectMedias picks one video (H.264 or VP8) and one audio (AAC, G.711, Opus) media. A session
// whose video is another codec is refused: recording its audio alone would not be what was asked.
func selectMedias(medias []*description.Media) (selection, error) {
	var sel selection
	var video, audio *input
	var badVideo []string
	for _, m := range medias {
		if m.IsBackChannel {
			continue
		}
		var in *input
		var why error // a known format that could not be set up
		for _, f := range m.Formats {
			dep, kind, err := depacketizerFor(f)
			if err != nil {
				why = err
				continue
			}
			if dep != nil {
				in = &input{media: m, format: f, kind: kind, dep: dep, name: codecName(f)}
				break
			}
		}
		what := codecNames(m)
		if why != nil {
			what += " (" + why.Error() + ")"
		}
		switch {
		case in == nil && m.Type == description.MediaTypeVideo:
			badVideo = append(badVideo, what)
		case in == nil:
			sel.skipped = append(sel.skipped, string(m.Type)+" "+what)
		case in.kind == media.Video && video == nil:
			video = in
		case in.kind == media.Audio && audio == nil:
			audio = in
		default:
			sel.skipped = append(sel.skipped, string(m.Type)+" "+codecNames(m)+" (one more)")
		}
	}
	if video != nil {
		for _, b := range badVideo {
			sel.skipped = append(sel.skipped, "video "+b)
		}
	}
	if video == nil && len(badVideo) > 0 {
		return sel, &Refusal{Reason: fmt.Sprintf("video codec %s cannot be recorded: streamrec records H.264 (to MP4) and VP8 (to WebM)",
			strings.Join(badVideo, ", "))}
	}
	if video == nil && audio == nil {
		what := "nothing"
		if len(sel.skipped) > 0 {
			what = strings.Join(sel.skipped, ", ")
		}
		return sel, &Refusal{Reason: "no track can be recorded: the stream offers " + what}
	}
	for _, in := range []*input{video, audio} {
		if in != nil {
			sel.inputs = append(sel.inputs, in)
		}
	}
	sel.hasVideo = video != nil
	return sel, nil
}

// depacketizerFor returns the depacketizer of a supported format, nil for the others.
func depacketizerFor(f format.Format) (depacketizer, media.Kind, error) {
	switch f := f.(type) {
	case *format.H264:
		d, err := newH264(f)
		return d, media.Video, err
	case *format.VP8:
		d, err := newVP8(f)
		return d, media.Video, err
	case *format.MPEG4Audio:
		d, err := newAAC(f)
		return d, media.Audio, err
	case *format.MPEG4AudioLATM:
		d, err := newLATM(f)
		return d, media.Audio, err
	case *format.G711:
		codec := media.PCMA
		if f.MULaw {
			codec = media.PCMU
		}
		return newPacketAudio(f.ClockRate(), media.Track{Kind: media.Audio, Codec: codec,
			SampleRate: f.SampleRate, Channels: max(f.ChannelCount, 1)}), media.Audio, nil
	case *format.Opus:
		return newPacketAudio(f.ClockRate(), media.Track{Kind: media.Audio, Codec: media.Opus,
			SampleRate: 48000, Channels: max(f.ChannelCount, 1)}), media.Audio, nil
	}
	return nil, 0, nil
}

func codecNames(m *description.Media) string {
	names := make([]string, 0, len(m.Formats))
	for _, f := range m.Formats {
		names = append(names, codecName(f))
	}
	if len(names) == 0 {
		return "(no format)"
	}
	return strings.Join(names, "/")
}

// codecName names a format's codec; for formats gortsplib does not know, the SDP's encoding name.
func codecName(f format.Format) string {
	if g, ok := f.(*format.Generic); ok {
		name, _, _ := strings.Cut(g.RTPMa, "/")
		if name == "" {
			return fmt.Sprintf("payload type %d", g.PayloadTyp)
		}
		return name
	}
	return f.Codec()
}

// packetTimer is what gortsplib's client and server session both offer to time packets:
// the RTP timestamp, unwrapped, with every track started where its first packet arrived.
type packetTimer interface {
	PacketPTS2(*description.Media, *rtp.Packet) (int64, bool)
}

const (
	// maxKeyframeWait bounds how long a session may send video without a decodable keyframe.
	maxKeyframeWait = 20 * time.Second
	// srWait is how long frames are held after the first keyframe for every track's first RTCP
	// sender report, which aligns the tracks exactly; without them, arrival times do.
	srWait = 1500 * time.Millisecond
	// maxPending bounds the frames held meanwhile.
	maxPending = 1000
)

// stageConfig: the tracks are aligned once, when the stage's output begins, by the sender
// reports that came by then; a correction beyond a few seconds means a broken clock, and
// arrival times are better then.
var stageConfig = ingest.Config{Limits: ingest.Limits{Frames: maxPending}, SyncWait: srWait, MaxOffset: 5 * time.Second, Timer: true}

// senderReport is the last RTCP sender report of a track: the sender's wall clock at an RTP time.
type senderReport struct {
	ssrc uint32
	ntp  time.Duration // since the NTP epoch (ingest.NTP)
	rtp  uint32
	ok   bool
}

// source feeds one RTSP session's packets to a stream: it depacketizes them into frames and
// writes them, with each track's sender reports, to the ingest stage, which holds them from the
// first video keyframe (with parameter sets), aligns and orders them, and publishes the tracks.
// Safe for concurrent use (gortsplib reads UDP media on several goroutines).
type source struct {
	st    *stream.Stream
	stage *ingest.Stage
	sel   selection
	timer packetTimer
	byM   map[*description.Media]*input

	// lastMedia is when the last RTP packet with a payload of a recorded media came (Unix
	// nanoseconds): what the media timeout watches. RTCP and keep-alives do not count, so a
	// sender that keeps its session alive but sends no picture is noticed.
	lastMedia atomic.Int64

	mu        sync.Mutex
	published bool
	ready     chan struct{} // closed once published
	warned    map[string]bool
}

func newSource(st *stream.Stream, sel selection, timer packetTimer) *source {
	s := &source{st: st, sel: sel, timer: timer, byM: map[*description.Media]*input{},
		ready: make(chan struct{}), warned: map[string]bool{}}
	if st != nil {
		s.stage = ingest.New(st, st.Log(), stageConfig)
	}
	for _, in := range sel.inputs {
		s.byM[in.media] = in
	}
	s.lastMedia.Store(time.Now().UnixNano())
	return s
}

// silentFor is how long no media has come (since newSource when none has).
func (s *source) silentFor() time.Duration {
	return time.Since(time.Unix(0, s.lastMedia.Load()))
}

// onRTCP keeps each track's last sender report. gortsplib's own NTP mapping ignores a report
// that comes before the first RTP packet of its SSRC, which is exactly the one ffmpeg sends.
func (s *source) onRTCP(m *description.Media, pkt rtcp.Packet) {
	sr, ok := pkt.(*rtcp.SenderReport)
	if !ok {
		return
	}
	in := s.byM[m]
	if in == nil {
		return
	}
	s.mu.Lock()
	in.sr = senderReport{ssrc: sr.SSRC, ntp: ingest.NTP(sr.NTPTime), rtp: sr.RTPTime, ok: true}
	s.mu.Unlock()
}

// onPacket handles one RTP packet of any media.
func (s *source) onPacket(m *description.Media, f format.Format, pkt *rtp.Packet) {
	in := s.byM[m]
	if in == nil || in.format != f {
		return
	}
	if len(pkt.Payload) > 0 {
		s.lastMedia.Store(time.Now().UnixNano())
	}
	pts, ok := s.timer.PacketPTS2(m, pkt)
	if !ok {
		return // no time reference yet (video waits for a packet starting a keyframe)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if in.sr.ok && in.sr.ssrc == pkt.SSRC {
		// PacketPTS2 put each track where its first packet arrived; the sender report says
		// which wall-clock instant this packet's time is.
		rate := in.format.ClockRate()
		ntp := in.sr.ntp + ticks(int64(int32(pkt.Timestamp-in.sr.rtp)), rate)
		s.stage.Sync(in.kind, ntp, ticks(pts, rate))
	}
	frames, err := in.dep.decode(pkt, pts)
	if err != nil {
		s.warnOnce("decode "+in.name, "RTP packets could not be depacketized; frames dropped", err)
	}
	for _, fr := range frames {
		if !s.published && (!s.sel.hasVideo || (in.kind == media.Video && fr.Key)) {
			s.publish(now)
		}
		s.stage.Write(in.kind, fr, now)
	}
}

// publish declares the tracks to the stage, which moves the stream to PUBLISHING with every
// track described when its output begins: after the tracks are aligned (srWait at most), as
// the held frames' in-band parameter sets left them. Caller holds s.mu.
func (s *source) publish(now time.Time) {
	tracks := make([]media.Track, len(s.sel.inputs))
	for i, in := range s.sel.inputs {
		tracks[i] = media.Track{Kind: in.kind}
	}
	s.published = true
	s.stage.PublishAtStart(tracks, func() []media.Track {
		for i, in := range s.sel.inputs {
			tracks[i] = in.dep.track()
		}
		close(s.ready)
		return tracks
	}, now)
}

// flush writes the frames still in the stage: the session is ending.
func (s *source) flush() {
	if s.stage != nil {
		s.mu.Lock() // the stage may describe the tracks now: the depacketizers are under s.mu
		s.stage.Flush()
		s.mu.Unlock()
	}
}

func (s *source) warnOnce(key, msg string, err error) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	if err == nil {
		s.st.Log().Warn(msg)
		return
	}
	s.st.Log().Warn(msg, "err", err)
}
