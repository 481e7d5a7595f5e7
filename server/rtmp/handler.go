package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/streamrec/streamrec/server/stream"
)

// handler serves one RTMP connection.
type handler struct {
	gortmp.DefaultHandler
	srv  *Server
	nc   net.Conn
	conn *gortmp.Conn
	log  *slog.Logger
	app  string
	pub  *publisher
}

// readBufs hold message payloads while the publisher turns them into frames (it copies what it
// keeps). They are shared by every connection: a publisher between two messages holds none.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRead: a read buffer grown past this (a huge message) is left to the garbage collector.
const maxPooledRead = 1 << 20

func (h *handler) OnServe(conn *gortmp.Conn) { h.conn = conn }

func (h *handler) OnConnect(_ uint32, cmd *message.NetConnectionConnect) error {
	h.app = cmd.Command.App
	return nil
}

// OnPublish registers the stream. Its name is the last path element of app/name, without query.
func (h *handler) OnPublish(ctx *gortmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) error {
	if h.pub != nil {
		return errors.New("this connection already publishes a stream")
	}
	name := stream.NameFromPath(cmd.PublishingName)
	if name == "" {
		h.refuse(ctx, "NetStream.Publish.BadName", "Stream name is empty")
		return errors.New("empty stream name")
	}
	room := roomOf(cmd.PublishingName)
	st, err := h.srv.reg.Create(stream.Identity{
		Name:      name,
		SessionID: "/" + h.nc.RemoteAddr().String() + "/" + h.nc.LocalAddr().String(),
		Provider:  stream.ProviderRTMP,
		AppKey:    h.app,
		Room:      room != "",
	})
	if err != nil {
		h.log.Warn("publish refused", "stream", name, "err", err)
		h.refuse(ctx, "NetStream.Publish.BadName", err.Error())
		return err
	}
	h.pub = newPublisher(st)
	st.Log().Info("rtmp publish", "app", h.app, "remote", h.nc.RemoteAddr().String(), "room", room)
	return nil
}

// refuse tells the client why in an onStatus error of its own, ahead of go-rtmp's generic
// "Publish failed.", so ffmpeg and OBS show the reason.
func (h *handler) refuse(ctx *gortmp.StreamContext, code, description string) {
	var body bytes.Buffer
	enc := message.NewAMFEncoder(&body, message.EncodingTypeAMF0)
	status := &message.NetStreamOnStatus{InfoObject: message.NetStreamOnStatusInfoObject{
		Level:       message.NetStreamOnStatusLevelError,
		Code:        message.NetStreamOnStatusCode(code),
		Description: description,
	}}
	if err := message.EncodeBodyAnyValues(enc, status); err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = h.conn.Write(wctx, 5, 0, &gortmp.ChunkMessage{
		StreamID: ctx.StreamID,
		Message: &message.CommandMessage{
			CommandName: "onStatus",
			Encoding:    message.EncodingTypeAMF0,
			Body:        &body,
		},
	})
}

func (h *handler) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) error {
	if h.pub != nil {
		h.pub.metadata(data.Payload)
	}
	return nil
}

func (h *handler) OnAudio(ts uint32, payload io.Reader) error {
	if h.pub == nil {
		return nil
	}
	buf, err := read(payload)
	if err != nil {
		return err
	}
	defer putRead(buf)
	return h.pub.audio(ts, buf.Bytes())
}

func (h *handler) OnVideo(ts uint32, payload io.Reader) error {
	if h.pub == nil {
		return nil
	}
	buf, err := read(payload)
	if err != nil {
		return err
	}
	defer putRead(buf)
	return h.pub.video(ts, buf.Bytes())
}

// read returns the payload in a shared buffer, to be given back with putRead.
func read(payload io.Reader) (*bytes.Buffer, error) {
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(payload); err != nil {
		putRead(buf)
		return nil, fmt.Errorf("read rtmp message: %w", err)
	}
	return buf, nil
}

func putRead(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledRead {
		readBufs.Put(buf)
	}
}

func (h *handler) OnFCUnpublish(uint32, *message.NetStreamFCUnpublish) error {
	h.end()
	return nil
}

func (h *handler) OnDeleteStream(uint32, *message.NetStreamDeleteStream) error {
	h.end()
	return nil
}

// OnClose runs when the connection ends for any reason: a publisher that drops mid-stream
// ends its stream, and so its recording, cleanly.
func (h *handler) OnClose() {
	h.end()
	h.srv.forget(h.nc)
}

func (h *handler) end() {
	if h.pub != nil {
		h.pub.end()
		h.pub = nil
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
