package media

import (
	"bytes"
	"encoding/binary"
)

// maxParamSets bounds the parameter sets taken from one access unit: H.264 allows 32 SPS and
// 256 PPS ids, a real encoder sends one of each. Hostile input gets no further.
const maxParamSets = 32

// InBandParams looks for SPS and PPS NAL units (types 7 and 8) in a keyframe in AVC layout
// (4-byte lengths). When they describe the track differently from t, it returns the updated
// track: the one to set as the keyframe's Params. It returns nil when the keyframe carries no
// parameter sets, the same ones, or ones that do not parse (the frame then goes on under the
// old description, as it did before).
func InBandParams(t Track, data []byte) *Track {
	var sps, pps [][]byte
	for rest := data; len(rest) >= 4; {
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if n == 0 || uint64(n) > uint64(len(rest)) {
			break // cut short: look no further
		}
		nal := rest[:n]
		rest = rest[n:]
		switch nal[0] & 0x1f {
		case 7:
			if len(sps) < maxParamSets {
				sps = append(sps, nal)
			}
		case 8:
			if len(pps) < maxParamSets {
				pps = append(pps, nal)
			}
		}
	}
	if len(sps) == 0 && len(pps) == 0 {
		return nil
	}
	if len(sps) == 0 {
		sps = t.SPS // a new PPS alone
	}
	if len(pps) == 0 {
		pps = t.PPS
	}
	return ChangedParams(t, sps, pps)
}

// ChangedParams returns t described by the given parameter sets when they differ from t's,
// nil when they are the same or the first SPS does not parse. The returned track owns copies.
func ChangedParams(t Track, sps, pps [][]byte) *Track {
	if len(sps) == 0 || len(pps) == 0 || (sameSets(t.SPS, sps) && sameSets(t.PPS, pps)) {
		return nil
	}
	s, err := ParseSPS(sps[0])
	if err != nil {
		return nil
	}
	t.SPS, t.PPS = copySets(sps), copySets(pps)
	t.Width, t.Height = int(s.Width), int(s.Height)
	return &t
}

// SameVideo tells whether two video tracks have the same description: what a decoder needs.
func SameVideo(a, b Track) bool {
	return a.Codec == b.Codec && a.Width == b.Width && a.Height == b.Height &&
		sameSets(a.SPS, b.SPS) && sameSets(a.PPS, b.PPS)
}

// sameSets compares parameter sets as a decoder reads them: trailing zero bytes (cabac_zero_words,
// padding some encoders leave after the RBSP stop bit in one copy and not in the other) do not
// count, so a sequence header and the same SPS sent in-band never cut a new file.
func sameSets(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(bytes.TrimRight(a[i], "\x00"), bytes.TrimRight(b[i], "\x00")) {
			return false
		}
	}
	return true
}

func copySets(s [][]byte) [][]byte {
	out := make([][]byte, len(s))
	for i, b := range s {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// KeyParams returns the track's new description when keyframe data (in the codec's layout)
// describes it differently from t: new in-band parameter sets for H.264, a new picture size
// for VP8. Else nil.
func KeyParams(t Track, data []byte) *Track {
	switch t.Codec {
	case H264:
		return InBandParams(t, data)
	case VP8:
		w, h, ok := VP8Size(data)
		if !ok || (w == t.Width && h == t.Height) {
			return nil
		}
		t.Width, t.Height = w, h
		return &t
	}
	return nil
}

// VP8Size reads the picture size of a VP8 keyframe (RFC 6386 section 9.1).
func VP8Size(f []byte) (w, h int, ok bool) {
	if len(f) < 10 || f[0]&0x01 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(f[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(f[8:]) & 0x3fff), true
}
