package conf

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// syntaxCases are property files and what java.util.Properties.load gives for them.
var syntaxCases = []struct {
	name string
	in   string
	want map[string]string
}{
	{"equals", "a=1\n", map[string]string{"a": "1"}},
	{"colon", "a:1\n", map[string]string{"a": "1"}},
	{"space", "a 1\n", map[string]string{"a": "1"}},
	{"spaces around =", "  a  =  1\n", map[string]string{"a": "1"}},
	{"spaces around :", "a\t:\t1\n", map[string]string{"a": "1"}},
	{"space then =", "a =1\n", map[string]string{"a": "1"}},
	{"second separator is value", "a==1\nb::2\nc = =3\nd :=4\n", map[string]string{"a": "=1", "b": ":2", "c": "=3", "d": "=4"}},
	{"key alone", "a\nb=\nc   \n", map[string]string{"a": "", "b": "", "c": ""}},
	{"trailing spaces kept", "a=x  \n", map[string]string{"a": "x  "}},
	{"inner spaces kept", "exclude_record_name_characters=:., /\n", map[string]string{"exclude_record_name_characters": ":., /"}},
	{"comments", "# c=1\n! d=2\n   # e=3\na=1\n", map[string]string{"a": "1"}},
	{"comment never continues", "# c=1\\\na=1\n", map[string]string{"a": "1"}},
	{"continuation", "a=one \\\n    two\\\n three\n", map[string]string{"a": "one twothree"}},
	{"continuation line starting with #", "a=1\\\n#2\n", map[string]string{"a": "1#2"}},
	{"even backslashes do not continue", "a=1\\\\\nb=2\n", map[string]string{"a": "1\\", "b": "2"}},
	{"odd backslashes continue", "a=1\\\\\\\nb=2\n", map[string]string{"a": "1\\b=2"}},
	{"continuation into blank line", "a=1\\\n\nb=2\n", map[string]string{"a": "1", "b": "2"}},
	{"continuation at EOF", "a=1\\", map[string]string{"a": "1"}},
	{"key continued", "ke\\\n  y=v\n", map[string]string{"key": "v"}},
	{"escapes", `a=\t\n\r\f\\\=\:\ \#\!\q` + "\n", map[string]string{"a": "\t\n\r\f\\=: #!q"}},
	{"escaped separators in key", `a\=b\:c\ d=1` + "\n", map[string]string{"a=b:c d": "1"}},
	{"escaped leading space", `a=\  x` + "\n", map[string]string{"a": "  x"}},
	{"unicode escape", `a=\u0041\u00e9\u4E2D` + "\n", map[string]string{"a": "Aé中"}},
	{"surrogate pair", `a=\uD83D\uDE00` + "\n", map[string]string{"a": "😀"}},
	{"utf-8", "a=é中\n", map[string]string{"a": "é中"}},
	{"crlf", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
	{"cr", "a=1\rb=2\r", map[string]string{"a": "1", "b": "2"}},
	{"crlf continuation", "a=1\\\r\n  2\r\n", map[string]string{"a": "12"}},
	{"formfeed whitespace", "\fa\f=\f1\n", map[string]string{"a": "1"}},
	{"duplicate key: last wins", "a=1\na=2\n", map[string]string{"a": "2"}},
	{"no final newline", "a=1", map[string]string{"a": "1"}},
	{"dotted keys", "ws.port=8080\n", map[string]string{"ws.port": "8080"}},
}

func TestParseDocumentSyntax(t *testing.T) {
	for _, c := range syntaxCases {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := parseDocument([]byte(c.in))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			got, _ := doc.values()
			if !maps.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseDocumentLatin1(t *testing.T) {
	// Not valid UTF-8: read as ISO-8859-1, as Java's Properties.load(InputStream) does.
	doc, errs := parseDocument([]byte("a=caf\xe9\nb=\\u00e9\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, _ := doc.values()
	if got["a"] != "café" || got["b"] != "é" {
		t.Errorf("got %q", got)
	}
}

func TestParseDocumentBOM(t *testing.T) {
	in := utf8BOM + "record_streams=false\n"
	doc, errs := parseDocument([]byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, _ := doc.values()
	if v, ok := got["record_streams"]; !ok || v != "false" {
		t.Errorf("got %q", got)
	}
	if out := doc.render(nil, nil); string(out) != in {
		t.Errorf("render changed the file: %q", out)
	}
}

func TestParseDocumentMalformedUnicode(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\u12G4`, `a=\u`, `k\uZZZZ=1`} {
		_, errs := parseDocument([]byte("# first\n" + in + "\n"))
		if len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Msg, `malformed \uXXXX`) {
			t.Errorf("%s: got %v", in, errs)
		}
	}
}

func TestParseDocumentLinesAndSpans(t *testing.T) {
	in := "# c\n\na=1\nb=x\\\n  y\\\n  z\nc=3\n"
	doc, _ := parseDocument([]byte(in))
	_, lines := doc.values()
	if lines["a"] != 3 || lines["b"] != 4 || lines["c"] != 7 {
		t.Errorf("lines %v", lines)
	}
	if e := doc.entries[1]; e.first != 3 || e.last != 5 {
		t.Errorf("b spans %d..%d", e.first, e.last)
	}
}

func TestRenderUnchangedIsIdentical(t *testing.T) {
	for _, c := range syntaxCases {
		doc, _ := parseDocument([]byte(c.in))
		if out := doc.render(nil, nil); string(out) != c.in {
			t.Errorf("%s: render gave %q, want %q", c.name, out, c.in)
		}
	}
}

func TestRenderInPlace(t *testing.T) {
	in := "# head\r\n" +
		"a = 1\r\n" +
		"  b:2\r\n" +
		"c 3\r\n" +
		"d\r\n" +
		"e=long\\\r\n   value\r\n" +
		"f=1\r\n" +
		"f=2\r\n" +
		"unknown.key=kept\r\n" +
		"g=last-without-newline"
	doc, _ := parseDocument([]byte(in))
	out := doc.render(map[string]string{
		"a": "10", "b": "20", "c": ":x", "d": "40", "e": "short", "f": "3", "g": "7",
	}, []appended{{key: "h", value: "new", help: "help of h"}})
	want := "# head\r\n" +
		"a = 10\r\n" +
		"  b:20\r\n" +
		"c \\:x\r\n" +
		"d=40\r\n" +
		"e=short\r\n" +
		"f=1\r\n" +
		"f=3\r\n" +
		"unknown.key=kept\r\n" +
		"g=7\r\n" +
		"\r\n# help of h\r\nh=new\r\n"
	if string(out) != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	doc2, errs := parseDocument(out)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, _ := doc2.values()
	wantVals := map[string]string{"a": "10", "b": "20", "c": ":x", "d": "40", "e": "short", "f": "3",
		"g": "7", "h": "new", "unknown.key": "kept"}
	if !maps.Equal(got, wantVals) {
		t.Errorf("read back %q", got)
	}
}

func TestRenderValueStartingOnContinuation(t *testing.T) {
	doc, _ := parseDocument([]byte("key=\\\n  value\nnext=1\n"))
	out := doc.render(map[string]string{"key": "v2"}, nil)
	if string(out) != "key=v2\nnext=1\n" {
		t.Errorf("got %q", out)
	}
}

func TestEscapeValueRoundTrip(t *testing.T) {
	for _, v := range []string{
		"", " ", "  ", " lead", "trail ", "  both  ", ":., /", "=x", ":x", "#x", "!x", `back\slash`,
		`ends\`, "tab\tnl\ncr\rff\f", "é中😀", "\x00\x1f\x7f", "a=b:c d",
	} {
		for _, sep := range []string{"=", " ", ":", " = "} {
			line := "k" + sep + escapeValue(v, sep == " ")
			if !isASCII(line) {
				t.Errorf("%q: escaped line is not ASCII: %q", v, line)
			}
			doc, errs := parseDocument([]byte(line + "\n"))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got, _ := doc.values()
			if got["k"] != v {
				t.Errorf("sep %q value %q: written %q, read back %q", sep, v, line, got["k"])
			}
		}
	}
	// Stripping trailing whitespace (as editors do) must not change a value ending in a space.
	line := "k=" + escapeValue("x ", false)
	if strings.TrimRight(line, " ") != line {
		t.Errorf("escaped value ends in a bare space: %q", line)
	}
}

// TestJavaCompatibility runs the real java.util.Properties over the syntax cases and over files
// this package writes; skipped when no java is installed.
func TestJavaCompatibility(t *testing.T) {
	javaBin, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	dir := t.TempDir()
	const loader = `
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
public class Load {
  static String hex(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) b.append(String.format("%04x", (int) c));
    return b.length() == 0 ? "-" : b.toString();
  }
  public static void main(String[] args) throws Exception {
    for (String f : args) {
      Properties p = new Properties();
      try (InputStream in = new FileInputStream(f)) {
        p.load(new InputStreamReader(in, StandardCharsets.UTF_8));
      }
      System.out.println("FILE " + f);
      for (String k : p.stringPropertyNames()) System.out.println(hex(k) + " " + hex(p.getProperty(k)));
    }
  }
}`
	src := filepath.Join(dir, "Load.java")
	if err := os.WriteFile(src, []byte(loader), 0o644); err != nil {
		t.Fatal(err)
	}

	want := map[string]map[string]string{}
	var files []string
	add := func(name, content string, w map[string]string) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		want[p] = w
	}
	for i, c := range syntaxCases {
		add(fmt.Sprintf("case%02d.properties", i), c.in, c.want)
	}
	// Files written by Update must read the same in Java.
	values := map[string]string{
		"exclude_record_name_characters": " :., /\\ ",
		"stream_record_policy_template":  "запись-{streamName}-{login}😀",
		"admin.password":                 "p#ss=w:rd\\",
	}
	s := openTemp(t, "# wcs file\nrecord_rotation 20\nexclude_record_name_characters :\n")
	if err := s.Update(values); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	fileVals, _ := mustDoc(t, data).values()
	add("written.properties", string(data), fileVals)
	for k, v := range values {
		if fileVals[k] != v {
			t.Errorf("our reader: %s = %q, want %q", k, fileVals[k], v)
		}
	}

	cmd := exec.Command(javaBin, append([]string{src}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	got := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f, ok := strings.CutPrefix(line, "FILE "); ok {
			cur = map[string]string{}
			got[f] = cur
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		cur[unhex(t, k)] = unhex(t, v)
	}
	for _, f := range files {
		if !maps.Equal(got[f], want[f]) {
			content, _ := os.ReadFile(f)
			t.Errorf("%s %q:\njava reads %q\nwe read    %q", filepath.Base(f), content, got[f], want[f])
		}
	}
}

func unhex(t *testing.T, s string) string {
	if s == "-" {
		return ""
	}
	var units []rune
	var b strings.Builder
	for i := 0; i+4 <= len(s); i += 4 {
		n, err := strconv.ParseUint(s[i:i+4], 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, rune(n))
	}
	// Java strings are UTF-16: join surrogate pairs.
	for i := 0; i < len(units); i++ {
		r := units[i]
		if r >= 0xD800 && r < 0xDC00 && i+1 < len(units) {
			r = (r-0xD800)<<10 + (units[i+1] - 0xDC00) + 0x10000
			i++
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mustDoc(t *testing.T, data []byte) *document {
	t.Helper()
	doc, errs := parseDocument(data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return doc
}

func FuzzParse(f *testing.F) {
	for _, c := range syntaxCases {
		f.Add([]byte(c.in), "v")
	}
	f.Add(renderFresh(defaultValues()), " :., /\\ ")
	f.Add([]byte("record_rotation=10M\nrecord_audio_codec_sample_rate=abc\n"), "\\u12")
	f.Add([]byte("a=\\uD83D\nb=\xff\xfe"), "é")
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		fuzzmem.Check(t, func() { checkParse(t, data, value) })
	})
}

// checkParse is FuzzParse's property for one file and one value.
func checkParse(t *testing.T, data []byte, value string) {
	// Never panics; errors only as *ValidationError.
	if _, err := Parse(bytes.NewReader(data)); err != nil {
		if _, ok := err.(*ValidationError); !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
	}
	// Writing back unchanged gives the same bytes.
	doc, _ := parseDocument(data)
	if out := doc.render(nil, nil); !bytes.Equal(out, data) {
		t.Fatalf("render changed %q into %q", data, out)
	}
	// Rewriting the last entry with any value reads that value back, leaving the others.
	if len(doc.entries) == 0 || !utf8.ValidString(value) {
		return
	}
	before, _ := doc.values()
	key := doc.entries[len(doc.entries)-1].key
	out := doc.render(map[string]string{key: value}, nil)
	doc2, errs := parseDocument(out)
	if len(errs) > 0 {
		return // a malformed escape elsewhere in the file
	}
	if utf8.Valid(data) != utf8.Valid(out) {
		// A Latin-1 file whose only non-UTF-8 bytes were in the replaced value is read
		// as UTF-8 afterwards; Update refuses such a save (its read-back check fails).
		return
	}
	after, _ := doc2.values()
	if after[key] != value {
		t.Fatalf("set %q = %q in %q: got %q from %q", key, value, data, after[key], out)
	}
	for k, v := range before {
		if k != key && after[k] != v {
			t.Fatalf("setting %q changed %q from %q to %q (in %q → %q)", key, k, v, after[k], data, out)
		}
	}
}

// FuzzEscape: any key and value, written with the escapes the file writer uses, read back
// as exactly that key and value, as UTF-8 and as ISO-8859-1 (the output is ASCII).
func FuzzEscape(f *testing.F) {
	for _, c := range syntaxCases {
		f.Add(c.in, "v")
	}
	f.Add("#key", "=value")
	f.Add("a b:c=d", " lead\tab\t\u00e9")
	f.Add("!\u0000", "\r\n\f")
	f.Add("ключ", "😀 trailing \\")
	f.Fuzz(func(t *testing.T, key, value string) {
		if key == "" || !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		fuzzmem.Check(t, func() {
			line := escapeKey(key) + "=" + escapeValue(value, false)
			if !isASCII(line) {
				t.Fatalf("%q = %q written as %q: not ASCII", key, value, line)
			}
			doc, errs := parseDocument([]byte(line + "\n"))
			if len(errs) > 0 || len(doc.entries) != 1 {
				t.Fatalf("%q = %q written as %q: %d entries, errors %v", key, value, line, len(doc.entries), errs)
			}
			if e := doc.entries[0]; e.key != key || e.value != value {
				t.Fatalf("%q = %q written as %q reads back as %q = %q", key, value, line, e.key, e.value)
			}
		})
	})
}
