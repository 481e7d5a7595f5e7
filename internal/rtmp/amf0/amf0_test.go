package amf0

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

// connectCommand is ffmpeg's connect command, as it sends it.
func connectCommand() []byte {
	return Append(nil, "connect", 1, Object{
		{Key: "app", Value: "live"}, {Key: "type", Value: "nonprivate"}, {Key: "flashVer", Value: "FMLE/3.0 (compatible; Lavf59.27.100)"},
		{Key: "tcUrl", Value: "rtmp://127.0.0.1:1935/live"},
	})
}

func TestRoundTrip(t *testing.T) {
	in := []any{"connect", 1.0, Object{{Key: "app", Value: "live"}, {Key: "n", Value: 2.5}, {Key: "ok", Value: true},
		{Key: "inner", Value: Object{{Key: "x", Value: nil}}}}, nil, []any{"a", false}, strings.Repeat("L", 70000)}
	got, err := Decode(Append(nil, in...))
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("Decode(Append(v)) = %#v, %v", got, err)
	}
}

func TestDecodesWhatPublishersSend(t *testing.T) {
	// @setDataFrame as ffmpeg sends it: an ECMA array (0x08) with a count, then properties.
	meta := []byte{0x02, 0x00, 0x0d}
	meta = append(meta, "@setDataFrame"...)
	meta = append(meta, 0x02, 0x00, 0x0a)
	meta = append(meta, "onMetaData"...)
	meta = append(meta, 0x08, 0, 0, 0, 2)
	meta = append(appendKey(meta, "videocodecid"), 0, 0x40, 0x1c, 0, 0, 0, 0, 0, 0) // 7
	meta = append(appendKey(meta, "encoder"), 0x02)
	meta = appendKey(meta, "Lavf59")
	meta = append(meta, 0, 0, 0x09)
	vals, err := Decode(meta)
	if err != nil || len(vals) != 3 {
		t.Fatalf("Decode = %v, %v", vals, err)
	}
	obj := vals[2].(Object)
	if obj.Get("videocodecid") != 7.0 {
		t.Errorf("videocodecid = %v", obj.Get("videocodecid"))
	}
	if s, _ := obj.String("encoder"); s != "Lavf59" {
		t.Errorf("encoder = %q", s)
	}
}

// The 70-byte packet: a strict array declaring 0x7fffffff elements and carrying none
// killed the server (go-amf0 allocated them all first).
func TestHugeDeclaredCountsAllocateNothing(t *testing.T) {
	for name, body := range map[string][]byte{
		"strict array": append(Append(nil, "connect", 1), 0x03, 0, 3, 'a', 'p', 'p', 0x0a, 0x7f, 0xff, 0xff, 0xff),
		"long string":  {0x0c, 0xff, 0xff, 0xff, 0xff, 'x'},
		"ecma array":   {0x08, 0xff, 0xff, 0xff, 0xff},
		"string":       {0x02, 0xff, 0xff, 'x'},
	} {
		fuzzmem.Check(t, func() {
			if _, err := Decode(body); err == nil {
				t.Errorf("%s: accepted", name)
			}
		})
	}
}

func TestNestingAndCountLimited(t *testing.T) {
	deep := bytes.Repeat([]byte{0x0a, 0, 0, 0, 1}, MaxDepth+1)
	if _, err := Decode(deep); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("arrays nested %d deep: %v", MaxDepth+1, err)
	}
	ok := bytes.Repeat([]byte{0x0a, 0, 0, 0, 1}, MaxDepth-1)
	if _, err := Decode(append(ok, 0x05)); err != nil {
		t.Errorf("arrays nested %d deep refused: %v", MaxDepth-1, err)
	}
	many := binary.BigEndian.AppendUint32([]byte{0x0a}, MaxValues+1)
	many = append(many, bytes.Repeat([]byte{0x05}, MaxValues+1)...)
	if _, err := Decode(many); err == nil {
		t.Errorf("%d values accepted", MaxValues+1)
	}
}

func TestTruncatedAndUnsupported(t *testing.T) {
	full := connectCommand()
	for i := range full {
		// A cut message never yields the whole command; inside a value it is an error.
		if vals, err := Decode(full[:i]); len(vals) == 3 || (err == nil && i != 10 && i != 19 && i != 0) {
			t.Errorf("cut at %d of %d: %v, %v", i, len(full), vals, err)
		}
	}
	for _, b := range [][]byte{{0x11, 0x02}, {0x07, 0, 1}, {0x04}, {0x0e}, {0x09}} {
		if _, err := Decode(b); err == nil {
			t.Errorf("% x accepted", b)
		}
	}
	if _, err := Decode([]byte{0x00, 1, 2}); !errors.Is(err, ErrTruncated) {
		t.Errorf("a cut number: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(connectCommand())
	f.Add(Append(nil, "publish", 5, nil, "stream?room=a", "live"))
	f.Add(append(Append(nil, "connect", 1), 0x03, 0, 3, 'a', 'p', 'p', 0x0a, 0x7f, 0xff, 0xff, 0xff))
	f.Add([]byte{0x08, 0, 0, 0, 1, 0, 1, 'k', 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzmem.Check(t, func() {
			vals, err := Decode(b)
			if err != nil {
				return
			}
			// What decodes re-encodes to something that decodes the same.
			again, err := Decode(Append(nil, vals...))
			if err != nil || !reflect.DeepEqual(normalize(again), normalize(vals)) {
				t.Fatalf("re-encoding %#v gives %#v, %v", vals, again, err)
			}
		})
	})
}

// normalize makes values comparable across a re-encoding: NaNs compare unequal to themselves.
func normalize(vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case float64:
			if v != v {
				out[i] = "NaN"
				continue
			}
		case []any:
			out[i] = normalize(v)
			continue
		case Object:
			o := make(Object, len(v))
			for j, p := range v {
				o[j] = Property{Key: p.Key, Value: normalize([]any{p.Value})[0]}
			}
			out[i] = o
			continue
		}
		out[i] = v
	}
	return out
}
