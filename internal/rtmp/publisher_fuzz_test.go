package rtmp

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/stream"
)

// FuzzFLVTags feeds a publisher a series of FLV audio/video tag bodies and metadata: the video
// and audio headers, AVC decoder configurations, NAL lengths, AAC configs, enhanced-RTMP tags.
// The input is a list of [kind][2-byte length][body]: kind 0 video, 1 audio, 2 metadata (AMF0).
func FuzzFLVTags(f *testing.F) {
	tag := func(kind byte, body []byte) []byte {
		return append(binary.BigEndian.AppendUint16([]byte{kind}, uint16(len(body))), body...)
	}
	var seed []byte
	seed = append(seed, tag(0, avcSeqHeader())...)
	seed = append(seed, tag(1, append([]byte{0xaf, 0}, pipeASC...))...)
	seed = append(seed, tag(0, []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88})...)
	seed = append(seed, tag(1, []byte{0xaf, 1, 0x21, 0x10})...)
	f.Add(seed)
	f.Add(tag(0, []byte{0x90, 'h', 'v', 'c', '1'}))
	f.Add(tag(0, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x0d, 0xff, 0xe1, 0xff, 0xff}))
	_, reg := testServer(&testing.T{})
	n := 0
	f.Fuzz(func(t *testing.T, in []byte) {
		n++
		st, err := reg.Create(stream.Identity{Name: "fuzz" + strconv.Itoa(n), Provider: stream.ProviderRTMP})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Unpublish()
		p := newPublisher(st)
		fuzzmem.Check(t, func() {
			for ts := uint32(0); len(in) >= 3; ts += 20 {
				kind, size := in[0], int(binary.BigEndian.Uint16(in[1:3]))
				in = in[3:]
				n := min(size, len(in))
				buf := media.NewBuffer(n) // as the chunk reader hands payloads over
				body := buf.Bytes()
				copy(body, in[:n])
				in = in[n:]
				switch kind % 3 {
				case 0:
					err := p.video(ts, body, buf)
					buf.Release()
					if err != nil {
						return
					}
				case 1:
					p.audio(ts, body, buf)
					buf.Release()
				case 2:
					if vals, err := amf0.Decode(body); err == nil {
						p.metadata(vals)
					}
				}
			}
		})
	})
}
