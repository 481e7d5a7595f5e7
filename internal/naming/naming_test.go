package naming

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkName fails t unless name is a safe single file name within the Linux limit.
func checkName(t *testing.T, name string) {
	t.Helper()
	switch {
	case name == "":
		t.Errorf("empty name")
	case len(name) > MaxNameBytes:
		t.Errorf("name is %d bytes, over %d: %q", len(name), MaxNameBytes, name)
	case !utf8.ValidString(name):
		t.Errorf("name is not valid UTF-8: %q", name)
	case name == "." || name == "..":
		t.Errorf("name is %q", name)
	case strings.HasPrefix(name, "."):
		t.Errorf("name is hidden: %q", name)
	case strings.HasPrefix(name, "-"):
		t.Errorf("name starts with a dash (an option to commands): %q", name)
	case strings.ContainsFunc(name, hidden):
		t.Errorf("name contains a control or format character: %q", name)
	case strings.ContainsAny(name, "/\\\x00"):
		t.Errorf("name contains a separator or NUL: %q", name)
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			t.Errorf("name contains control character %U: %q", r, name)
		}
	}
}

var (
	start = time.Date(2024, 3, 5, 7, 8, 9, 123_000_000, time.UTC)
	end   = time.Date(2024, 3, 5, 7, 9, 10, 456_000_000, time.UTC)
	mskTZ = time.FixedZone("MSK", 3*3600)
)

func TestBaseElements(t *testing.T) {
	long := strings.Repeat("x", 300)
	cyr40 := strings.Repeat("ж", 40) // 2 bytes each
	emoji5 := strings.Repeat("😀", 5) // 4 bytes each
	tests := []struct {
		name     string
		template string
		v        Values
		want     string
	}{
		{"streamName", "{streamName}", Values{StreamName: "cam1"}, "cam1"},
		{"streamName no element limit, only the file limit", "{streamName}", Values{StreamName: long}, long[:255]},
		{"startTime", "{startTime}", Values{Start: start}, "2024-03-05T07-08-09Z"},
		{"startTime converted to UTC", "{startTime}", Values{Start: start.In(mskTZ)}, "2024-03-05T07-08-09Z"},
		{"startTime cut to 20 for a 5-digit year", "{startTime}",
			Values{Start: time.Date(12345, 1, 2, 3, 4, 5, 0, time.UTC)}, "12345-01-02T03-04-05"},
		{"endTime", "{endTime}", Values{End: end}, "2024-03-05T07-09-10Z"},
		{"endTime zero while recording", "a{endTime}b", Values{Start: start}, "ab"},
		{"startTimeMillis", "{startTimeMillis}", Values{Start: start}, "1709622489123"},
		{"endTimeMillis", "{endTimeMillis}", Values{End: end}, "1709622550456"},
		{"endTimeMillis zero", "a{endTimeMillis}b", Values{}, "ab"},
		{"sessionId url-safe base64", "{sessionId}", Values{SessionID: "\xfb\xff\xbf"}, "__-_"}, // a leading '-' becomes '_', as for any name
		{"sessionId base64 of text", "{sessionId}", Values{SessionID: "abc"}, "YWJj"},
		{"sessionId cut to 60", "{sessionId}", Values{SessionID: strings.Repeat("a", 100)},
			base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("a", 100)))[:60]},
		{"mediaSessionId", "{mediaSessionId}", Values{MediaSessionID: "5a072377-73c1-4caf-abd3-b3ae82d9f4e1"},
			"5a072377-73c1-4caf-abd3-b3ae82d9f4e1"},
		{"mediaSessionId cut to 36", "{mediaSessionId}", Values{MediaSessionID: strings.Repeat("m", 40)},
			strings.Repeat("m", 36)},
		{"login", "{login}", Values{Login: "alice"}, "alice"},
		{"login cut to 32", "{login}", Values{Login: strings.Repeat("l", 40)}, strings.Repeat("l", 32)},
		{"login cut to 32 characters, not bytes", "{login}", Values{Login: cyr40}, strings.Repeat("ж", 32)},
		{"audioCodec cut to 4", "{audioCodec}", Values{AudioCodec: "mpeg4-generic"}, "mpeg"},
		{"audioCodec", "{audioCodec}", Values{AudioCodec: "opus"}, "opus"},
		{"videoCodec", "{videoCodec}", Values{VideoCodec: "H264"}, "H264"},
		{"videoCodec cut to 4 four-byte characters", "{videoCodec}", Values{VideoCodec: emoji5}, strings.Repeat("😀", 4)},
		{"all together", "{streamName}_{startTime}_{endTime}_{audioCodec}_{videoCodec}",
			Values{StreamName: "s", Start: start, End: end, AudioCodec: "opus", VideoCodec: "VP8"},
			"s_2024-03-05T07-08-09Z_2024-03-05T07-09-10Z_opus_VP8"},
		{"unknown element stays literal", "a{foo}b", Values{}, "a{foo}b"},
		{"element names are case-sensitive", "{Login}", Values{Login: "alice"}, "{Login}"},
		{"extra brace kept", "{{login}}", Values{Login: "alice"}, "{alice}"},
		{"unmatched brace kept", "x{login", Values{Login: "alice"}, "x{login"},
		{"single pass: values are not expanded", "{streamName}", Values{StreamName: "{login}", Login: "alice"}, "{login}"},
		{"default template, no login (RTMP)", DefaultTemplate, Values{MediaSessionID: "id-1"}, "stream-id-1-"},
		{"default template with login", DefaultTemplate, Values{MediaSessionID: "id-1", Login: "bob"}, "stream-id-1-bob"},
		{"empty template means the default", "", Values{MediaSessionID: "id-2"}, "stream-id-2-"},
		{"template producing nothing", "{login}", Values{}, Fallback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Policy{Mode: ModeTemplate, Template: tc.template}.Base(tc.v)
			if got != tc.want {
				t.Errorf("Base = %q, want %q", got, tc.want)
			}
			checkName(t, got)
		})
	}
}

