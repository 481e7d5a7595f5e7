package webrtc

import (
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// FuzzParseOffer: any SDP offer is parsed or refused with an error, within bounded memory.
func FuzzParseOffer(f *testing.F) {
	chrome := chromeOffer(f)
	f.Add(chrome)
	f.Add(stripCodecs(chrome, "H264"))
	f.Add(stripCodecs(chrome, "VP8,H264"))
	f.Add("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAH9oFB+wFqDAwNSgAAAMACAAAAwGUeLF1,aM48gA==\r\na=sendonly\r\na=mid:0\r\n")
	f.Fuzz(func(t *testing.T, sdp string) {
		fuzzmem.Check(t, func() {
			o, err := parseOffer(sdp, bothFormats)
			if err == nil && o.video == nil && o.audio == nil {
				t.Fatal("an offer accepted with nothing to record")
			}
		})
	})
}
