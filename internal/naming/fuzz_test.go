package naming

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func FuzzBase(f *testing.F) {
	f.Add("template", DefaultTemplate, "", "/", "stream_ffmpeg", "5a072377-73c1", "", "sid", int64(1709622489123))
	f.Add("streamName", "", "HEX", ":., /", "../../etc/passwd", "", "", "", int64(0))
	f.Add("streamName", "", "BASE64", "", strings.Repeat("😀", 80), "", "", "", int64(-1))
	f.Add("template", "{{streamName}{startTime}{endTime}{login}", "", "", ".", "m", "Ж", "\xff", int64(253402300800000))
	f.Add("template", "..{login}", "", "", "", "", "", "", int64(0))
	f.Fuzz(func(t *testing.T, mode, template, encode, exclude, stream, msid, login, sid string, ms int64) {
		p := Policy{Mode: Mode(mode), Template: template, Encode: Encoding(encode), Exclude: exclude}
		tm := time.UnixMilli(ms)
		v := Values{StreamName: stream, SessionID: sid, MediaSessionID: msid, Login: login,
			AudioCodec: login, VideoCodec: msid, Start: tm, End: tm}
		base := p.Base(v)
		checkName(t, base)
		if p.Base(v) != base {
			t.Errorf("Base is not deterministic")
		}
		name := FileName(base, 3, "mp4")
		checkName(t, name)
		if !strings.HasSuffix(name, "-3.mp4") {
			t.Errorf("%q lost its part number or extension", name)
		}
	})
}

func FuzzFileName(f *testing.F) {
	f.Add("stream_ffmpeg", 1, "mp4")
	f.Add("..", 0, ".webm")
	f.Add(strings.Repeat("😀", 100), 123456789, "mp4")
	f.Add("a\x00/\\\xff", -5, "m/p\x004")
	f.Add("", 0, "")
	f.Add("x", 1, strings.Repeat("e", 300))
	f.Fuzz(func(t *testing.T, base string, part int, ext string) {
		name := FileName(base, part, ext)
		checkName(t, name)
		if FileName(name, 0, "") != name {
			t.Errorf("FileName is not stable on its own output %q", name)
		}
		tl := tail(part, ext)
		if len(tl) > MaxNameBytes-1 {
			return // absurd extension: only the limits above hold
		}
		if !strings.HasSuffix(name, tl) {
			t.Fatalf("%q lost its tail %q", name, tl)
		}
		if part > 0 && !strings.HasPrefix(tl, "-"+strconv.Itoa(part)) {
			t.Errorf("tail %q lacks part %d", tl, part)
		}
		if stem := strings.TrimSuffix(name, tl); stem != "_" && !strings.HasPrefix(sanitize(base), stem) {
			t.Errorf("stem %q is not a prefix of the sanitized base %q", stem, sanitize(base))
		}
	})
}
