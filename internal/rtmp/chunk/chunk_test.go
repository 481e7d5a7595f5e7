package chunk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/streamrec/streamrec/internal/fuzzmem"
)

var testLimits = Limits{MaxMessage: 4 << 20, MaxCommand: 64 << 10, MaxChunkStreams: 16, MaxBuffered: 8 << 20, MaxChunkSize: 1 << 24}

func reader(b []byte) *Reader {
	return NewReader(bufio.NewReader(bytes.NewReader(b)), testLimits)
}

// header builds a chunk header by hand, as a peer sends it.
func header(format byte, cs uint32, ts uint32, length int, typ uint8, streamID uint32) []byte {
	b := basic(format, cs)
	ext := ts >= 0xffffff
	t := min(ts, 0xffffff)
	if format < 3 {
		b = append(b, byte(t>>16), byte(t>>8), byte(t))
	}
	if format < 2 {
		b = append(b, byte(length>>16), byte(length>>8), byte(length), typ)
	}
	if format == 0 {
		b = binary.LittleEndian.AppendUint32(b, streamID)
	}
	if ext {
		b = binary.BigEndian.AppendUint32(b, ts)
	}
	return b
}

func TestWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	payload := bytes.Repeat([]byte("0123456789"), 1000) // 10 KB: many 128-byte chunks
	msgs := []*Message{
		{ChunkStream: 3, Type: TypeCommandAMF0, Payload: []byte("hello")},
		{ChunkStream: 6, Type: TypeVideo, StreamID: 1, Timestamp: 40, Payload: payload},
		{ChunkStream: 400, Type: TypeAudio, StreamID: 1, Timestamp: 0x1234567, Payload: payload[:300]}, // 3-byte id, extended
		{ChunkStream: 4, Type: TypeAudio, StreamID: 1, Timestamp: 5, Payload: nil},
	}
	for i, m := range msgs {
		if i == 2 {
			if err := w.SetChunkSize(1000); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	r := reader(buf.Bytes())
	for _, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if got.ChunkStream != want.ChunkStream || got.Type != want.Type || got.StreamID != want.StreamID || got.Timestamp != want.Timestamp || !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("got type %d stream %d ts %d %d bytes, want %d %d %d %d", got.Type, got.StreamID, got.Timestamp,
				len(got.Payload), want.Type, want.StreamID, want.Timestamp, len(want.Payload))
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last message: %v", err)
	}
}

func TestTimestampDeltasAndInterleaving(t *testing.T) {
	var in []byte
	// Stream 6: a 200-byte video message at 1000 (two chunks), interleaved with audio on stream 4.
	in = append(in, header(0, 6, 1000, 200, TypeVideo, 1)...)
	in = append(in, bytes.Repeat([]byte{'v'}, 128)...)
	in = append(in, header(0, 4, 990, 3, TypeAudio, 1)...)
	in = append(in, 'a', 'a', 'a')
	in = append(in, header(3, 6, 0, 0, 0, 0)...)
	in = append(in, bytes.Repeat([]byte{'v'}, 72)...)
	// Audio: type 2 (delta 23), then type 3 (same delta again).
	in = append(in, header(2, 4, 23, 0, 0, 0)...)
	in = append(in, 'b', 'b', 'b')
	in = append(in, header(3, 4, 0, 0, 0, 0)...)
	in = append(in, 'c', 'c', 'c')
	r := reader(in)
	want := []struct {
		typ uint8
		ts  uint32
		n   int
	}{{TypeAudio, 990, 3}, {TypeVideo, 1000, 200}, {TypeAudio, 1013, 3}, {TypeAudio, 1036, 3}}
	for _, w := range want {
		m, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != w.typ || m.Timestamp != w.ts || len(m.Payload) != w.n {
			t.Errorf("got type %d ts %d %d bytes, want %+v", m.Type, m.Timestamp, len(m.Payload), w)
		}
	}
}

