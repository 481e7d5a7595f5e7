package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// FLV tag types.
const (
	flvAudio  = 8
	flvVideo  = 9
	flvScript = 18
)

// flvTag is one tag of an FLV file: the body is exactly an RTMP message payload.
type flvTag struct {
	typ  byte
	ts   uint32 // ms
	body []byte
}

// media reports whether the tag is an audio or video frame (not a sequence header).
func (t flvTag) media() bool {
	switch t.typ {
	case flvVideo:
		return len(t.body) > 1 && t.body[1] == 1
	case flvAudio:
		return len(t.body) > 1 && (t.body[0]>>4 != 10 || t.body[1] == 1)
	}
	return false
}

func (t flvTag) key() bool { return t.typ == flvVideo && t.body[0]>>4 == 1 && t.media() }

// flvFile is an FLV file read once into memory, split into its configuration (metadata and
// sequence headers, sent once at the start) and its frames (sent in a loop).
type flvFile struct {
	meta    []byte   // onMetaData script body, nil when absent
	headers []flvTag // sequence headers
	frames  []flvTag
	period  time.Duration // loop length: the frames' span plus one video frame
	video   int           // video frames per loop
	audio   int           // audio frames per loop
	bytes   int           // payload bytes per loop
}

func readFLV(path string) (*flvFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, fmt.Errorf("%s: not an FLV file", path)
	}
	off := int(binary.BigEndian.Uint32(b[5:9])) + 4
	f := &flvFile{}
	hasVideo := b[4]&1 != 0
	var lastVideo, prevVideo uint32
	for off+11 <= len(b) {
		typ := b[off] & 0x1f
		size := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		ts := uint32(b[off+4])<<16 | uint32(b[off+5])<<8 | uint32(b[off+6]) | uint32(b[off+7])<<24
		if off+11+size > len(b) {
			break // truncated last tag
		}
		t := flvTag{typ: typ, ts: ts, body: b[off+11 : off+11+size]}
		off += 11 + size + 4
		switch {
		case typ == flvScript:
			if f.meta == nil {
				f.meta = t.body
			}
		case typ != flvAudio && typ != flvVideo:
		case !t.media():
			f.headers = append(f.headers, t)
		case len(f.frames) == 0 && hasVideo && !t.key():
			// Start at the first keyframe: a recording cannot begin before it, so frames
			// sent ahead of it would count as lost.
		default:
			f.frames = append(f.frames, t)
			f.bytes += len(t.body)
			if typ == flvVideo {
				f.video++
				prevVideo, lastVideo = lastVideo, ts
			} else {
				f.audio++
			}
		}
	}
	if len(f.frames) == 0 {
		return nil, fmt.Errorf("%s: no audio or video frames", path)
	}
	first := f.frames[0].ts
	for i := range f.frames {
		f.frames[i].ts -= first
	}
	span := time.Duration(f.frames[len(f.frames)-1].ts) * time.Millisecond
	step := time.Duration(lastVideo-prevVideo) * time.Millisecond
	if step <= 0 {
		step = 33 * time.Millisecond
	}
	f.period = span + step
	return f, nil
}
