package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/streamrec/streamrec/internal/rtmp/amf0"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/tcpbatch"
)

// Chunk streams of the server's replies, as RTMP servers use them.
const (
	csControl = 2 // protocol control and user control messages
	csCommand = 3 // replies to connection commands
	csStream  = 5 // onStatus of a message stream
)

// Window sizes the server announces: the peer acknowledges every ackWindow bytes it receives,
// which for a publisher are only the server's few replies.
const ackWindow = 2_500_000

// conn is one RTMP connection, served by one goroutine from handshake to close.
type conn struct {
	srv *Server
	nc  net.Conn
	in  *counter
	br  *tcpbatch.Reader // publishers' bytes are read in batches
	r   *chunk.Reader
	w   *chunk.Writer
	log *slog.Logger

	app       string
	connected bool
	streams   uint32 // message streams made by createStream, numbered 1..streams
	pub       *publisher

	peerWindow uint32 // the peer's acknowledgement window, 0 before it set one
	acked      uint64 // bytes received when the last acknowledgement was sent
}

// counter counts the bytes read from the connection, for acknowledgements.
type counter struct {
	r io.Reader
	n uint64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

func (s *Server) serve(nc net.Conn) {
	defer s.forget(nc)
	br := tcpbatch.New(nc)
	c := &conn{srv: s, nc: nc, br: br, in: &counter{r: br}, log: s.log.With("remote", nc.RemoteAddr().String())}
	err := c.run()
	defer nc.Close()
	switch {
	case quiet(err):
		c.end()
		c.log.Debug("rtmp connection closed", "err", err)
	case c.pub != nil:
		// The server ends this publication (idle, protocol violation): say why on the stream.
		c.pub.st.Log().Warn("rtmp publisher dropped", "err", err)
		c.pub.st.UnpublishBecause(err.Error())
		c.pub = nil
	default:
		host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
		if ok, hidden := s.ended.Allow(host); ok {
			c.log.Warn("rtmp connection dropped (logged once a minute per address)", "err", err, "alsoDropped", hidden)
		}
	}
}

// quiet tells the errors of a connection that simply ended.
func quiet(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *conn) run() error {
	br := bufio.NewReaderSize(c.in, readBuffer)
	c.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := chunk.Handshake(br, c.nc); err != nil {
		return timedOut(err, "no complete handshake within", handshakeTimeout)
	}
	c.r, c.w = chunk.NewReader(br, limits), chunk.NewWriter(c.nc)
	c.nc.SetReadDeadline(time.Now().Add(connectTimeout))
	for {
		msg, err := c.r.Read()
		if err != nil {
			return timedOut(err, c.waitingFor(), c.waitLimit())
		}
		if err := c.acknowledge(); err != nil {
			return err
		}
		if err := c.handle(msg); err != nil {
			return err
		}
	}
}

// waitingFor says what did not come in time, for a timeout's message.
func (c *conn) waitingFor() string {
	switch {
	case !c.connected:
		return "no connect command within"
	case c.pub == nil:
		return "no publish command within"
	}
	return "nothing received (idle publisher) for"
}

func (c *conn) waitLimit() time.Duration {
	switch {
	case !c.connected:
		return connectTimeout
	case c.pub == nil:
		return publishTimeout
	}
	return idleTimeout
}

// timedOut words a deadline's error as what did not happen in time.
func timedOut(err error, what string, limit time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s %v", what, limit)
	}
	return err
}

// acknowledge sends an Acknowledgement when the peer's window is full, as the protocol asks.
func (c *conn) acknowledge() error {
	if c.peerWindow == 0 || c.in.n-c.acked < uint64(c.peerWindow) {
		return nil
	}
	c.acked = c.in.n
	return c.send(csControl, chunk.TypeAck, 0, binary.BigEndian.AppendUint32(nil, uint32(c.in.n)))
}

func (c *conn) send(cs uint32, typ uint8, streamID uint32, payload []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.w.Write(&chunk.Message{ChunkStream: cs, Type: typ, StreamID: streamID, Payload: payload})
}

func (c *conn) handle(m *chunk.Message) error {
	defer m.Buf.Release() // a frame made of the payload took its own reference
	switch m.Type {
	case chunk.TypeAudio:
		if c.pub != nil {
			if err := c.pub.audio(m.Timestamp, m.Payload, m.Buf); err != nil {
				return err
			}
			if msg := c.pub.takeRefusal(); msg != "" {
				return c.status(m.StreamID, "warning", "NetStream.Publish.AudioRefused", msg)
			}
		}
	case chunk.TypeVideo:
		if c.pub != nil {
			return c.pub.video(m.Timestamp, m.Payload, m.Buf)
		}
	case chunk.TypeCommandAMF0, chunk.TypeCommandAMF3:
		vals, err := amf0.Decode(amf0Body(m))
		if err != nil {
			return fmt.Errorf("command: %w", err)
		}
		return c.command(m, vals)
	case chunk.TypeDataAMF0, chunk.TypeDataAMF3:
		if c.pub == nil {
			return nil
		}
		vals, err := amf0.Decode(amf0Body(m))
		if err != nil {
			c.pub.warnOnce("metadata", "bad metadata ignored", err)
			return nil
		}
		c.pub.metadata(vals)
	case chunk.TypeWindowAckSize:
		if len(m.Payload) >= 4 {
			c.peerWindow = binary.BigEndian.Uint32(m.Payload)
		}
	case chunk.TypeAggregate:
		if c.pub != nil {
			c.pub.warnOnce("aggregate", "aggregate messages are not recorded", nil)
		}
	}
	return nil
}

