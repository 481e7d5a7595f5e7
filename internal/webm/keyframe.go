package webm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxKeyframe bounds the block FirstVP8Keyframe reads: a keyframe of a recording is far smaller.
const maxKeyframe = 8 << 20

// idBlockGroup and idBlock: the other way than SimpleBlock to store a frame.
const (
	idBlockGroup = 0xA0
	idBlock      = 0xA1
)

// ErrNoVideo: the file has no VP8 video track FirstVP8Keyframe can read.
var ErrNoVideo = errors.New("webm: no VP8 video track")

// FirstVP8Keyframe returns the first VP8 keyframe of a WebM file (a recording starts at one):
// the frame as stored. It walks the Segment's children (Tracks, then Clusters and their blocks),
// never past limit bytes into the file nor more than maxProbeElements Segment children; the
// Tracks element is bounded by maxProbeHeader and the frame by maxKeyframe.
func FirstVP8Keyframe(r io.ReaderAt, size, limit int64) ([]byte, error) {
	ebml, err := elementAt(r, 0, size)
	if err != nil || ebml.id != idEBML {
		return nil, errors.New("webm: not an EBML file")
	}
	seg, err := elementAt(r, ebml.end, math.MaxInt64)
	if err != nil || seg.id != idSegment {
		return nil, errors.New("webm: no Segment")
	}
	end := min(size, limit)
	if !seg.unknownLen {
		end = min(end, seg.end)
	}
	track := uint64(0)
	for off, n := seg.data, 0; off < end && n < maxProbeElements*16; n++ {
		e, err := elementAt(r, off, size)
		if err != nil {
			break
		}
		switch {
		case e.id == idTracks && !e.unknownLen:
			if e.end-e.data > maxProbeHeader {
				return nil, errors.New("webm: Tracks too large")
			}
			body := make([]byte, e.end-e.data)
			if _, err := r.ReadAt(body, e.data); err != nil {
				return nil, fmt.Errorf("webm: read Tracks: %w", err)
			}
			if track = vp8Track(body); track == 0 {
				return nil, ErrNoVideo
			}
		case e.id == idCluster && track != 0:
			frame, err := clusterKeyframe(r, e, size, end, track)
			if frame != nil || err != nil {
				return frame, err
			}
		}
		if e.unknownLen {
			break // a live-style Cluster of unknown size: clusterKeyframe looked at it
		}
		off = e.end
	}
	if track == 0 {
		return nil, ErrNoVideo
	}
	return nil, errors.New("webm: no VP8 keyframe in the first clusters")
}

// vp8Track is the number of the first video track whose codec is V_VP8 (0: none).
func vp8Track(tracks []byte) uint64 {
	var found uint64
	each(tracks, func(id uint32, p []byte) {
		if id != idTrackEntry || found != 0 {
			return
		}
		var num, typ uint64
		var codec string
		each(p, func(id uint32, p []byte) {
			switch id {
			case idTrackNumber:
				num = uintValue(p)
			case idTrackType:
				typ = uintValue(p)
			case idCodecID:
				codec = string(bytes.TrimRight(p, "\x00"))
			}
		})
		if typ == 1 && codec == "V_VP8" {
			found = num
		}
	})
	return found
}

// clusterKeyframe looks through a Cluster's blocks (SimpleBlock, or Block in a BlockGroup) for
// the first frame of track that is a VP8 keyframe.
func clusterKeyframe(r io.ReaderAt, c element, size, limit int64, track uint64) ([]byte, error) {
	stop := limit
	if !c.unknownLen {
		stop = min(stop, c.end)
	}
	for pos := c.data; pos < stop; {
		e, err := elementAt(r, pos, size)
		if err != nil || e.unknownLen || e.id == idCluster {
			return nil, nil
		}
		if e.id == idBlockGroup {
			if frame, err := clusterKeyframe(r, e, size, limit, track); frame != nil || err != nil {
				return frame, err
			}
		}
		if e.id == idSimpleBlock || e.id == idBlock {
			if frame, err := blockFrame(r, e, track); frame != nil || err != nil {
				return frame, err
			}
		}
		pos = e.end
	}
	return nil, nil
}

// blockFrame reads a (Simple)Block when it is track's, unlaced and a VP8 keyframe (the first
// bit of a VP8 frame is 0 for a keyframe).
func blockFrame(r io.ReaderAt, b element, track uint64) ([]byte, error) {
	n := b.end - b.data
	if n < 8 {
		return nil, nil
	}
	var head [12]byte
	if _, err := r.ReadAt(head[:min(int64(len(head)), n)], b.data); err != nil && err != io.EOF {
		return nil, err
	}
	l := vintLen(head[:])
	if l == 0 || l > 8 {
		return nil, nil
	}
	num := uint64(head[0]) & (0xFF >> l)
	for _, c := range head[1:l] {
		num = num<<8 | uint64(c)
	}
	flags := head[l+2]
	if num != track || flags&0x06 != 0 {
		return nil, nil
	}
	at := int64(l + 3)
	if n-at > maxKeyframe || n-at < 3 {
		return nil, fmt.Errorf("webm: first VP8 block of %d bytes", n-at)
	}
	frame := make([]byte, n-at)
	if _, err := r.ReadAt(frame, b.data+at); err != nil {
		return nil, fmt.Errorf("webm: read the first VP8 block: %w", err)
	}
	if frame[0]&1 != 0 {
		return nil, nil // an interframe: keep looking
	}
	return frame, nil
}
