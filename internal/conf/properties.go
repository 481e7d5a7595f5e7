package conf

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a Java-properties reader and the line-preserving writer.
//
// Reading follows java.util.Properties.load: a logical line is made of natural lines joined by
// a trailing odd number of backslashes (the leading whitespace of each continuation line is
// dropped); a natural line whose first non-whitespace character is '#' or '!' is a comment
// (and never continues); the key ends at the first unescaped '=', ':' or whitespace; whitespace
// and at most one '=' or ':' separate key and value; the value keeps its trailing whitespace;
// escapes are \t \n \r \f \uXXXX and backslash + any other character = that character.
//
// Encoding: a file that is valid UTF-8 is read as UTF-8, any other file as ISO-8859-1 (what
// Java's Properties.load(InputStream) assumes). Lines the writer produces are pure ASCII
// (everything else is written as \uXXXX), so they are right in either encoding, and lines it
// does not change are written back byte for byte.

// physLine is one natural line exactly as stored.
type physLine struct {
	text string // raw bytes, without the terminator
	eol  string // "\n", "\r\n", "\r", or "" for a last line without terminator
}

// entry is one key/value pair of the file.
type entry struct {
	key, value  string
	first, last int    // indices into document.lines, inclusive
	prefix      string // raw text of the first line before the value; "" when the value starts on a later line
	hasSep      bool   // key and value are separated by '=' or ':' (not only whitespace)
}

type document struct {
	bom     string // a UTF-8 byte order mark the file started with, written back as it was
	lines   []physLine
	entries []entry
}

const utf8BOM = "\xef\xbb\xbf"

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftWS(s string) string {
	i := 0
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return s[i:]
}

// splitLines cuts s into natural lines, keeping each terminator.
func splitLines(s string) []physLine {
	var out []physLine
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, physLine{text: s})
			break
		}
		n := 1
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			n = 2
		}
		out = append(out, physLine{text: s[:i], eol: s[i : i+n]})
		s = s[i+n:]
	}
	return out
}

// continues reports whether a natural line ends with an odd number of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// parseDocument reads a properties file. Its only syntax error is a malformed \uXXXX escape,
// reported per line (File is left empty); the document is returned even then.
func parseDocument(data []byte) (*document, []FieldError) {
	s := string(data)
	doc := &document{}
	if strings.HasPrefix(s, utf8BOM) {
		doc.bom, s = utf8BOM, s[len(utf8BOM):]
	}
	latin1 := !utf8.ValidString(s)
	doc.lines = splitLines(s)
	var errs []FieldError
	for i := 0; i < len(doc.lines); i++ {
		raw := doc.lines[i].text
		seg := trimLeftWS(raw)
		if seg == "" || seg[0] == '#' || seg[0] == '!' {
			continue
		}
		lead := len(raw) - len(seg)
		first := i
		var logical strings.Builder
		firstLen, firstContinued := -1, false
		for {
			cont := continues(seg)
			if cont {
				seg = seg[:len(seg)-1]
			}
			logical.WriteString(seg)
			if firstLen < 0 {
				firstLen, firstContinued = len(seg), cont
			}
			if !cont || i+1 >= len(doc.lines) {
				break
			}
			i++
			seg = trimLeftWS(doc.lines[i].text)
		}
		line := logical.String()
		keyEnd, valStart, hasSep := splitKeyValue(line)
		e := entry{first: first, last: i, hasSep: hasSep}
		if valStart < firstLen || (valStart == firstLen && !firstContinued) {
			e.prefix = raw[:lead+valStart]
		}
		var err1, err2 error
		e.key, err1 = unescape(line[:keyEnd], latin1)
		e.value, err2 = unescape(line[valStart:], latin1)
		if err := firstErr(err1, err2); err != nil {
			key := e.key
			if err1 != nil {
				key = line[:keyEnd]
			}
			errs = append(errs, FieldError{Key: key, Line: first + 1, Msg: err.Error()})
		}
		doc.entries = append(doc.entries, e)
	}
	return doc, errs
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// splitKeyValue finds where the key ends and the value starts in a logical line (no leading
// whitespace), exactly as Properties.load does.
func splitKeyValue(line string) (keyEnd, valStart int, hasSep bool) {
	keyEnd, valStart = len(line), len(line)
	backslash := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !backslash && (c == '=' || c == ':') {
			keyEnd, valStart, hasSep = i, i+1, true
			break
		}
		if !backslash && isWS(c) {
			keyEnd, valStart = i, i+1
			break
		}
		backslash = c == '\\' && !backslash
	}
	for ; valStart < len(line); valStart++ {
		c := line[valStart]
		if isWS(c) {
			continue
		}
		if !hasSep && (c == '=' || c == ':') {
			hasSep = true
			continue
		}
		break
	}
	return keyEnd, valStart, hasSep
}

