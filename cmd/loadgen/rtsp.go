package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// rtspSource publishes the H.264 + AAC of an FLV file with RTSP ANNOUNCE/RECORD over TCP.
type rtspSource struct {
	file     *flvFile
	sps, pps []byte
	nalLen   int
	asc      *mpeg4audio.AudioSpecificConfig
}

func newRTSPSource(f *flvFile) (*rtspSource, error) {
	r := &rtspSource{file: f}
	for _, h := range f.headers {
		switch {
		case h.typ == flvVideo && len(h.body) > 10 && h.body[0]&0x0f == 7:
			rec := h.body[5:]
			r.nalLen = int(rec[4]&3) + 1
			p := 5
			if rec[p]&0x1f < 1 || p+3 > len(rec) {
				return nil, errors.New("avcC without SPS")
			}
			n := int(binary.BigEndian.Uint16(rec[p+1:]))
			if p+3+n+3 > len(rec) {
				return nil, errors.New("truncated avcC")
			}
			r.sps = rec[p+3 : p+3+n]
			p += 3 + n
			if rec[p] < 1 {
				return nil, errors.New("avcC without PPS")
			}
			m := int(binary.BigEndian.Uint16(rec[p+1:]))
			if p+3+m > len(rec) {
				return nil, errors.New("truncated avcC")
			}
			r.pps = rec[p+3 : p+3+m]
		case h.typ == flvAudio && h.body[0]>>4 == 10:
			var asc mpeg4audio.AudioSpecificConfig
			if err := asc.Unmarshal(h.body[2:]); err != nil {
				return nil, fmt.Errorf("AAC config: %w", err)
			}
			r.asc = &asc
		}
	}
	if r.sps == nil {
		return nil, errors.New("the FLV file has no H.264 sequence header")
	}
	return r, nil
}

// nalus splits an AVC frame into NAL units.
func (r *rtspSource) nalus(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < r.nalLen {
			return nil, errors.New("truncated NAL length")
		}
		n := 0
		for _, c := range b[:r.nalLen] {
			n = n<<8 | int(c)
		}
		b = b[r.nalLen:]
		if n > len(b) {
			return nil, errors.New("NAL unit longer than the frame")
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out, nil
}

func (r *rtspSource) publish(ctx context.Context, release <-chan struct{}, base, name string, st *streamStats) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	if err := loopbackOnly(u.Host); err != nil {
		return err
	}
	video := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: r.sps, PPS: r.pps}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{video}}}}
	var audio *format.MPEG4Audio
	if r.asc != nil {
		audio = &format.MPEG4Audio{PayloadTyp: 97, Config: r.asc, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
		desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{audio}})
	}
	tcp := gortsplib.TransportTCP
	c := gortsplib.Client{Transport: &tcp}
	if err := c.StartRecording(strings.TrimRight(base, "/")+"/"+name, desc); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	defer c.Close()
	venc, err := video.CreateEncoder()
	if err != nil {
		return err
	}
	var aenc *rtpmpeg4audio.Encoder
	rate := time.Duration(44100)
	if audio != nil {
		if aenc, err = audio.CreateEncoder(); err != nil {
			return err
		}
		rate = time.Duration(r.asc.SampleRate)
	}

	start := time.Now()
	st.start(start)
	defer st.end()
	for loop := 0; ; loop++ {
		off := time.Duration(loop) * r.file.period
		for _, t := range r.file.frames {
			at := off + time.Duration(t.ts)*time.Millisecond
			if err := st.wait(ctx, start, at); err != nil {
				st.end()
				<-release
				return nil // Close sends TEARDOWN: the server finishes the recording
			}
			switch {
			case t.typ == flvVideo && len(t.body) > 5:
				nalus, err := r.nalus(t.body[5:])
				if err != nil {
					continue
				}
				cts := int32(uint32(t.body[2])<<16|uint32(t.body[3])<<8|uint32(t.body[4])) << 8 >> 8
				pts := uint32((at + time.Duration(cts)*time.Millisecond) * 90000 / time.Second)
				pkts, err := venc.Encode(nalus)
				if err != nil {
					return err
				}
				for _, p := range pkts {
					p.Timestamp += pts
					if err := c.WritePacketRTP(desc.Medias[0], p); err != nil {
						return fmt.Errorf("send: %w", err)
					}
				}
			case t.typ == flvAudio && aenc != nil && len(t.body) > 2:
				pkts, err := aenc.Encode([][]byte{t.body[2:]})
				if err != nil {
					return err
				}
				for _, p := range pkts {
					p.Timestamp += uint32(at * rate / time.Second)
					if err := c.WritePacketRTP(desc.Medias[1], p); err != nil {
						return fmt.Errorf("send: %w", err)
					}
				}
			default:
				continue
			}
			st.sent(t.typ == flvVideo, t.key(), len(t.body))
		}
	}
}
