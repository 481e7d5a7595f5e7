package webrtc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/sdplimit"
)

// ErrNoCommonCodec is the SDK's ERROR_INFO.NO_COMMON_CODECS; the full reason says what was offered.
var ErrNoCommonCodec = errors.New("No common codecs")

// section is one m= line of the client's offer that carries media to us.
type section struct {
	mid     string
	kind    media.Kind
	offered []sdp.Codec               // every codec of the line, in the offer's order
	prefs   []pion.RTPCodecParameters // what we accept, best first, with their RTX codecs
	chosen  sdp.Codec                 // the codec the answer puts first: what the browser will send
	// H.264 parameter sets from sprop-parameter-sets, for senders that do not repeat them in-band.
	sps, pps [][]byte
}

// offer is what the server needs from a publisher's SDP offer.
type offer struct {
	video, audio *section
}

// parseOffer reads a publisher's offer and picks, per media line it sends, the codecs we can
// record: H.264 (packetization-mode 1, constrained baseline 42e01f first) and VP8 for video as far
// as record_formats maps them to a container, Opus (or G.711) for audio. An offer that sends a
// kind of media in codecs we cannot record is refused with ErrNoCommonCodec and what it offered.
// The offer's size and media sections are bounded (sdplimit) before anything else is done with it.
func parseOffer(raw string, formats map[string]string) (*offer, error) {
	if err := sdplimit.CheckSize(len(raw)); err != nil {
		return nil, fmt.Errorf("SDP offer refused: %w", err)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("malformed SDP offer: %w", err)
	}
	if err := sdplimit.CheckMedias(len(d.MediaDescriptions)); err != nil {
		return nil, fmt.Errorf("SDP offer refused: %w", err)
	}
	o := &offer{}
	for _, m := range d.MediaDescriptions {
		var kind media.Kind
		switch strings.ToLower(m.MediaName.Media) {
		case "video":
			kind = media.Video
		case "audio":
			kind = media.Audio
		default:
			continue // data channels and the like: not recorded
		}
		if m.MediaName.Port.Value == 0 || !sends(m) {
			continue
		}
		if (kind == media.Video && o.video != nil) || (kind == media.Audio && o.audio != nil) {
			continue // a second track of a kind is not recorded (the answer leaves it inactive)
		}
		mid, _ := m.Attribute("mid")
		s := &section{mid: mid, kind: kind, offered: codecsOf(m)}
		if kind == media.Video {
			s.prefs, s.chosen = videoPrefs(s.offered, formats)
			o.video = s
		} else {
			s.prefs, s.chosen = audioPrefs(s.offered)
			o.audio = s
		}
		if len(s.prefs) == 0 {
			return nil, noCommon(kind, s.offered, formats)
		}
		s.sps, s.pps = spropParameterSets(s.chosen.Fmtp)
	}
	if o.video == nil && o.audio == nil {
		return nil, errors.New("the offer sends no audio or video")
	}
	return o, nil
}

// sends tells whether the client sends media on an m= line (sendrecv, the default, or sendonly).
func sends(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		}
	}
	return true
}

// codecsOf lists the codecs of an m= line in its order.
func codecsOf(m *sdp.MediaDescription) []sdp.Codec {
	one := &sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{m}}
	all := one.GetCodecMap()
	var out []sdp.Codec
	for _, f := range m.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		if c, ok := all[uint8(pt)]; ok {
			c.PayloadType = uint8(pt)
			out = append(out, c)
		}
	}
	return out
}

