// Package chunk reads and writes RTMP chunk streams (RTMP specification, 5.3): the framing
// that interleaves the messages of a connection. It also holds the handshake that opens one.
//
// The Reader is the one place where a peer's bytes become messages, so it is where a peer's
// claims are bounded: a message may declare at most Limits.MaxMessage bytes (control and command
// messages far less), a connection may use at most Limits.MaxChunkStreams chunk streams and hold
// at most Limits.MaxBuffered bytes of unfinished messages; memory grows only with the bytes that
// actually arrived, never with what a header declares (beyond mediaAhead bytes a message).
//
// Audio and video messages are read straight into pooled buffers (media.Buffer) that the frames
// made of them share, so a payload reaches the recording without another copy: a buffer of the
// declared length up to mediaAhead, which grows with the bytes that arrive past that. What such
// buffers hold counts towards Limits.MaxBuffered.
package chunk

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/streamrec/streamrec/internal/media"
)

// Message types (RTMP specification, 5.4 and 7.1).
const (
	TypeSetChunkSize     = 1
	TypeAbort            = 2
	TypeAck              = 3
	TypeUserControl      = 4
	TypeWindowAckSize    = 5
	TypeSetPeerBandwidth = 6
	TypeAudio            = 8
	TypeVideo            = 9
	TypeDataAMF3         = 15
	TypeCommandAMF3      = 17
	TypeDataAMF0         = 18
	TypeCommandAMF0      = 20
	TypeAggregate        = 22
)

// Message is one RTMP message.
type Message struct {
	ChunkStream uint32
	Type        uint8
	StreamID    uint32 // the message stream: 0 for the connection, else a stream made by createStream
	Timestamp   uint32 // ms, absolute (deltas already applied)
	Payload     []byte // valid until the next Read, or as long as Buf is held
	// Buf, for audio and video messages, holds Payload: the caller owns its one reference
	// (media.Buffer's rules) and releases it, or hands it on with a frame.
	Buf *media.Buffer
}

// Limits bound what one connection can make the Reader hold.
type Limits struct {
	MaxMessage      int // bytes of an audio, video or aggregate message
	MaxCommand      int // bytes of a command or data message (and any other type)
	MaxChunkStreams int // distinct chunk stream ids
	MaxBuffered     int // bytes of unfinished messages, all chunk streams together
	MaxChunkSize    int // largest chunk size the peer may set
}

// mediaAhead is how much of an audio or video message's declared length is allocated before it
// arrived: all of most frames (audio, inter frames), so that they are read without a copy.
const mediaAhead = 64 << 10

// maxControl bounds protocol control messages, whose bodies are 4 to 6 bytes.
const maxControl = 64

// defaultChunkSize is every chunk stream's chunk size until the peer sets another.
const defaultChunkSize = 128

// retainMax: a message buffer that grew past this is let go once its message has been read,
// so a connection that sent one big frame does not keep its memory.
const retainMax = 1 << 20

// chunkStream is the state of one chunk stream id.
type chunkStream struct {
	id        uint32
	timestamp uint32 // of the current message
	delta     uint32 // timestamp delta of the last type 1 or 2 header
	length    uint32
	typ       uint8
	streamID  uint32
	extended  bool          // the last header carried an extended timestamp
	buf       []byte        // the current message's payload so far (not audio or video)
	media     *media.Buffer // the current audio or video message's payload, len(buf) bytes of it filled
	started   bool          // a header was seen (type 3 chunks need one)
	open      bool          // a message has begun and is not complete
}

// Reader turns the bytes of a connection into messages.
type Reader struct {
	r         *bufio.Reader
	lim       Limits
	chunkSize int
	streams   map[uint32]*chunkStream
	buffered  int          // bytes in unfinished messages
	last      *chunkStream // the stream whose message Read returned last
	msg       Message      // what Read returns, reused
	hdr       [11]byte
}

// NewReader reads chunks from r, which should be buffered (the Reader makes many small reads).
func NewReader(r *bufio.Reader, lim Limits) *Reader {
	return &Reader{r: r, lim: lim, chunkSize: defaultChunkSize, streams: map[uint32]*chunkStream{}}
}

