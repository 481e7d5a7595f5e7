// Package amf0 reads and writes AMF0 (Action Message Format 0), the encoding of RTMP commands
// and stream metadata.
//
// Reading is bounded by the bytes at hand, never by what the bytes declare: a string, array or
// object is allocated only once the bytes it needs are known to be there, nesting is limited to
// MaxDepth and a message to MaxValues values, so a hostile peer cannot make a decode allocate
// more than a small multiple of the message's size.
package amf0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Type markers (AMF0 specification, 2.1).
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0a
	markerDate        = 0x0b
	markerLongString  = 0x0c
	markerUnsupported = 0x0d
	markerXMLDocument = 0x0f
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// Limits of one decode. Real commands nest two levels and hold a few dozen values; metadata
// (onMetaData) a few hundred.
const (
	MaxDepth  = 16
	MaxValues = 4096
)

// Object is an AMF0 object or ECMA array: its properties in the order they were written.
type Object []Property

// Property is one key and value of an Object.
type Property struct {
	Key   string
	Value any
}

// Get returns the value of key, nil when there is none.
func (o Object) Get(key string) any {
	for _, p := range o {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

// String returns the value of key when it is a string.
func (o Object) String(key string) (string, bool) {
	s, ok := o.Get(key).(string)
	return s, ok
}

// ErrTruncated reports a value cut off by the end of the message.
var ErrTruncated = errors.New("amf0: value cut off by the end of the message")

// Decode reads every value in b. Numbers and dates are float64, booleans bool, strings and XML
// documents string, null/undefined/unsupported nil, objects, ECMA arrays and typed objects
// Object, strict arrays []any. AMF3 values and references are refused.
func Decode(b []byte) ([]any, error) {
	d := decoder{b: b}
	var out []any
	for len(d.b) > 0 {
		v, err := d.value(0)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

type decoder struct {
	b      []byte
	values int
}

func (d *decoder) value(depth int) (any, error) {
	if d.values++; d.values > MaxValues {
		return nil, fmt.Errorf("amf0: more than %d values", MaxValues)
	}
	if len(d.b) == 0 {
		return nil, ErrTruncated
	}
	marker := d.b[0]
	d.b = d.b[1:]
	switch marker {
	case markerNumber:
		return d.number()
	case markerBoolean:
		b, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return b[0] != 0, nil
	case markerString:
		return d.string(2)
	case markerLongString, markerXMLDocument:
		return d.string(4)
	case markerNull, markerUndefined, markerUnsupported:
		return nil, nil
	case markerObject:
		return d.object(depth)
	case markerTypedObject:
		if _, err := d.string(2); err != nil { // the class name
			return nil, err
		}
		return d.object(depth)
	case markerECMAArray:
		if _, err := d.take(4); err != nil { // a count hint only: the end marker ends it
			return nil, err
		}
		return d.object(depth)
	case markerStrictArray:
		return d.array(depth)
	case markerDate:
		n, err := d.number()
		if err == nil {
			_, err = d.take(2) // time zone, unused by the format's own definition
		}
		return n, err
	case markerReference:
		return nil, errors.New("amf0: references are not supported")
	case markerAVMPlus:
		return nil, errors.New("amf0: AMF3 values are not supported")
	}
	return nil, fmt.Errorf("amf0: unknown type marker %#x", marker)
}

func (d *decoder) take(n int) ([]byte, error) {
	if n > len(d.b) {
		return nil, ErrTruncated
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b, nil
}

func (d *decoder) number() (float64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// string reads a string whose length field has size bytes.
func (d *decoder) string(size int) (string, error) {
	b, err := d.take(size)
	if err != nil {
		return "", err
	}
	n := uint64(b[0])<<8 | uint64(b[1])
	if size == 4 {
		n = uint64(binary.BigEndian.Uint32(b))
	}
	if n > uint64(len(d.b)) {
		return "", ErrTruncated
	}
	s, _ := d.take(int(n))
	return string(s), nil
}

func (d *decoder) nest(depth int) error {
	if depth >= MaxDepth {
		return fmt.Errorf("amf0: nested deeper than %d", MaxDepth)
	}
	return nil
}

// object reads properties up to the object end marker (an empty key then 0x09).
func (d *decoder) object(depth int) (Object, error) {
	if err := d.nest(depth); err != nil {
		return nil, err
	}
	var o Object
	for {
		key, err := d.string(2)
		if err != nil {
			return nil, err
		}
		if key == "" && len(d.b) > 0 && d.b[0] == markerObjectEnd {
			d.b = d.b[1:]
			if o == nil {
				o = Object{}
			}
			return o, nil
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		o = append(o, Property{Key: key, Value: v})
	}
}

// array reads a strict array. Its declared count is believed only as far as the bytes left
// can hold that many values (each takes at least one byte).
func (d *decoder) array(depth int) ([]any, error) {
	if err := d.nest(depth); err != nil {
		return nil, err
	}
	b, err := d.take(4)
	if err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(d.b)) {
		return nil, fmt.Errorf("amf0: strict array of %d values in %d bytes", n, len(d.b))
	}
	out := make([]any, 0, n)
	for range n {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Append appends the encoding of each value to b. It takes float64 and the other integer
// kinds (as numbers), bool, string, nil (null), Object and []any; any other type panics, as
// only this program's own replies are encoded.
func Append(b []byte, values ...any) []byte {
	for _, v := range values {
		b = appendValue(b, v)
	}
	return b
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, markerNull)
	case bool:
		if v {
			return append(b, markerBoolean, 1)
		}
		return append(b, markerBoolean, 0)
	case float64:
		return binary.BigEndian.AppendUint64(append(b, markerNumber), math.Float64bits(v))
	case int:
		return appendValue(b, float64(v))
	case uint32:
		return appendValue(b, float64(v))
	case string:
		if len(v) > math.MaxUint16 {
			b = binary.BigEndian.AppendUint32(append(b, markerLongString), uint32(len(v)))
			return append(b, v...)
		}
		return appendKey(append(b, markerString), v)
	case Object:
		b = append(b, markerObject)
		for _, p := range v {
			b = appendValue(appendKey(b, p.Key), p.Value)
		}
		return append(b, 0, 0, markerObjectEnd)
	case []any:
		b = binary.BigEndian.AppendUint32(append(b, markerStrictArray), uint32(len(v)))
		for _, e := range v {
			b = appendValue(b, e)
		}
		return b
	}
	panic(fmt.Sprintf("amf0: cannot encode %T", v))
}

// appendKey appends a string without marker (an object key, or the body of a short string).
func appendKey(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