func TestBasePolicy(t *testing.T) {
	v := Values{StreamName: "stream_ffmpeg", MediaSessionID: "id-7", Login: "bob"}
	tests := []struct {
		name string
		p    Policy
		v    Values
		want string
	}{
		{"streamName policy", Policy{Mode: ModeStreamName, Template: DefaultTemplate}, v, "stream_ffmpeg"},
		{"streamName policy, any case", Policy{Mode: "STREAMNAME"}, v, "stream_ffmpeg"},
		{"template policy", Policy{Mode: ModeTemplate, Template: DefaultTemplate}, v, "stream-id-7-bob"},
		{"empty mode is template", Policy{}, v, "stream-id-7-bob"},
		{"streamName policy, empty stream name", Policy{Mode: ModeStreamName}, Values{}, Fallback},
		{"exclude default slash", Policy{Mode: ModeStreamName, Exclude: "/"}, Values{StreamName: "live/cam"}, "livecam"},
		{"exclude colon comma dot slash space", Policy{Mode: ModeStreamName, Exclude: ":., /"},
			Values{StreamName: "a:b.c, d/e f"}, "abcdef"},
		{"exclude non-ASCII", Policy{Mode: ModeStreamName, Exclude: "ж😀"},
			Values{StreamName: "aжb😀c"}, "abc"},
		{"exclude applies to element values", Policy{Template: "{startTime}", Exclude: "-"},
			Values{Start: start}, "20240305T070809Z"},
		{"exclude runs before HEX", Policy{Mode: ModeStreamName, Exclude: "/", Encode: EncodeHex},
			Values{StreamName: "a/b"}, hex.EncodeToString([]byte("ab"))},
		{"HEX is lowercase", Policy{Mode: ModeStreamName, Encode: "hex"},
			Values{StreamName: "\xff\xfe"}, "fffe"},
		{"BASE64 url-safe without padding", Policy{Mode: ModeStreamName, Encode: EncodeBase64},
			Values{StreamName: "\xfb\xff"}, "__8"}, // "-_8" but for its leading '-'
		{"unknown encoding means none", Policy{Mode: ModeStreamName, Encode: "ROT13"}, v, "stream_ffmpeg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Base(tc.v)
			if got != tc.want {
				t.Errorf("Base = %q, want %q", got, tc.want)
			}
			checkName(t, got)
		})
	}
}

