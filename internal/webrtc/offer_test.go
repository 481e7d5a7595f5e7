package webrtc

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamrec/streamrec/internal/sdplimit"
)

// chromeOffer is what Chromium's createOffer gives for a camera and a microphone (the Web SDK
// sends it as is, without candidates).
func chromeOffer(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/chrome-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stripCodecs does what the Web SDK's util.stripCodecs does to an offer: it removes the
// rtpmap, fmtp and rtcp-fb lines of the named codecs and their payload types from the m= lines.
func stripCodecs(sdp, names string) string {
	lines := strings.Split(sdp, "\n")
	var pts []string
	for _, name := range strings.Split(names, ",") {
		re := regexp.MustCompile("(?i)" + name)
		for i, l := range lines {
			if strings.HasPrefix(l, "a=rtpmap") && re.MatchString(l) {
				pts = append(pts, regexp.MustCompile(`[0-9]+`).FindString(l))
				lines[i] = ""
			}
		}
	}
	for _, pt := range pts {
		for i, l := range lines {
			if strings.HasPrefix(l, "a=fmtp:"+pt+" ") || strings.HasPrefix(l, "a=rtcp-fb:"+pt+" ") {
				lines[i] = ""
			}
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "m=audio") || strings.HasPrefix(l, "m=video") {
			f := strings.Fields(l)
			out := f[:3]
			for _, x := range f[3:] {
				keep := true
				for _, pt := range pts {
					keep = keep && x != pt
				}
				if keep {
					out = append(out, x)
				}
			}
			lines[i] = strings.Join(out, " ") + "\r"
		}
	}
	var kept []string
	for _, l := range lines {
		if l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n") + "\n"
}

var bothFormats = map[string]string{"h264": "mp4", "vp8": "webm"}

func pts(s *section) []int {
	var out []int
	for _, p := range s.prefs {
		out = append(out, int(p.PayloadType))
	}
	return out
}

func TestOfferPrefersConstrainedBaselineH264(t *testing.T) {
	o, err := parseOffer(chromeOffer(t), bothFormats)
	if err != nil {
		t.Fatal(err)
	}
	// 108 = H264 42e01f mode 1, 102 = 42001f, 116 = 4d001f, 96 = VP8; each with its RTX.
	if got, want := pts(o.video), []int{108, 109, 102, 103, 116, 117, 96, 97}; !slices.Equal(got, want) {
		t.Errorf("video preferences %v, want %v", got, want)
	}
	if o.video.chosen.Name != "H264" || o.video.mid != "1" {
		t.Errorf("chosen %+v mid %q", o.video.chosen, o.video.mid)
	}
	if got, want := pts(o.audio), []int{111, 0, 8}; !slices.Equal(got, want) {
		t.Errorf("audio preferences %v, want %v", got, want)
	}
}

func TestOfferFollowsRecordFormats(t *testing.T) {
	o, err := parseOffer(chromeOffer(t), map[string]string{"vp8": "webm"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pts(o.video), []int{96, 97}; !slices.Equal(got, want) {
		t.Errorf("video preferences with record_formats=vp8-webm: %v, want %v", got, want)
	}
	o, err = parseOffer(stripCodecs(chromeOffer(t), "H264"), bothFormats)
	if err != nil {
		t.Fatal(err)
	}
	if o.video.chosen.Name != "VP8" {
		t.Errorf("stripCodecs H264: chosen %s, want VP8", o.video.chosen.Name)
	}
}

func TestOfferWithoutRecordableVideo(t *testing.T) {
	_, err := parseOffer(stripCodecs(chromeOffer(t), "H264,VP8"), bothFormats)
	if !errors.Is(err, ErrNoCommonCodec) || !strings.Contains(err.Error(), "VP9") || !strings.Contains(err.Error(), "AV1") {
		t.Errorf("VP9/AV1-only offer: %v, want No common codecs naming what was offered", err)
	}
	_, err = parseOffer(chromeOffer(t), map[string]string{"h265": "mp4"})
	if !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("record_formats without h264 and vp8: %v", err)
	}
	_, err = parseOffer(stripCodecs(chromeOffer(t), "opus,PCMU,PCMA"), bothFormats)
	if !errors.Is(err, ErrNoCommonCodec) || !strings.Contains(err.Error(), "G722") {
		t.Errorf("audio without Opus and G.711: %v", err)
	}
	if _, err := parseOffer("hello", bothFormats); err == nil || errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("malformed offer: %v", err)
	}
}

func TestOfferAudioOnly(t *testing.T) {
	offer := chromeOffer(t)
	offer = offer[:strings.Index(offer, "m=video")]
	o, err := parseOffer(offer, bothFormats)
	if err != nil {
		t.Fatal(err)
	}
	if o.video != nil || o.audio == nil || o.audio.chosen.Name != "opus" {
		t.Errorf("audio-only offer: %+v", o)
	}
}

// An offer over sdplimit's bounds is refused before its sections are looked at.
func TestOfferBounds(t *testing.T) {
	chrome := chromeOffer(t)
	formats := bothFormats
	if _, err := parseOffer(chrome, formats); err != nil {
		t.Fatalf("Chromium's offer: %v", err)
	}
	i := strings.Index(chrome, "m=")
	extra := strings.Repeat("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n", sdplimit.MaxMedias-1)
	for name, tc := range map[string]struct {
		sdp  string
		want error
	}{
		"MaxMedias+1 sections": {chrome + extra, sdplimit.ErrTooManyMedias}, // Chromium's two and MaxMedias-1 more
		"too large":            {chrome[:i] + "a=x:" + strings.Repeat("y", sdplimit.MaxBytes) + "\r\n" + chrome[i:], sdplimit.ErrTooLarge},
	} {
		if _, err := parseOffer(tc.sdp, formats); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// Chromium offers opus/48000/2 with neither sprop-stereo nor stereo: its microphone audio is
// mono, and is recorded as mono. The Web SDK's stereo option writes both into the fmtp.
func TestOfferOpusChannels(t *testing.T) {
	for _, c := range []struct {
		name, fmtp string
		want       int
	}{
		{"Chromium", "minptime=10;useinbandfec=1", 1},
		{"sprop-stereo", "minptime=10;useinbandfec=1;sprop-stereo=1", 2},
		{"Web SDK stereo", "minptime=10;stereo=1;sprop-stereo=1;useinbandfec=1", 2},
		{"stereo=0", "minptime=10;stereo=0;sprop-stereo=0", 1},
	} {
		offer := strings.Replace(chromeOffer(t), "a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111 "+c.fmtp, 1)
		o, err := parseOffer(offer, bothFormats)
		if err != nil {
			t.Fatal(err)
		}
		if got := opusChannels(o.audio.offered); got != c.want {
			t.Errorf("%s (%s): %d channels, want %d", c.name, c.fmtp, got, c.want)
		}
	}
}
