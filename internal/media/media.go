// Package media is the one media model every ingest produces and the recorder consumes:
// a stream is a set of tracks, and each track carries timestamped access units.
// Protocol quirks (RTP, FLV tags, RTMP timestamps) end before data reaches this model.
package media

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Codec names a track's codec. The string values match what the WCS REST API reports.
type Codec string

const (
	H264   Codec = "H264"
	VP8    Codec = "VP8"
	AAC    Codec = "mpeg4-generic"
	Opus   Codec = "opus"
	Vorbis Codec = "vorbis"
	PCMA   Codec = "PCMA"
	PCMU   Codec = "PCMU"
	// Codecs only RTMP carries; recorded by transcoding to AAC.
	MP3        Codec = "MP3"
	Speex      Codec = "speex"
	Nellymoser Codec = "nellymoser"
)

// ErrFrameRefused is wrapped by every error with which a container writer refuses one frame
// and stays usable (a timestamp stepping back, a frame for no track, ...): the recording goes
// on without that frame. Any other write error ends the file.
var ErrFrameRefused = errors.New("frame refused")

// Kind says whether a track carries video or audio.
type Kind int

const (
	Video Kind = iota
	Audio
)

func (k Kind) String() string {
	if k == Video {
		return "video"
	}
	return "audio"
}

// Track describes one elementary stream of a published stream.
type Track struct {
	Kind  Kind
	Codec Codec

	// Video (H.264): parameter sets without start codes or length prefixes.
	SPS [][]byte
	PPS [][]byte
	// Width and Height in pixels, when known.
	Width, Height int

	// Audio.
	SampleRate int // Hz
	Channels   int
	// Config is the codec's decoder configuration: the AudioSpecificConfig for AAC.
	Config []byte
}

func (t Track) String() string {
	if t.Kind == Video {
		return fmt.Sprintf("video %s %dx%d", t.Codec, t.Width, t.Height)
	}
	return fmt.Sprintf("audio %s %d Hz %d ch", t.Codec, t.SampleRate, t.Channels)
}

// Frame is one access unit of one track.
//
// Data layout per codec:
//   - H264: the whole access unit as AVC samples: NAL units each preceded by a 4-byte
//     big-endian length (the MP4 layout, so remuxing never rewrites video).
//   - VP8: one whole frame.
//   - AAC: one raw AAC frame (no ADTS header), 1024 samples.
//   - Opus, PCMA, PCMU: one packet as carried in RTP.
//
// Timestamps are relative to the stream's own origin; only differences between them matter.
// Frames of one track arrive in decode order with non-decreasing DTS.
type Frame struct {
	Track int           // index into the stream's tracks
	DTS   time.Duration // decode time
	PTS   time.Duration // presentation time (PTS >= DTS; equal without B-frames)
	Key   bool          // a video keyframe (IDR); always true for audio
	Data  []byte
	// Buf, when set, is the pooled buffer Data lies in: a holder that keeps the frame beyond
	// the call that handed it over calls Retain, and Release when done (see Buffer).
	Buf *Buffer
	// Params, set on a video keyframe, is the track's new description from this frame on: the
	// publisher changed its parameter sets or frame size mid-stream (see InBandParams).
	// A recording cuts a new file at such a keyframe.
	Params *Track
}

// Name is the codec's short lower-case name as users write it: "h264", "vp8", "aac", "opus".
func (c Codec) Name() string {
	if c == AAC {
		return "aac"
	}
	return strings.ToLower(string(c))
}

// CodecNames lists the tracks' codec names, comma-separated: "h264,aac".
func CodecNames(tracks []Track) string {
	names := make([]string, len(tracks))
	for i, t := range tracks {
		names[i] = t.Codec.Name()
	}
	return strings.Join(names, ",")
}
