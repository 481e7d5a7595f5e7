package recorder

import (
	"fmt"
	"os"
	"time"

	"github.com/streamrec/streamrec/internal/audio"
	"github.com/streamrec/streamrec/internal/format"
	"github.com/streamrec/streamrec/internal/media"
)

// container is a recording file being written (an MP4 or WebM writer).
type container = format.Writer

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
	ext       string                                           // the container's name and file extension
	tracks    []media.Track                                    // the container's tracks
	index     []int                                            // stream track -> container track, -1 = not recorded
	kinds     []media.Kind                                     // kind of each stream track
	hasVideo  bool                                             // the recording has a video track
	audioIn   int                                              // stream index of the recorded audio track, -1 if none
	transcode *audio.Transcoder                                // nil: audio is copied
	create    func(*os.File, []media.Track) (container, error) // opens the container on a new file
}

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
	f, err := formatFor(o, video)
	if err != nil {
		return p, err
	}
	p.ext, p.create = f.Name, f.Create
	if video >= 0 {
		p.index[video] = len(p.tracks)
		p.tracks = append(p.tracks, o.Tracks[video])
		p.hasVideo = true
	}
	if aud >= 0 {
		out, err := p.audioTrack(o.Tracks[aud], f.Audio, o.Settings.SampleRate)
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

// formatFor picks the format from the video codec (record_formats); audio-only has its own.
func formatFor(o Options, video int) (format.Format, error) {
	if video < 0 {
		return format.AudioOnly(), nil
	}
	codec := o.Tracks[video].Codec
	formats := o.Settings.RecordFormats
	if len(formats) == 0 {
		formats = media.DefaultFormats()
	}
	name, ok := formats[media.FormatKey(codec)]
	if !ok {
		return format.Format{}, fmt.Errorf("video codec %s cannot be recorded: record_formats has no container for it", codec)
	}
	f, ok := format.ForExt(name)
	if !ok || f.Video != codec {
		return format.Format{}, fmt.Errorf("record_formats maps %s to %s, which cannot hold it", codec, name)
	}
	return f, nil
}

// audioTrack decides whether audio is copied or transcoded to want, the container's audio
// codec, and returns the container's audio track.
func (p *plan) audioTrack(in media.Track, want media.Codec, rate int) (media.Track, error) {
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