func TestBaseEncodingDecodesBack(t *testing.T) {
	names := []string{
		"stream_ffmpeg",
		"live/cam 1",
		"../../etc/passwd",
		"Камера-1",
		"😀 emoji 🎥",
		"\x00\x01ctl\x7f",
		"\xff\xfeinvalid",
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			h := Policy{Mode: ModeStreamName, Encode: EncodeHex}.Base(Values{StreamName: n})
			checkName(t, h)
			if b, err := hex.DecodeString(h); err != nil || string(b) != n {
				t.Errorf("HEX %q decodes to %q, %v; want %q", h, b, err, n)
			}
			if h != strings.ToLower(h) {
				t.Errorf("HEX %q is not lowercase", h)
			}
			b64 := Policy{Mode: ModeStreamName, Encode: EncodeBase64}.Base(Values{StreamName: n})
			checkName(t, b64)
			if strings.ContainsAny(b64, "+/=") {
				t.Errorf("BASE64 %q uses a non-file-safe character", b64)
			}
			if b, err := base64.RawURLEncoding.DecodeString(b64); err != nil || string(b) != n {
				t.Errorf("BASE64 %q decodes to %q, %v; want %q", b64, b, err, n)
			}
			// Encoding covers the whole template output, not only the stream name.
			tp := Policy{Template: "{streamName}-{login}", Encode: EncodeBase64}.Base(Values{StreamName: n, Login: "u"})
			if b, err := base64.RawURLEncoding.DecodeString(tp); err != nil || string(b) != n+"-u" {
				t.Errorf("BASE64 template %q decodes to %q, %v; want %q", tp, b, err, n+"-u")
			}
		})
	}
}

func TestBaseSanitize(t *testing.T) {
	tests := []struct {
		stream string
		want   string
	}{
		{"live/cam", "livecam"},
		{`a\b`, "ab"},
		{".", "_"},
		{"..", "__"},
		{"...x", "___x"},
		{".hidden", "_hidden"},
		{"../../etc/passwd", "____etcpasswd"},
		{"a/../b", "a..b"},
		{"/", Fallback},
		{"", Fallback},
		{"my stream . mp4", "my stream . mp4"},
		{"a\x00b\nc\td\x7fe\u0085f", "abcdef"},
		{"a\xffb", "a_b"},
		{"Камера 1", "Камера 1"},
		{"😀🎥", "😀🎥"},
		{"\u202etxt.exe", "txt.exe"},
		{"a\u200bb\u2066c\u2069\ufeffd\u00ade", "abcde"},
		{"-rf", "_rf"},
		{"--help", "__help"},
		{"-.x", "__x"},
		{"a-b-", "a-b-"},
		{"\u202e-rf", "_rf"},
	}
	for _, tc := range tests {
		t.Run(tc.stream, func(t *testing.T) {
			// Exclude is empty: sanitizing must not depend on it.
			got := Policy{Mode: ModeStreamName}.Base(Values{StreamName: tc.stream})
			if got != tc.want {
				t.Errorf("Base(%q) = %q, want %q", tc.stream, got, tc.want)
			}
			checkName(t, got)
		})
	}
}