// unescape decodes the escapes of a key or value. A backslash at the very end is dropped.
func unescape(s string, latin1 bool) (string, error) {
	if !strings.ContainsRune(s, '\\') && (!latin1 || isASCII(s)) {
		return s, nil
	}
	var b strings.Builder
	var units []uint16 // pending UTF-16 code units from \u escapes
	flush := func() {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			flush()
			if latin1 && c >= 0x80 {
				b.WriteRune(rune(c))
			} else {
				b.WriteByte(c)
			}
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		c = s[i]
		if c == 'u' {
			end := min(i+5, len(s))
			if end < i+5 {
				return "", fmt.Errorf(`malformed \uXXXX escape "%s"`, s[i-1:end])
			}
			var u uint16
			for _, h := range []byte(s[i+1 : i+5]) {
				d, ok := hexDigit(h)
				if !ok {
					return "", fmt.Errorf(`malformed \uXXXX escape "%s"`, s[i-1:end])
				}
				u = u<<4 | uint16(d)
			}
			units = append(units, u)
			i += 4
			continue
		}
		flush()
		switch c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		default:
			if latin1 && c >= 0x80 {
				b.WriteRune(rune(c))
			} else {
				b.WriteByte(c)
			}
		}
	}
	flush()
	return b.String(), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeValue writes v so that Properties.load gives v back. The result is pure ASCII.
// A leading space is written "\ "; a trailing space as \u0020, which survives editors that
// strip trailing whitespace (a plain or backslash-escaped trailing space would not: "\ " cut to
// "\" would join the next line). sepEscape escapes a leading '=' or ':', needed when the key is
// separated from the value by whitespace only.
func escapeValue(v string, sepEscape bool) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case r == ' ' && i == len(v)-1:
			b.WriteString(`\u0020`)
		case r == ' ' && i == 0:
			b.WriteString(`\ `)
		case i == 0 && sepEscape && (r == '=' || r == ':'):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			// Invalid UTF-8 arrives here as U+FFFD; Update refuses such values first.
			writeEscaped(&b, r)
		}
	}
	return b.String()
}

// values gives each key's value; a key given twice keeps its last value, as in Java.
func (d *document) values() (vals map[string]string, lines map[string]int) {
	vals, lines = map[string]string{}, map[string]int{}
	for _, e := range d.entries {
		vals[e.key] = e.value
		lines[e.key] = e.first + 1
	}
	return vals, lines
}

// eol is the line terminator the file uses (its first one), "\n" for a file without any.
func (d *document) eol() string {
	for _, l := range d.lines {
		if l.eol != "" {
			return l.eol
		}
	}
	return "\n"
}

// appended is a key the file lacks, written at its end with its help as a comment.
type appended struct{ key, value, help string }

// render writes the document back with the values of some keys changed in place (the last
// entry of a key given twice, the one that counts) and new keys appended. Every other byte
// stays as it was. set maps key → new value; keys of set absent from the file are ignored
// (pass them in add).
func (d *document) render(set map[string]string, add []appended) []byte {
	last := map[string]int{} // key → index of its last entry
	for i, e := range d.entries {
		if _, ok := set[e.key]; ok {
			last[e.key] = i
		}
	}
	replace := map[int]entry{} // first line → entry to rewrite
	for _, i := range last {
		replace[d.entries[i].first] = d.entries[i]
	}
	nl := d.eol()
	var b strings.Builder
	b.WriteString(d.bom)
	for i := 0; i < len(d.lines); i++ {
		e, ok := replace[i]
		if !ok {
			b.WriteString(d.lines[i].text)
			b.WriteString(d.lines[i].eol)
			continue
		}
		b.WriteString(rewriteEntry(e, set[e.key]))
		i = e.last
		b.WriteString(d.lines[i].eol)
	}
	if len(add) > 0 {
		if n := len(d.lines); n > 0 && d.lines[n-1].eol == "" {
			b.WriteString(nl)
		}
		for _, a := range add {
			if b.Len() > len(d.bom) {
				b.WriteString(nl)
			}
			b.WriteString("# " + a.help + nl)
			b.WriteString(a.key + "=" + escapeValue(a.value, false) + nl)
		}
	}
	return []byte(b.String())
}

// rewriteEntry gives the new text of an entry: its original key and separator, when they are
// on its first line, followed by the new value.
func rewriteEntry(e entry, value string) string {
	p := e.prefix
	if p == "" {
		return escapeKey(e.key) + "=" + escapeValue(value, false)
	}
	sepEscape := false
	if !e.hasSep {
		if isWS(p[len(p)-1]) && !escapedAt(p, len(p)-1) {
			sepEscape = true // "key value": a leading '=' or ':' would be read as separator
		} else {
			p += "=" // "key" alone on its line
		}
	}
	return p + escapeValue(value, sepEscape)
}

// escapedAt tells whether s[i] is escaped: preceded by an odd number of backslashes, as in the
// key "\ " whose space belongs to the key rather than separating it from the value.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// escapeKey writes a key so that Properties.load reads it back (used only when a continued
// entry is rewritten from scratch; our own keys need no escaping).
func escapeKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		if r == '=' || r == ':' || r == ' ' || (i == 0 && (r == '#' || r == '!')) {
			b.WriteByte('\\')
			b.WriteRune(r)
			continue
		}
		writeEscaped(&b, r)
	}
	return b.String()
}

// writeEscaped writes one rune as keys and values both escape it: backslash and control
// characters by their escapes, anything outside printable ASCII as \uXXXX (UTF-16), so the file
// reads back the same as UTF-8 or as ISO-8859-1.
func writeEscaped(b *strings.Builder, r rune) {
	switch {
	case r == '\\':
		b.WriteString(`\\`)
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\f':
		b.WriteString(`\f`)
	case r < 0x20 || r >= 0x7f:
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(b, `\u%04X`, u)
		}
	default:
		b.WriteRune(r)
	}
}