// Read returns the next complete message, valid (with its payload) until the next Read. Set Chunk Size and Abort messages are applied and not
// returned. An error ends the connection: after one the Reader is not usable.
func (r *Reader) Read() (*Message, error) {
	if r.last != nil {
		if cap(r.last.buf) > retainMax {
			r.last.buf = nil
		}
		r.last = nil
	}
	for {
		cs, err := r.chunk()
		if err != nil {
			return nil, err
		}
		if len(cs.buf) < int(cs.length) {
			continue // the message goes on in later chunks
		}
		r.msg = Message{ChunkStream: cs.id, Type: cs.typ, StreamID: cs.streamID, Timestamp: cs.timestamp, Payload: cs.buf}
		msg := &r.msg
		r.buffered -= len(cs.buf)
		if cs.media != nil {
			msg.Buf, cs.media = cs.media, nil // len(cs.buf) == cs.length == its size
			cs.buf = nil
		}
		cs.buf, cs.open = cs.buf[:0], false // the next message reuses the buffer, after this one is used
		if handled, err := r.control(msg); handled || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		r.last = cs
		return msg, nil
	}
}

// chunk reads one chunk into its stream's message and returns the stream.
func (r *Reader) chunk() (*chunkStream, error) {
	format, id, err := r.basicHeader()
	if err != nil {
		return nil, err
	}
	cs := r.streams[id]
	if cs == nil {
		if len(r.streams) >= r.lim.MaxChunkStreams {
			return nil, fmt.Errorf("more than %d chunk streams", r.lim.MaxChunkStreams)
		}
		cs = &chunkStream{id: id}
		r.streams[id] = cs
	}
	if err := r.messageHeader(cs, format); err != nil {
		return nil, fmt.Errorf("chunk stream %d: %w", id, err)
	}
	n := min(int(cs.length)-len(cs.buf), r.chunkSize)
	start := len(cs.buf)
	if cs.media != nil {
		if err := r.growMedia(cs, start+n); err != nil {
			return nil, err
		}
		cs.buf = cs.media.Bytes()[:start+n]
		if _, err := io.ReadFull(r.r, cs.buf[start:]); err != nil {
			return nil, err
		}
		return cs, nil
	}
	if err := r.reserve(n); err != nil {
		return nil, err
	}
	if cap(cs.buf)-start < n {
		// Grow with the bytes that arrive, never to the declared length at once.
		grown := make([]byte, start, max(2*cap(cs.buf), start+n, 256))
		copy(grown, cs.buf)
		cs.buf = grown
	}
	cs.buf = cs.buf[:start+n]
	if _, err := io.ReadFull(r.r, cs.buf[start:]); err != nil {
		return nil, err
	}
	return cs, nil
}

// basicHeader reads the chunk basic header: the header format and the chunk stream id.
func (r *Reader) basicHeader() (format byte, id uint32, err error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	format, id = b>>6, uint32(b&0x3f)
	switch id {
	case 0:
		b, err := r.r.ReadByte()
		return format, 64 + uint32(b), err
	case 1:
		if _, err := io.ReadFull(r.r, r.hdr[:2]); err != nil {
			return 0, 0, err
		}
		return format, 64 + uint32(r.hdr[0]) + uint32(r.hdr[1])<<8, nil
	}
	return format, id, nil
}