func TestHasTime(t *testing.T) {
	tests := []struct {
		template      string
		time, endTime bool
	}{
		{DefaultTemplate, false, false},
		{"{streamName}-{startTime}", true, false},
		{"{startTimeMillis}", true, false},
		{"{streamName}-{endTime}", true, true},
		{"{endTimeMillis}", true, true},
		{"{endtime}", false, false},
		{"endTime", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		if got := HasTime(tc.template); got != tc.time {
			t.Errorf("HasTime(%q) = %v, want %v", tc.template, got, tc.time)
		}
		if got := HasEndTime(tc.template); got != tc.endTime {
			t.Errorf("HasEndTime(%q) = %v, want %v", tc.template, got, tc.endTime)
		}
	}
}

func TestFileName(t *testing.T) {
	x300 := strings.Repeat("x", 300)
	tests := []struct {
		base string
		part int
		ext  string
		want string
	}{
		{"stream_ffmpeg", 0, "mp4", "stream_ffmpeg.mp4"},
		{"stream_ffmpeg", 1, "mp4", "stream_ffmpeg-1.mp4"},
		{"stream_ffmpeg", 2, ".webm", "stream_ffmpeg-2.webm"},
		{"stream_ffmpeg", -1, "mp4", "stream_ffmpeg.mp4"},
		{"stream_ffmpeg", 3, "", "stream_ffmpeg-3"},
		{"a/b", 0, "mp4", "ab.mp4"},
		{"..", 1, "mp4", "__-1.mp4"},
		{"", 0, "mp4", "stream.mp4"},
		{"s", 0, "m/p4", "s.mp4"},
		{x300, 0, "mp4", x300[:251] + ".mp4"},
		{x300, 12, "mp4", x300[:248] + "-12.mp4"},
		{x300, 123456, "webm", x300[:243] + "-123456.webm"},
	}
	for _, tc := range tests {
		got := FileName(tc.base, tc.part, tc.ext)
		if got != tc.want {
			t.Errorf("FileName(%.20q, %d, %q) = %q, want %q", tc.base, tc.part, tc.ext, got, tc.want)
		}
		checkName(t, got)
	}
}

// TestFileNameHostile runs the names from the brief through a whole policy and FileName.
func TestFileNameHostile(t *testing.T) {
	names := map[string]string{
		"300 chars":        strings.Repeat("n", 300),
		"slash":            "live/stream",
		"dotdot":           "..",
		"dot":              ".",
		"spaces and dots":  " my . stream . ",
		"traversal":        "../../etc/passwd",
		"cyrillic 300":     strings.Repeat("Ж", 300),
		"emoji 300":        strings.Repeat("😀", 300),
		"mixed odd offset": "a" + strings.Repeat("😀", 100),
		"invalid utf-8":    strings.Repeat("\xff", 300),
		"bidi override":    "\u202etxt.exe",
		"option":           "-rf",
		"NUL":              "a\x00b",
	}
	policies := []Policy{
		{Mode: ModeStreamName},
		{Mode: ModeStreamName, Exclude: "/"},
		{Mode: ModeStreamName, Exclude: ":., /"},
		{Template: "{streamName}-{startTime}-{login}"},
		{Mode: ModeStreamName, Encode: EncodeHex},
		{Mode: ModeStreamName, Encode: EncodeBase64},
	}
	for label, stream := range names {
		for _, p := range policies {
			base := p.Base(Values{StreamName: stream, Start: start, Login: "u"})
			checkName(t, base)
			for _, part := range []int{0, 1, 99, 1000000} {
				for _, ext := range []string{"mp4", "webm"} {
					name := FileName(base, part, ext)
					checkName(t, name)
					tail := "." + ext
					if part > 0 {
						tail = "-" + itoa(part) + tail
					}
					if !strings.HasSuffix(name, tail) {
						t.Errorf("%s %+v: %q lost its part number or extension %q", label, p, name, tail)
					}
					if stem := strings.TrimSuffix(name, tail); !strings.HasPrefix(base, stem) || stem == "" {
						t.Errorf("%s %+v: stem %q of %q is not a non-empty prefix of base %q", label, p, stem, name, base)
					}
				}
			}
		}
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestFileNameTruncatesOnRuneBoundary(t *testing.T) {
	// 1 ASCII byte then 4-byte runes: 255-len(".mp4") = 251 = 1 + 4*62 + 2, so a naive cut
	// would land 2 bytes into a rune.
	base := "a" + strings.Repeat("😀", 100)
	name := FileName(base, 0, "mp4")
	want := "a" + strings.Repeat("😀", 62) + ".mp4"
	if name != want {
		t.Errorf("got %d bytes %q, want %d bytes %q", len(name), name, len(want), want)
	}
	checkName(t, name)
}

func TestStreamName(t *testing.T) {
	for in, want := range map[string]string{
		"stream_ffmpeg":              "stream_ffmpeg",
		"Камера 1":                   "Камера 1",
		"a\x00b":                     "ab",
		"\u202etxt.exe":              "txt.exe",
		"a\u200b\u200e\u2066b\ufeff": "ab",
		"tab\there\r\n":              "tabhere",
		"\u0085c1":                   "c1",
		"a\xffb":                     "a_b",
		"-rf":                        "-rf", // a stream may be named so; file names and $1 change it
		"../x":                       "../x",
		"\x00\u202e":                 "",
	} {
		if got := StreamName(in); got != want {
			t.Errorf("StreamName(%q) = %q, want %q", in, got, want)
		}
	}
}