func TestLimits(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"media message too large":    {header(0, 6, 0, 4<<20+1, TypeVideo, 1), "limit"},
		"command too large":          {header(0, 3, 0, 64<<10+1, TypeCommandAMF0, 0), "limit"},
		"control too large":          {header(0, 2, 0, 100, TypeSetChunkSize, 0), "limit"},
		"chunk size too large":       {append(header(0, 2, 0, 4, TypeSetChunkSize, 0), 0x7f, 0xff, 0xff, 0xff), "chunk size"},
		"chunk size zero":            {append(header(0, 2, 0, 4, TypeSetChunkSize, 0), 0, 0, 0, 0), "chunk size"},
		"type 3 before a header":     {header(3, 5, 0, 0, 0, 0), "before any header"},
		"too many chunk streams":     {manyStreams(17), "chunk streams"},
		"too many unfinished bytes":  {unfinished(3, 4<<20), "unfinished"},
		"unfinished at the limit ok": {unfinished(2, 4<<20), "EOF"},
	} {
		t.Run(name, func(t *testing.T) {
			r := reader(tc.in)
			var err error
			for err == nil {
				_, err = r.Read()
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// manyStreams opens n chunk streams, each with a one-byte message.
func manyStreams(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, header(0, uint32(3+i), 0, 1, TypeCommandAMF0, 0)...)
		b = append(b, 5)
	}
	return b
}

// unfinished starts n messages of size bytes on as many chunk streams, with 1 MB chunks: on
// each, two chunks, then a new header that gives that message up, then three chunks of the new
// one, which never completes: the memory flood. Counted: 3 MB a stream.
func unfinished(n, size int) []byte {
	const mb = 1 << 20
	b := append(header(0, 2, 0, 4, TypeSetChunkSize, 0), 0, 0x10, 0, 0)
	for i := range n {
		id := uint32(4 + i)
		for k := range 5 {
			switch k {
			case 0, 2:
				b = append(b, header(0, id, 0, size, TypeVideo, 1)...)
			default:
				b = append(b, header(3, id, 0, 0, 0, 0)...)
			}
			b = append(b, make([]byte, mb)...)
		}
	}
	return b
}

// Messages declaring 4 MB cost only what arrived, plus at most mediaAhead each: 15 chunk
// streams (16 with the control stream) each declaring a 4 MB frame and sending one byte hold
// under 1 MB, not 60.
func TestMemoryFollowsBytesReceived(t *testing.T) {
	in := append(header(0, 2, 0, 4, TypeSetChunkSize, 0), 0, 0, 0, 1) // 1-byte chunks
	for i := range 15 {
		in = append(in, header(0, uint32(4+i), 0, 4<<20, TypeVideo, 1)...)
		in = append(in, 1)
	}
	r := reader(in)
	fuzzmem.Check(t, func() {
		if _, err := r.Read(); err != io.EOF {
			t.Errorf("Read: %v", err)
		}
	})
	if r.buffered > 1<<20 {
		t.Errorf("15 frames declaring 4 MB, one byte each arrived: %d bytes held, want at most 1 MB", r.buffered)
	}
}

// A frame larger than mediaAhead arrives whole through the growing buffer, in its pooled buffer.
func TestLargeFrameGrows(t *testing.T) {
	payload := make([]byte, 3*mediaAhead+5)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.SetChunkSize(4096); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&Message{ChunkStream: 6, Type: TypeVideo, StreamID: 1, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	r := reader(b.Bytes())
	m, err := r.Read()
	if err != nil || !bytes.Equal(m.Payload, payload) || m.Buf == nil || len(m.Buf.Bytes()) != len(payload) {
		t.Fatalf("read %d bytes (pooled %v), %v; want the %d sent", len(m.Payload), m.Buf != nil, err, len(payload))
	}
	m.Buf.Release()
	if r.buffered != 0 {
		t.Errorf("%d bytes still counted after the message", r.buffered)
	}
}

func TestAbortDropsTheMessage(t *testing.T) {
	in := append(header(0, 6, 0, 200, TypeVideo, 1), make([]byte, 128)...)
	in = append(in, header(0, 2, 0, 4, TypeAbort, 0)...)
	in = append(in, 0, 0, 0, 6)
	in = append(in, header(0, 6, 7, 2, TypeVideo, 1)...)
	in = append(in, 9, 9)
	m, err := reader(in).Read()
	if err != nil || m.Timestamp != 7 || !bytes.Equal(m.Payload, []byte{9, 9}) {
		t.Fatalf("after an abort: %+v, %v", m, err)
	}
}

func TestHandshake(t *testing.T) {
	c1 := bytes.Repeat([]byte{7}, handshakeSize)
	in := append([]byte{3}, c1...)
	in = append(in, make([]byte, handshakeSize)...) // C2
	var out bytes.Buffer
	if err := Handshake(bufio.NewReader(bytes.NewReader(in)), &out); err != nil {
		t.Fatal(err)
	}
	s := out.Bytes()
	if len(s) != 1+2*handshakeSize || s[0] != 3 || !bytes.Equal(s[1+handshakeSize:], c1) {
		t.Errorf("S0+S1+S2: %d bytes, version %d, S2 echoes C1: %v", len(s), s[0], bytes.Equal(s[1+handshakeSize:], c1))
	}
	if err := Handshake(bufio.NewReader(bytes.NewReader(append([]byte{6}, c1...))), io.Discard); err == nil {
		t.Error("RTMPE (version 6) accepted")
	}
}

func FuzzReader(f *testing.F) {
	var seed bytes.Buffer
	w := NewWriter(&seed)
	w.Write(&Message{ChunkStream: 3, Type: TypeCommandAMF0, Payload: []byte("connect")})
	w.SetChunkSize(4096)
	w.Write(&Message{ChunkStream: 6, Type: TypeVideo, StreamID: 1, Timestamp: 0xfffffff, Payload: make([]byte, 5000)})
	f.Add(seed.Bytes())
	f.Add(manyStreams(3))
	f.Add(append(header(0, 2, 0, 4, TypeSetChunkSize, 0), 0x01, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzmem.Check(t, func() {
			r := reader(b)
			for range 10000 {
				m, err := r.Read()
				if err != nil {
					return
				}
				if len(m.Payload) > testLimits.MaxMessage {
					t.Fatalf("a message of %d bytes passed", len(m.Payload))
				}
			}
		})
	})
}

// BenchmarkReader reads a 2 Mbit/s 30 fps stream with 44.1 kHz AAC as ffmpeg chunks it (4 KB
// chunks): one op is one second of media, 73 messages.
func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetChunkSize(4096)
	video := make([]byte, 2_000_000/8/30)
	audio := make([]byte, 372)
	for i := range 30 {
		w.Write(&Message{ChunkStream: 6, Type: TypeVideo, StreamID: 1, Timestamp: uint32(i * 33), Payload: video})
		for range 43*(i+1)/30 - 43*i/30 {
			w.Write(&Message{ChunkStream: 4, Type: TypeAudio, StreamID: 1, Timestamp: uint32(i * 33), Payload: audio})
		}
	}
	second := buf.Bytes()
	in := bytes.NewReader(nil)
	br := bufio.NewReaderSize(in, 16<<10)
	b.SetBytes(int64(len(second)))
	b.ReportAllocs()
	r := NewReader(br, testLimits)
	r.chunkSize = 4096
	for b.Loop() {
		in.Reset(second[12+4:]) // without the Set Chunk Size message
		br.Reset(in)
		for {
			if _, err := r.Read(); err != nil {
				break
			}
		}
	}
}
