package whip

import (
	"strings"
	"testing"
)

// A fragment as @eyevinn/whip-web-client sends it (sdp-transform output): credentials, then one
// media section per mid, each with the candidate.
func TestParseFrag(t *testing.T) {
	body := "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
		"m=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 192.0.2.1 61665 typ host\r\n" +
		"m=audio 9 RTP/AVP 0\r\na=mid:1\r\na=candidate:1 1 udp 2122260223 192.0.2.1 61665 typ host\r\na=end-of-candidates\r\n"
	f, err := parseFrag(body)
	if err != nil {
		t.Fatal(err)
	}
	if f.ufrag != "EsAw" || f.pwd != "P2uYro0UCOQ4zxjKXaWCBui1" || len(f.candidates) != 2 ||
		f.candidates[0].Mid != "0" || f.candidates[1].Mid != "1" ||
		f.candidates[0].Line != "candidate:1 1 udp 2122260223 192.0.2.1 61665 typ host" {
		t.Errorf("%+v", f)
	}
	if _, err := parseFrag(strings.Repeat("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\n", maxCandidates+1)); err == nil {
		t.Errorf("%d candidates accepted", maxCandidates+1)
	}
}

func FuzzParseFrag(f *testing.F) {
	f.Add("a=ice-ufrag:x\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		fr, err := parseFrag(body)
		if err == nil && len(fr.candidates) > maxCandidates {
			t.Fatalf("%d candidates", len(fr.candidates))
		}
	})
}
