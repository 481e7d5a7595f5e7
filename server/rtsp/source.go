package rtsp

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/streamrec/streamrec/recorder/media"
	"github.com/streamrec/streamrec/server/stream"
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
	idx    int // index in the stream's tracks
	name   string

	last time.Duration // DTS of the last frame written
	seen bool
}

// selection is what an RTSP session's description offers that can be recorded.
type selection struct {
	inputs   []*input // video first, then audio
	skipped  []string // media left out, for the log ("audio G722")
	hasVideo bool
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
		for _, f := range m.Formats {
			dep, kind, err := depacketizerFor(f)
			if err != nil {
				return sel, fmt.Errorf("%s: %w", f.Codec(), err)
			}
			if dep != nil {
				in = &input{media: m, format: f, kind: kind, dep: dep, name: f.Codec()}
				break
			}
		}
		switch {
		case in == nil && m.Type == description.MediaTypeVideo:
			badVideo = append(badVideo, codecNames(m))
		case in == nil:
			sel.skipped = append(sel.skipped, string(m.Type)+" "+codecNames(m))
		case in.kind == media.Video && video == nil:
			video = in
		case in.kind == media.Audio && audio == nil:
			audio = in
		default:
			sel.skipped = append(sel.skipped, string(m.Type)+" "+codecNames(m)+" (one more)")
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
			in.idx = len(sel.inputs)
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
	case *format.G711:
		codec := media.PCMA
		if f.MULaw {
			codec = media.PCMU
		}
		return &packetDepack{rate: f.ClockRate(), t: media.Track{Kind: media.Audio, Codec: codec,
			SampleRate: f.SampleRate, Channels: max(f.ChannelCount, 1)}}, media.Audio, nil
	case *format.Opus:
		return &packetDepack{rate: f.ClockRate(), t: media.Track{Kind: media.Audio, Codec: media.Opus,
			SampleRate: 48000, Channels: max(f.ChannelCount, 1)}}, media.Audio, nil
	}
	return nil, 0, nil
}

func codecNames(m *description.Media) string {
	names := make([]string, 0, len(m.Formats))
	for _, f := range m.Formats {
		names = append(names, f.Codec())
	}
	if len(names) == 0 {
		return "(no format)"
	}
	return strings.Join(names, "/")
}

// packetTimer is what gortsplib's client and server session both offer to time packets.
type packetTimer interface {
	PacketPTS2(*description.Media, *rtp.Packet) (int64, bool)
}

// maxKeyframeWait bounds how long a session may send video without a decodable keyframe.
const maxKeyframeWait = 20 * time.Second

// source feeds one RTSP session's packets to a stream: depacketizes them into frames, holds
// video back until its first keyframe with parameter sets, then publishes the stream's tracks.
// Safe for concurrent use (gortsplib reads UDP media on several goroutines).
type source struct {
	st    *stream.Stream
	sel   selection
	timer packetTimer
	byM   map[*description.Media]*input

	mu        sync.Mutex
	published bool
	ready     chan struct{} // closed once published
	warned    map[string]bool
}

func newSource(st *stream.Stream, sel selection, timer packetTimer) *source {
	s := &source{st: st, sel: sel, timer: timer, byM: map[*description.Media]*input{},
		ready: make(chan struct{}), warned: map[string]bool{}}
	for _, in := range sel.inputs {
		s.byM[in.media] = in
	}
	return s
}

// onPacket handles one RTP packet of any media.
func (s *source) onPacket(m *description.Media, f format.Format, pkt *rtp.Packet) {
	in := s.byM[m]
	if in == nil || in.format != f {
		return
	}
	pts, ok := s.timer.PacketPTS2(m, pkt)
	if !ok {
		return // no time reference yet (video waits for a packet starting a keyframe)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	frames, err := in.dep.decode(pkt, pts)
	if err != nil {
		s.warnOnce("decode "+in.name, "RTP packets could not be depacketized; frames dropped", err)
	}
	for _, fr := range frames {
		if !s.published {
			if s.sel.hasVideo && in.kind != media.Video {
				continue // audio before the first video keyframe would start the file without picture
			}
			s.publish()
		}
		if in.seen && fr.DTS < in.last {
			s.warnOnce("backwards "+in.name, "timestamps went backwards; frames dropped", fmt.Errorf("%v after %v", fr.DTS, in.last))
			continue
		}
		in.last, in.seen = fr.DTS, true
		fr.Track = in.idx
		s.st.WriteFrame(fr)
	}
	if h, ok := in.dep.(*h264Depack); ok && h.changed {
		s.warnOnce("spschange", "H.264 parameters changed mid-stream; the recording keeps the first ones", nil)
	}
}

// publish moves the stream to PUBLISHING with every track described. Caller holds s.mu.
func (s *source) publish() {
	tracks := make([]media.Track, len(s.sel.inputs))
	for i, in := range s.sel.inputs {
		tracks[i] = in.dep.track()
	}
	s.published = true
	s.st.Publish(tracks)
	close(s.ready)
}

func (s *source) warnOnce(key, msg string, err error) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.st.Log().Warn(msg, "err", err)
}
