package webm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Bounds on what Probe reads of a file that may be cut (a killed recording), corrupt or hostile
// (a file copied into the records folder).
const (
	// maxProbeHeader bounds the Info and Tracks elements read, in all: they hold no media.
	// Probe never allocates more than the file holds either.
	maxProbeHeader = 4 << 20
	// maxProbeElements bounds the Segment children looked at before the first Cluster (one
	// small read each).
	maxProbeElements = 64
)

const idDateUTC = 0x4461

var epoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// Probe reads what a file of size bytes says of itself in its head (the EBML header, then the
// Segment's children up to the first Cluster): duration, creation time, and the first video
// and first audio track's codec and format. It never reads the media. Elements are read as far
// as they are well-formed; an error says why the head could not be read, with what was found.
func Probe(r io.ReaderAt, size int64) (media.FileInfo, error) {
	var info media.FileInfo
	// Element sizes are checked here against the file's length, for Info and Tracks only:
	// any other element past the end just ends the head.
	ebml, err := elementAt(r, 0, math.MaxInt64)
	if err != nil || ebml.id != idEBML {
		return info, errors.New("webm: not an EBML file")
	}
	seg, err := elementAt(r, ebml.end, math.MaxInt64)
	if err != nil || seg.id != idSegment {
		return info, errors.New("webm: no Segment")
	}
	timescale := uint64(1000000)
	var rawDur float64
	budget := int64(maxProbeHeader) // head bytes left to read
	for off, n := seg.data, 0; n < maxProbeElements; n++ {
		e, err := elementAt(r, off, math.MaxInt64)
		if err != nil || e.id == idCluster || e.unknownLen {
			break
		}
		if e.id == idInfo || e.id == idTracks {
			if e.end-e.data > budget {
				return info, errors.New("webm: header elements too large")
			}
			if e.end > size {
				return info, errors.New("webm: truncated header")
			}
			budget -= e.end - e.data
			body := make([]byte, e.end-e.data)
			if _, err := r.ReadAt(body, e.data); err != nil {
				return info, errors.New("webm: truncated header")
			}
			if e.id == idInfo {
				readInfo(body, &info, &timescale, &rawDur)
			} else {
				readTracks(body, &info)
			}
		}
		off = e.end
	}
	if d := rawDur * float64(timescale) / 1e9; d > 0 && !math.IsInf(d, 0) { // NaN is not > 0
		info.Duration = d
	}
	return info, nil
}

// each calls fn for each element in b (a master element's content) as far as they are whole.
func each(b []byte, fn func(id uint32, p []byte)) {
	_ = children(b, element{end: int64(len(b))}, func(e element) error {
		fn(e.id, b[e.data:e.end])
		return nil
	})
}

func readInfo(b []byte, info *media.FileInfo, timescale *uint64, rawDur *float64) {
	each(b, func(id uint32, p []byte) {
		switch id {
		case idTimecodeScale:
			if v := uintValue(p); v > 0 {
				*timescale = v
			}
		case idDuration:
			*rawDur = floatValue(p)
		case idDateUTC:
			if len(p) == 8 {
				info.Created = epoch.Add(time.Duration(int64(binary.BigEndian.Uint64(p))))
			}
		}
	})
}

func readTracks(b []byte, info *media.FileInfo) {
	each(b, func(id uint32, p []byte) {
		if id != idTrackEntry {
			return
		}
		var typ uint64
		t := &media.TrackInfo{}
		each(p, func(id uint32, p []byte) {
			switch id {
			case idTrackType:
				typ = uintValue(p)
			case idCodecID:
				t.Codec = codecName(string(bytes.TrimRight(p, "\x00")))
			case idVideo:
				each(p, func(id uint32, p []byte) {
					switch id {
					case idPixelWidth:
						t.Width = int(uintValue(p))
					case idPixelHeight:
						t.Height = int(uintValue(p))
					}
				})
			case idAudio:
				each(p, func(id uint32, p []byte) {
					switch id {
					case idSamplingFrequency:
						t.SampleRate = int(floatValue(p))
					case idChannels:
						t.Channels = int(uintValue(p))
					}
				})
			}
		})
		switch {
		case typ == 1 && info.Video == nil:
			info.Video = t
		case typ == 2 && info.Audio == nil:
			info.Audio = t
		}
	})
}

// codecName names a CodecID as the library shows it.
func codecName(id string) string {
	switch id {
	case "V_VP8":
		return "VP8"
	case "V_VP9":
		return "VP9"
	case "V_MPEG4/ISO/AVC":
		return "H264"
	case "A_VORBIS":
		return "vorbis"
	case "A_OPUS":
		return "opus"
	case "A_AAC":
		return "AAC"
	}
	return id
}
