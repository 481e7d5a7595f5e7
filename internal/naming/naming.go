package naming

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxNameBytes is the longest file name Linux file systems accept, in bytes.
	MaxNameBytes = 255
	// DefaultTemplate is the template used when Policy.Template is empty.
	DefaultTemplate = "stream-{mediaSessionId}-{login}"
	// Fallback is the base used when a policy produces an empty name.
	Fallback = "stream"
	// TimeLayout is the layout of {startTime} and {endTime}: UTC, 20 characters, no colons.
	TimeLayout = "2006-01-02T15-04-05Z"
)

// Mode is how a recording is named (stream_record_policy), spelled as the settings spell it.
type Mode string

const (
	ModeTemplate   Mode = "template"   // the template with its elements replaced
	ModeStreamName Mode = "streamName" // the stream's name
)

// Encoding is how a name is encoded (encode_record_name), spelled as the settings spell it.
type Encoding string

const (
	EncodeNone   Encoding = ""
	EncodeHex    Encoding = "HEX"
	EncodeBase64 Encoding = "BASE64"
)

// Policy is the naming part of the settings.
type Policy struct {
	Mode     Mode
	Template string // e.g. "stream-{mediaSessionId}-{login}"
	Encode   Encoding
	Exclude  string // characters deleted from the name, e.g. "/" or ":., /"
}

// byStreamName tells whether the policy names by the stream name rather than a template.
func (p Policy) byStreamName() bool { return strings.EqualFold(string(p.Mode), string(ModeStreamName)) }

// template is the template the policy expands, "" when it names by the stream name.
func (p Policy) template() string {
	switch {
	case p.byStreamName():
		return ""
	case p.Template == "":
		return DefaultTemplate
	}
	return p.Template
}

// HasTime reports whether the policy's names carry a time element (see [HasTime]).
func (p Policy) HasTime() bool { return HasTime(p.template()) }

// HasEndTime reports whether the policy's names carry the end time (see [HasEndTime]).
func (p Policy) HasEndTime() bool { return HasEndTime(p.template()) }

// Values are what a template element can refer to. Empty strings are fine (an RTMP publisher
// has no login).
type Values struct {
	StreamName, SessionID, MediaSessionID, Login, AudioCodec, VideoCodec string
	Start, End                                                           time.Time // End zero while recording
}

// Base returns the name the policy produces for v, before the part number and extension.
// The result is always a safe, non-empty, valid UTF-8 single file name of at most
// MaxNameBytes bytes (see the package documentation for the steps).
func (p Policy) Base(v Values) string {
	name := v.StreamName
	if !p.byStreamName() {
		name = expand(p.template(), v)
	}
	name = exclude(name, p.Exclude)
	switch {
	case strings.EqualFold(string(p.Encode), string(EncodeHex)):
		name = hex.EncodeToString([]byte(name))
	case strings.EqualFold(string(p.Encode), string(EncodeBase64)):
		name = base64.RawURLEncoding.EncodeToString([]byte(name))
	}
	return truncBytes(sanitize(name), MaxNameBytes)
}

// element is one template element: {name}, its value for v, cut to max characters (0 = no limit).
type element struct {
	name  string
	max   int
	value func(v Values) string
}

// elements are the template elements, in the order the settings list them.
var elements = []element{
	{"streamName", 0, func(v Values) string { return v.StreamName }},
	{"startTime", 20, func(v Values) string { return layoutTime(v.Start) }},
	{"endTime", 20, func(v Values) string { return layoutTime(v.End) }},
	{"startTimeMillis", 20, func(v Values) string { return millis(v.Start) }},
	{"endTimeMillis", 20, func(v Values) string { return millis(v.End) }},
	{"sessionId", 60, func(v Values) string {
		return base64.RawURLEncoding.EncodeToString([]byte(v.SessionID))
	}},
	{"mediaSessionId", 36, func(v Values) string { return v.MediaSessionID }},
	{"login", 32, func(v Values) string { return v.Login }},
	{"audioCodec", 4, func(v Values) string { return v.AudioCodec }},
	{"videoCodec", 4, func(v Values) string { return v.VideoCodec }},
}

// Elements lists the names of the template elements, without braces, in the settings' order.
func Elements() []string {
	names := make([]string, len(elements))
	for i, e := range elements {
		names[i] = e.name
	}
	return names
}

func lookup(name string) (element, bool) {
	for _, e := range elements {
		if e.name == name {
			return e, true
		}
	}
	return element{}, false
}

func layoutTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

