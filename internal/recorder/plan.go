package recorder

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/audio"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mp4"
	"github.com/streamrec/streamrec/internal/webm"
)

// container is what the MP4 and WebM writers have in common.
type container interface {
	WriteFrame(media.Frame) error
	Flush() error
	Close() error
	Size() int64
	Duration() time.Duration
}

// endCloser is a container that can end a file at a given time (see mp4.Writer.CloseAt): a part
// ended by a cut is closed at the cut, so its duration is exactly its span and the parts tile
// when joined. A container without it is closed with Close, and its last frames keep their
// natural durations.
type endCloser interface {
	CloseAt(end time.Duration) error
}

// closeAt finishes c so that it ends at end; end <= 0 means "where the media ends".
func closeAt(c container, end time.Duration) error {
	if ec, ok := c.(endCloser); ok && end > 0 {
		return ec.CloseAt(end)
	}
	return c.Close()
}

// plan is how a stream's tracks map onto a container: decided once, when recording starts.
type plan struct {
	ext       string                                           // "mp4" or "webm"
	tracks    []media.Track                                    // the container's tracks
	index     []int                                            // stream track -> container track, -1 = not recorded
	kinds     []media.Kind                                     // kind of each stream track
	hasVideo  bool                                             // the recording has a video track
	audioIn   int                                              // stream index of the recorded audio track, -1 if none
	transcode *audio.Transcoder                                // nil: audio is copied
	create    func(*os.File, []media.Track) (container, error) // opens the container on a new file
}

// formats maps a video codec to a container when the settings say nothing usable.
var defaultFormats = map[string]string{"h264": "mp4", "vp8": "webm"}

func newPlan(o Options) (plan, error) {
	p := plan{audioIn: -1, index: make([]int, len(o.Tracks)), kinds: make([]media.Kind, len(o.Tracks))}
	video, aud := -1, -1
	for i, t := range o.Tracks {
		p.index[i] = -1
		p.kinds[i] = t.Kind
		if t.Kind == media.Video && video < 0 {
			video = i
		} else if t.Kind == media.Audio && aud < 0 {
			aud = i
		}
	}
	if video < 0 && aud < 0 {
		return p, fmt.Errorf("nothing to record: the stream has no audio or video track")
	}
	ext, err := containerFor(o, video)
	if err != nil {
		return p, err
	}
	p.ext = ext
	p.create = func(f *os.File, t []media.Track) (container, error) { return mp4.Create(f, t) }
	if ext == "webm" {
		p.create = func(f *os.File, t []media.Track) (container, error) { return webm.Create(f, t) }
	}
	if video >= 0 {
		p.index[video] = len(p.tracks)
		p.tracks = append(p.tracks, o.Tracks[video])
		p.hasVideo = true
	}
	if aud >= 0 {
		out, err := p.audioTrack(o.Tracks[aud], o.Settings.SampleRate)
		if err != nil {
			p.close()
			return p, err
		}
		p.index[aud] = len(p.tracks)
		p.audioIn = aud
		p.tracks = append(p.tracks, out)
	}
	return p, nil
}

// containerFor picks the container from the video codec (record_formats); audio-only goes to MP4.
func containerFor(o Options, video int) (string, error) {
	if video < 0 {
		return "mp4", nil
	}
	codec := strings.ToLower(string(o.Tracks[video].Codec))
	formats := o.Settings.RecordFormats
	if len(formats) == 0 {
		formats = defaultFormats
	}
	ext, ok := formats[codec]
	if !ok {
		return "", fmt.Errorf("video codec %s cannot be recorded: record_formats has no container for it", o.Tracks[video].Codec)
	}
	want := map[string]media.Codec{"mp4": media.H264, "webm": media.VP8}[ext]
	if want != o.Tracks[video].Codec {
		return "", fmt.Errorf("record_formats maps %s to %s, which cannot hold it", o.Tracks[video].Codec, ext)
	}
	return ext, nil
}

// audioTrack decides whether audio is copied or transcoded and returns the container's audio track.
func (p *plan) audioTrack(in media.Track, rate int) (media.Track, error) {
	want := media.AAC
	if p.ext == "webm" {
		want = media.Vorbis
	}
	if in.Codec == want && in.SampleRate == rate {
		return in, nil
	}
	if !audio.Supported(in.Codec) {
		return media.Track{}, fmt.Errorf("audio codec %s cannot be recorded", in.Codec)
	}
	channels := min(max(in.Channels, 1), 2)
	t, err := audio.NewTranscoder(in, want, rate, channels)
	if err != nil {
		return media.Track{}, fmt.Errorf("audio %s to %s at %d Hz: %w", in.Codec, want, rate, err)
	}
	p.transcode = t
	return t.Track(), nil
}

func (p *plan) close() {
	if p.transcode != nil {
		p.transcode.Close()
		p.transcode = nil
	}
}
