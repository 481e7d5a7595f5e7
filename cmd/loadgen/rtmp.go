package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// RTMP chunk streams for media, as ffmpeg uses them.
const (
	csAudio      = 4
	csVideo      = 6
	csData       = 8
	rtmpChunkOut = 4096
)

// publishRTMP publishes the FLV file under name to base (rtmp://host:port/app) until ctx ends,
// looping the file with continuous timestamps from tsBase (ms). Tags are sent when due on the
// wall clock. When ctx ends the publication stays open, sending nothing, until release is closed.
func publishRTMP(ctx context.Context, release <-chan struct{}, base, name string, file *flvFile, tsBase uint32, st *streamStats) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	app := strings.Trim(u.Path, "/")
	if err := loopbackOnly(u.Host); err != nil {
		return err
	}
	quiet := logrus.New()
	quiet.Out = io.Discard
	d := net.Dialer{Timeout: 5 * time.Second}
	cc, err := gortmp.DialWithDialer(&d, "rtmp", u.Host, &gortmp.ConnConfig{Logger: quiet})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer cc.Close()
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{
		App: app, Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; streamrec-loadgen)", TCURL: base,
	}}); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	s, err := cc.CreateStream(nil, rtmpChunkOut)
	if err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	if err := s.Publish(&message.NetStreamPublish{PublishingName: name, PublishingType: "live"}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if file.meta != nil {
		if err := s.Write(csData, 0, &message.DataMessage{
			Name: "@setDataFrame", Encoding: message.EncodingTypeAMF0, Body: bytes.NewReader(file.meta),
		}); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	for _, t := range file.headers {
		if err := writeTag(s, t, tsBase); err != nil {
			return fmt.Errorf("sequence header: %w", err)
		}
	}
	start := time.Now()
	st.start(start)
	defer st.end()
	for loop := 0; ; loop++ {
		off := time.Duration(loop) * file.period
		for _, t := range file.frames {
			at := off + time.Duration(t.ts)*time.Millisecond
			if err := st.wait(ctx, start, at); err != nil {
				st.end()
				// Sending is over: hold the publication open until released, then end it
				// gracefully (deleteStream), so the server finishes the recording now.
				<-release
				return cc.DeleteStream(&message.NetStreamDeleteStream{StreamID: s.StreamID()})
			}
			if err := writeTag(s, t, tsBase+uint32(at/time.Millisecond)); err != nil {
				return fmt.Errorf("send at %v: %w", at, err)
			}
			st.sent(t.typ == flvVideo, t.key(), len(t.body))
		}
	}
}

// writeTag sends one FLV tag as an RTMP message with timestamp ts (ms).
func writeTag(s *gortmp.Stream, t flvTag, ts uint32) error {
	if t.typ == flvVideo {
		return s.Write(csVideo, ts, &message.VideoMessage{Payload: bytes.NewReader(t.body)})
	}
	return s.Write(csAudio, ts, &message.AudioMessage{Payload: bytes.NewReader(t.body)})
}