func millis(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// expand replaces the known elements of tmpl in one pass; anything else stays literal.
func expand(tmpl string, v Values) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		rest := tmpl[i+1:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			b.WriteString(tmpl[i:])
			return b.String()
		}
		if e, ok := lookup(rest[:j]); ok {
			val := e.value(v)
			if e.max > 0 {
				val = truncRunes(val, e.max)
			}
			b.WriteString(val)
			tmpl = rest[j+1:]
			continue
		}
		// Not an element: keep the '{' and look for an element starting after it,
		// so "{{login}" keeps one brace and still expands {login}.
		b.WriteByte('{')
		tmpl = rest
	}
}

// HasEndTime reports whether template uses {endTime} or {endTimeMillis}: the name is then
// only known when the recording ends, and the recorder renames the file at finish.
func HasEndTime(template string) bool {
	return strings.Contains(template, "{endTime}") || strings.Contains(template, "{endTimeMillis}")
}

// HasTime reports whether template uses any time element ({startTime}, {endTime},
// {startTimeMillis}, {endTimeMillis}). Rotated parts still always get their part number.
func HasTime(template string) bool {
	return HasEndTime(template) ||
		strings.Contains(template, "{startTime}") || strings.Contains(template, "{startTimeMillis}")
}

// FileName returns the final file name base[-part].ext: part <= 0 means no number, ext may
// be given with or without its dot and "" means none. base is sanitized like a policy output,
// then shortened so the whole name is at most MaxNameBytes bytes; the part number and the
// extension are kept whole.
func FileName(base string, part int, ext string) string {
	return join(sanitize(base), tail(part, ext))
}

// tail is the text after the base: "-part" and ".ext".
func tail(part int, ext string) string {
	var t string
	if part > 0 {
		t = "-" + strconv.Itoa(part)
	}
	if ext = strings.TrimLeft(clean(ext), "."); ext != "" {
		t += "." + ext
	}
	return t
}

// join returns stem+tail within MaxNameBytes, shortening the stem (on a UTF-8 boundary). The
// tail is cut only if it alone leaves no room for one byte of stem. stem must be sanitized.
func join(stem, tail string) string {
	if len(tail) > MaxNameBytes-1 {
		tail = truncBytes(tail, MaxNameBytes-1)
	}
	stem = truncBytes(stem, MaxNameBytes-len(tail))
	if stem == "" {
		stem = "_"
	}
	return stem + tail
}

// exclude deletes every rune of chars from s. Invalid bytes of s are kept (sanitize deals
// with them); invalid bytes in chars match nothing.
func exclude(s, chars string) string {
	if chars == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && size == 1) && containsValidRune(chars, r) {
			i += size
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

func containsValidRune(chars string, r rune) bool {
	for i := 0; i < len(chars); {
		c, size := utf8.DecodeRuneInString(chars[i:])
		if c == r && !(c == utf8.RuneError && size == 1) {
			return true
		}
		i += size
	}
	return false
}

// StreamName is a stream name as the server keeps it: every control character (Unicode Cc,
// NUL included) and format character (Cf: bidi overrides such as U+202E, zero-width
// characters, soft hyphens) removed, and each invalid UTF-8 byte replaced by '_'. Such
// characters make a name that displays as something else ("\u202etxt.exe.mp4" shows as
// "mp4.exe.txt"), or that cannot reach a hook's environment (NUL); nobody names a stream
// with them on purpose.
func StreamName(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte('_')
		case hidden(r):
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsCleaning tells whether StreamName would change s (most names need nothing).
func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || hidden(r) {
			return true
		}
		i += size
	}
	return false
}

// hidden: control (Cc, NUL included) and format (Cf, bidi controls included) characters.
func hidden(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }

// clean removes '/', '\\', control (Cc, NUL included) and format (Cf) characters and replaces
// each invalid UTF-8 byte with '_'.
func clean(s string) string { return slashes.Replace(StreamName(s)) }

var slashes = strings.NewReplacer("/", "", "\\", "")

// sanitize makes s a safe single file name (not yet length-limited): clean, leading dots
// and dashes to '_' (no hidden file, no name a command takes for an option), empty to Fallback.
func sanitize(s string) string {
	s = clean(s)
	if n := len(s) - len(strings.TrimLeft(s, ".-")); n > 0 {
		s = strings.Repeat("_", n) + s[n:]
	}
	if s == "" {
		return Fallback
	}
	return s
}

// safe reports whether name is already what sanitize produces: non-empty, valid UTF-8, no
// separator, control or format character, no leading dot or dash.
func safe(name string) bool {
	return name != "" && name[0] != '.' && name[0] != '-' && clean(name) == name
}

// truncBytes cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncBytes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// truncRunes cuts s to at most n characters (an invalid byte counts as one).
func truncRunes(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}