// amf0Body is the AMF0 part of a command or data message: an AMF3 message (type 15 or 17)
// starts with a format byte, then carries AMF0 values as every publisher sends them.
func amf0Body(m *chunk.Message) []byte {
	if (m.Type == chunk.TypeCommandAMF3 || m.Type == chunk.TypeDataAMF3) && len(m.Payload) > 0 {
		return m.Payload[1:]
	}
	return m.Payload
}

// command handles the commands of a publisher: connect, createStream, publish, and the end.
func (c *conn) command(m *chunk.Message, vals []any) error {
	name, _ := arg(vals, 0).(string)
	txid, _ := arg(vals, 1).(float64)
	if !c.connected && name != "connect" {
		return fmt.Errorf("command %.40q before connect", name)
	}
	switch name {
	case "connect":
		return c.connect(txid, vals)
	case "createStream":
		if c.streams >= maxMessageStreams {
			return fmt.Errorf("more than %d createStream calls", maxMessageStreams)
		}
		c.streams++
		return c.reply(csCommand, 0, "_result", txid, nil, c.streams)
	case "publish":
		return c.publish(m.StreamID, vals)
	case "play":
		c.status(m.StreamID, "error", "NetStream.Play.Failed", "streamrec records streams; it does not play them")
		return errors.New("play is not served")
	case "FCUnpublish", "deleteStream", "closeStream":
		c.end()
	}
	return nil // releaseStream, FCPublish, _checkbw, ... need no answer
}

func arg(vals []any, i int) any {
	if i < len(vals) {
		return vals[i]
	}
	return nil
}

func (c *conn) connect(txid float64, vals []any) error {
	if c.connected {
		return errors.New("connect twice")
	}
	obj, _ := arg(vals, 2).(amf0.Object)
	c.app, _ = obj.String("app")
	c.connected = true
	c.nc.SetReadDeadline(time.Now().Add(publishTimeout))
	window := binary.BigEndian.AppendUint32(nil, ackWindow)
	if err := c.send(csControl, chunk.TypeWindowAckSize, 0, window); err != nil {
		return err
	}
	if err := c.send(csControl, chunk.TypeSetPeerBandwidth, 0, append(window, 2)); err != nil { // 2: dynamic
		return err
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.w.SetChunkSize(4096); err != nil {
		return err
	}
	return c.reply(csCommand, 0, "_result", txid,
		amf0.Object{{Key: "fmsVer", Value: "FMS/3,5,7,7009"}, {Key: "capabilities", Value: 31}},
		amf0.Object{
			{Key: "level", Value: "status"},
			{Key: "code", Value: "NetConnection.Connect.Success"},
			{Key: "description", Value: "Connection succeeded."},
			{Key: "objectEncoding", Value: 0},
		})
}

// publish registers the stream. Its name is the last path element of app/name, without query.
func (c *conn) publish(streamID uint32, vals []any) error {
	if c.pub != nil {
		return errors.New("this connection already publishes a stream")
	}
	if streamID == 0 || streamID > c.streams {
		return fmt.Errorf("publish on message stream %d, which createStream did not make", streamID)
	}
	path, _ := arg(vals, 3).(string)
	name := stream.NameFromPath(path)
	if name == "" {
		c.status(streamID, "error", "NetStream.Publish.BadName", "Stream name is empty")
		return errors.New("empty stream name")
	}
	room := roomOf(path)
	st, err := c.srv.reg.Create(stream.Identity{
		Name:      name,
		SessionID: "/" + c.nc.RemoteAddr().String() + "/" + c.nc.LocalAddr().String(),
		Provider:  stream.ProviderRTMP,
		AppKey:    c.app,
		Room:      room != "",
	})
	if err != nil {
		c.log.Warn("publish refused", "stream", name, "err", err)
		c.status(streamID, "error", "NetStream.Publish.BadName", err.Error())
		return err
	}
	c.pub = newPublisher(st)
	c.br.Batch(batchBytes, batchDelay, idleTimeout) // and it drops an idle publisher
	st.Log().Info("rtmp publish", "app", c.app, "remote", c.nc.RemoteAddr().String(), "room", room)
	return c.status(streamID, "status", "NetStream.Publish.Start", "Publishing "+name+".")
}

// status sends an onStatus on a message stream; ffmpeg and OBS show its description.
func (c *conn) status(streamID uint32, level, code, description string) error {
	return c.reply(csStream, streamID, "onStatus", 0, nil, amf0.Object{
		{Key: "level", Value: level}, {Key: "code", Value: code}, {Key: "description", Value: description},
	})
}

func (c *conn) reply(cs, streamID uint32, values ...any) error {
	return c.send(cs, chunk.TypeCommandAMF0, streamID, amf0.Append(nil, values...))
}

// end unpublishes: the recording is finished before this returns.
func (c *conn) end() {
	if c.pub != nil {
		c.pub.end()
		c.pub = nil
	}
}

// roomOf returns the conference room a publishing name puts the stream in: the "room" query
// parameter ("cam1?room=meeting"), "" for none. A stream in a room is never rotated.
func roomOf(name string) string {
	_, query, ok := strings.Cut(name, "?")
	if !ok {
		return ""
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	room := q.Get("room")
	if strings.EqualFold(room, "false") || room == "0" {
		return ""
	}
	return room
}