// messageHeader reads the message header of a chunk (types 0 to 3) and, when the chunk begins a
// message, checks the declared length.
func (r *Reader) messageHeader(cs *chunkStream, format byte) error {
	sizes := [4]int{11, 7, 3, 0}
	h := r.hdr[:sizes[format]]
	if _, err := io.ReadFull(r.r, h); err != nil {
		return err
	}
	if format == 3 && !cs.started {
		return fmt.Errorf("a type 3 chunk before any header")
	}
	cs.started = true
	var ts uint32
	if format < 3 {
		ts = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		cs.extended = ts == 0xffffff
	}
	if cs.extended {
		// Type 3 chunks repeat the extended timestamp of their stream's last header.
		var ext [4]byte
		if _, err := io.ReadFull(r.r, ext[:]); err != nil {
			return err
		}
		if format < 3 {
			ts = binary.BigEndian.Uint32(ext[:])
		}
	}
	if format < 3 && cs.open {
		r.abandon(cs) // a new header in the middle of a message: the peer gave that message up
	}
	if format <= 1 {
		cs.length = uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
		cs.typ = h[6]
	}
	if format == 0 {
		cs.streamID = binary.LittleEndian.Uint32(h[7:11])
	}
	if cs.open {
		return nil // a continuation chunk
	}
	// This chunk begins a message: its timestamp is absolute (type 0) or a delta.
	switch format {
	case 0:
		cs.timestamp, cs.delta = ts, 0
	case 1, 2:
		cs.delta = ts
		cs.timestamp += ts
	case 3:
		cs.timestamp += cs.delta
	}
	if limit := r.limit(cs.typ); int(cs.length) > limit {
		return fmt.Errorf("message type %d of %d bytes (limit %d)", cs.typ, cs.length, limit)
	}
	if (cs.typ == TypeAudio || cs.typ == TypeVideo) && cs.length > 0 {
		size := min(int(cs.length), mediaAhead)
		if err := r.reserve(size); err != nil {
			return err
		}
		cs.media = media.NewBuffer(size)
		cs.buf = cs.media.Bytes()[:0]
	}
	cs.open = true
	return nil
}

// growMedia makes the buffer of an audio or video message hold need bytes: it doubles, up to
// the declared length, so that it follows the bytes that arrive.
func (r *Reader) growMedia(cs *chunkStream, need int) error {
	old := cs.media.Bytes()
	if need <= len(old) {
		return nil
	}
	size := min(int(cs.length), max(2*len(old), need))
	if err := r.reserve(size - len(old)); err != nil {
		return err
	}
	grown := media.NewBuffer(size)
	copy(grown.Bytes(), old[:len(cs.buf)])
	cs.media.Release()
	cs.media = grown
	return nil
}

// reserve counts n more bytes of unfinished messages, within Limits.MaxBuffered.
func (r *Reader) reserve(n int) error {
	if r.buffered+n > r.lim.MaxBuffered {
		return fmt.Errorf("more than %d bytes of unfinished messages", r.lim.MaxBuffered)
	}
	r.buffered += n
	return nil
}

// abandon drops the unfinished message of a chunk stream.
func (r *Reader) abandon(cs *chunkStream) {
	if cs.media != nil {
		r.buffered -= len(cs.media.Bytes())
		cs.media.Release()
		cs.media, cs.buf = nil, nil
	} else {
		r.buffered -= len(cs.buf)
		cs.buf = cs.buf[:0]
	}
	cs.open = false
}

// limit is the largest message of a type.
func (r *Reader) limit(typ uint8) int {
	switch typ {
	case TypeAudio, TypeVideo, TypeAggregate:
		return r.lim.MaxMessage
	case TypeSetChunkSize, TypeAbort, TypeAck, TypeUserControl, TypeWindowAckSize, TypeSetPeerBandwidth:
		return maxControl
	}
	return r.lim.MaxCommand
}

// control applies Set Chunk Size and Abort, the two messages that change how chunks are read.
func (r *Reader) control(msg *Message) (bool, error) {
	switch msg.Type {
	case TypeSetChunkSize:
		if len(msg.Payload) < 4 {
			return true, fmt.Errorf("set chunk size of %d bytes", len(msg.Payload))
		}
		n := binary.BigEndian.Uint32(msg.Payload) & 0x7fffffff
		if n < 1 || n > uint32(r.lim.MaxChunkSize) {
			return true, fmt.Errorf("chunk size %d (allowed 1-%d)", n, r.lim.MaxChunkSize)
		}
		r.chunkSize = int(n)
		return true, nil
	case TypeAbort:
		if len(msg.Payload) >= 4 {
			if cs := r.streams[binary.BigEndian.Uint32(msg.Payload)]; cs != nil && cs.open {
				r.abandon(cs)
			}
		}
		return true, nil
	}
	return false, nil
}
