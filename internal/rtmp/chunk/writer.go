package chunk

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Writer writes messages as chunks of its chunk size. The server sends only small replies, so
// a message is written with one type 0 header and type 3 continuations, then flushed.
type Writer struct {
	w         *bufio.Writer
	chunkSize int
}

// NewWriter writes to w with chunks of chunkSize bytes (announce it first with Set Chunk Size
// while the peer still reads 128-byte chunks, see SetChunkSize).
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 4096), chunkSize: defaultChunkSize}
}

// SetChunkSize sends a Set Chunk Size message and uses that size from then on.
func (w *Writer) SetChunkSize(n int) error {
	err := w.Write(&Message{ChunkStream: 2, Type: TypeSetChunkSize, Payload: binary.BigEndian.AppendUint32(nil, uint32(n))})
	w.chunkSize = n
	return err
}

// Write sends one message and flushes it.
func (w *Writer) Write(m *Message) error {
	ext := m.Timestamp >= 0xffffff
	ts := min(m.Timestamp, 0xffffff)
	var h [16]byte
	hdr := append(h[:0], basic(0, m.ChunkStream)...)
	hdr = append(hdr, byte(ts>>16), byte(ts>>8), byte(ts))
	n := len(m.Payload)
	hdr = append(hdr, byte(n>>16), byte(n>>8), byte(n), m.Type)
	hdr = binary.LittleEndian.AppendUint32(hdr, m.StreamID)
	if ext {
		hdr = binary.BigEndian.AppendUint32(hdr, m.Timestamp)
	}
	if _, err := w.w.Write(hdr); err != nil {
		return err
	}
	for p := m.Payload; ; {
		k := min(len(p), w.chunkSize)
		if _, err := w.w.Write(p[:k]); err != nil {
			return err
		}
		if p = p[k:]; len(p) == 0 {
			break
		}
		cont := basic(3, m.ChunkStream)
		if ext {
			cont = binary.BigEndian.AppendUint32(cont, m.Timestamp)
		}
		if _, err := w.w.Write(cont); err != nil {
			return err
		}
	}
	return w.w.Flush()
}

// basic encodes a chunk basic header.
func basic(format byte, id uint32) []byte {
	switch {
	case id < 64:
		return []byte{format<<6 | byte(id)}
	case id < 320:
		return []byte{format << 6, byte(id - 64)}
	}
	return []byte{format<<6 | 1, byte((id - 64) & 0xff), byte((id - 64) >> 8)}
}