// fmtpParams splits an fmtp line into lower-case keys and their values.
func fmtpParams(line string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k != "" {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}

// h264Rank orders H.264 profiles: constrained baseline (what every browser encodes in hardware
// and software alike) first; -1 refuses a codec (packetization-mode 0 sends one NAL unit per
// packet, which browsers only use for tiny frames; we record only mode 1).
func h264Rank(fmtp string) int {
	p := fmtpParams(fmtp)
	if p["packetization-mode"] != "1" {
		return -1
	}
	plid := strings.ToLower(p["profile-level-id"])
	if len(plid) != 6 {
		return -1
	}
	switch plid[:4] {
	case "42e0":
		return 0 // constrained baseline
	case "4200":
		return 1 // baseline
	case "4d00":
		return 2 // main
	case "6400", "640c":
		return 3 // high, constrained high
	}
	return -1
}

// videoPrefs returns the offered video codecs we take, best first, each followed by its RTX codec.
func videoPrefs(offered []sdp.Codec, formats map[string]string) ([]pion.RTPCodecParameters, sdp.Codec) {
	type cand struct {
		c    sdp.Codec
		rank int
	}
	var cands []cand
	for i, c := range offered {
		switch strings.ToLower(c.Name) {
		case "h264":
			if _, ok := formats["h264"]; ok {
				if r := h264Rank(c.Fmtp); r >= 0 {
					cands = append(cands, cand{c, r*100 + i})
				}
			}
		case "vp8":
			if _, ok := formats["vp8"]; ok {
				cands = append(cands, cand{c, 1000 + i})
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].rank < cands[j].rank })
	var out []pion.RTPCodecParameters
	for _, k := range cands {
		out = append(out, params("video", k.c))
		for _, r := range offered {
			if strings.EqualFold(r.Name, "rtx") && fmtpParams(r.Fmtp)["apt"] == strconv.Itoa(int(k.c.PayloadType)) {
				out = append(out, params("video", r))
			}
		}
	}
	if len(cands) == 0 {
		return nil, sdp.Codec{}
	}
	return out, cands[0].c
}

// audioPrefs returns the offered audio codecs we take: Opus, else G.711.
func audioPrefs(offered []sdp.Codec) ([]pion.RTPCodecParameters, sdp.Codec) {
	rank := map[string]int{"opus": 0, "pcmu": 1, "pcma": 2}
	var take []sdp.Codec
	for _, c := range offered {
		if _, ok := rank[strings.ToLower(c.Name)]; ok {
			take = append(take, c)
		}
	}
	sort.SliceStable(take, func(i, j int) bool {
		return rank[strings.ToLower(take[i].Name)] < rank[strings.ToLower(take[j].Name)]
	})
	var out []pion.RTPCodecParameters
	for _, c := range take {
		out = append(out, params("audio", c))
	}
	if len(take) == 0 {
		return nil, sdp.Codec{}
	}
	return out, take[0]
}

// params turns an offered codec into the preference pion matches against the offer.
func params(kind string, c sdp.Codec) pion.RTPCodecParameters {
	var channels uint16
	if n, err := strconv.ParseUint(c.EncodingParameters, 10, 16); err == nil {
		channels = uint16(n)
	}
	var fb []pion.RTCPFeedback
	for _, raw := range c.RTCPFeedback {
		t, p, _ := strings.Cut(raw, " ")
		fb = append(fb, pion.RTCPFeedback{Type: t, Parameter: p})
	}
	return pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: kind + "/" + c.Name, ClockRate: c.ClockRate, Channels: channels,
			SDPFmtpLine: c.Fmtp, RTCPFeedback: fb,
		},
		PayloadType: pion.PayloadType(c.PayloadType),
	}
}

// noCommon explains why a media line cannot be recorded.
func noCommon(kind media.Kind, offered []sdp.Codec, formats map[string]string) error {
	var names []string
	for _, c := range offered {
		n := c.Name
		if strings.EqualFold(n, "h264") {
			p := fmtpParams(c.Fmtp)
			n = fmt.Sprintf("H264 (profile %s, packetization-mode %s)", p["profile-level-id"], p["packetization-mode"])
		}
		switch strings.ToLower(c.Name) {
		case "rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event":
			continue
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	offeredText := strings.Join(names, ", ")
	if offeredText == "" {
		offeredText = "nothing"
	}
	if kind == media.Audio {
		return fmt.Errorf("%w: audio must be Opus, PCMU or PCMA to be recorded; the browser offered %s", ErrNoCommonCodec, offeredText)
	}
	var want []string
	for _, c := range []string{"h264", "vp8"} {
		if _, ok := formats[c]; ok {
			want = append(want, map[string]string{"h264": "H.264 (packetization-mode 1)", "vp8": "VP8"}[c])
		}
	}
	return fmt.Errorf("%w: video must be %s to be recorded (record_formats); the browser offered %s",
		ErrNoCommonCodec, strings.Join(want, " or "), offeredText)
}

// opusChannels is how many channels a publisher's Opus carries, by its offer. RFC 7587 has
// Opus always signalled as opus/48000/2; what the sender sends is in its fmtp: sprop-stereo=1
// says it may send stereo, and without it mono is to be assumed. stereo=1 (that it would
// receive stereo) is taken as stereo too: the answer's codecs are the offered ones with their
// fmtp, and a browser encodes stereo when the answer says stereo=1 (the WCS Web SDK writes
// both when asked for stereo). Chromium's offer carries neither (testdata/chrome-offer.sdp):
// its microphone audio is mono, and recording it as mono halves the AAC encoder's work. A
// stereo packet in a track taken as mono is decoded downmixed.
func opusChannels(offered []sdp.Codec) int {
	for _, c := range offered {
		if strings.EqualFold(c.Name, "opus") {
			p := fmtpParams(c.Fmtp)
			if p["sprop-stereo"] == "1" || p["stereo"] == "1" {
				return 2
			}
			return 1
		}
	}
	return 1
}

// spropParameterSets reads H.264 parameter sets given in the SDP (sprop-parameter-sets).
func spropParameterSets(fmtp string) (sps, pps [][]byte) {
	v := fmtpParams(fmtp)["sprop-parameter-sets"]
	for _, b64 := range strings.Split(v, ",") {
		nal, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || len(nal) == 0 {
			continue
		}
		switch h264.NALUType(nal[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = append(sps, nal)
		case h264.NALUTypePPS:
			pps = append(pps, nal)
		}
	}
	return sps, pps
}
