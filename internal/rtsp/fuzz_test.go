package rtsp

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/sdp"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/streamrec/streamrec/internal/fuzzmem"
	"github.com/streamrec/streamrec/internal/rtpfuzz"
	"github.com/streamrec/streamrec/internal/sdplimit"
)

// FuzzDepack feeds RTP packets built from the input to the H.264, VP8, AAC and LATM depacketizers:
// no panic, bounded memory, frames within what was received.
func FuzzDepack(f *testing.F) {
	sps, _ := hex.DecodeString("6742c015da0507ec05a8303035280000030008000003019478b175")
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	enc, err := h264.CreateEncoder()
	if err != nil {
		f.Fatal(err)
	}
	idr := append([]byte{0x65, 0x88, 0x84}, make([]byte, 600)...)
	pkts, err := enc.Encode([][]byte{sps, {0x68, 0xce, 0x3c, 0x80}, idr})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pkts {
		p.Payload = p.Payload[:min(len(p.Payload), 255)]
	}
	f.Add(rtpfuzz.Encode(pkts))
	f.Add([]byte{0x31, 0, 4, 0x00, 0x10, 0x0a, 0x08, 0x31, 10, 3, 0x90, 0x80, 0x00})
	f.Add([]byte{0x30, 0, 3, 0x7c, 0x85, 0x01, 0x31, 0, 3, 0x7c, 0x45, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := rtpfuzz.Packets(data)
		received := len(data)
		fuzzmem.Check(t, func() {
			hd, err := newH264(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
			if err != nil {
				t.Fatal(err)
			}
			vd, err := newVP8(&format.VP8{PayloadTyp: 96})
			if err != nil {
				t.Fatal(err)
			}
			ad, err := newAAC(&format.MPEG4Audio{PayloadTyp: 96, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
				Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}})
			if err != nil {
				t.Fatal(err)
			}
			ld, err := newLATM(&format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: &mpeg4audio.StreamMuxConfig{
				Programs: []*mpeg4audio.StreamMuxConfigProgram{{Layers: []*mpeg4audio.StreamMuxConfigLayer{{
					AudioSpecificConfig: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2}}}}}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []depacketizer{hd, vd, ad, ld} {
				for _, p := range in {
					frames, _ := d.decode(p.Packet, int64(p.Timestamp))
					for _, fr := range frames {
						if len(fr.Data) > received+8*len(in) { // AVC adds a 4-byte length per NAL unit
							t.Fatalf("a frame of %d bytes from %d bytes of input", len(fr.Data), received)
						}
					}
					d.track()
				}
			}
		})
	})
}

// FuzzAnnounce runs an ANNOUNCE's SDP through what the server does with it: gortsplib's parsing
// (as its server does before calling OnAnnounce), the sdplimit bounds, and the choice of media.
func FuzzAnnounce(f *testing.F) {
	head := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	f.Add([]byte(head + "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LAFdoFB+wFqDAwNSgAAAMACAAAAwGUeLF1,aM48gA==\r\na=control:trackID=0\r\n" +
		"m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\na=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=121056E500\r\na=control:trackID=1\r\n"))
	f.Add([]byte(head + "m=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Add([]byte(head + strings.Repeat("m=audio 0 RTP/AVP 0\r\n", 20)))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzmem.Check(t, func() {
			var ssd sdp.SessionDescription
			if ssd.Unmarshal(body) != nil {
				return
			}
			var desc description.Session
			if desc.Unmarshal(&ssd) != nil {
				return
			}
			if _, err := checkAnnounce(body, &desc); err != nil {
				if len(body) <= sdplimit.MaxBytes && len(desc.Medias) <= sdplimit.MaxMedias {
					t.Fatalf("refused within the bounds: %v", err)
				}
				return
			}
			if sel, err := selectMedias(desc.Medias); err == nil && len(sel.inputs) > 2 {
				t.Fatalf("%d inputs selected, at most one video and one audio", len(sel.inputs))
			}
		})
	})
}
