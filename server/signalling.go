package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"github.com/streamrec/streamrec/conf"
	"github.com/streamrec/streamrec/server/wcs"
	"github.com/streamrec/streamrec/server/webrtc"
)

// signalling is the WCS WebSocket signalling on ws.port and wss.port with the WebRTC ingest
// behind it.
type signalling struct {
	engine *webrtc.Engine
	wcs    *wcs.Server
}

// startSignalling opens ws.port and wss.port (with the HTTPS certificate) and the WebRTC media
// ports; nil when both signalling ports are 0.
func (s *Server) startSignalling(st *conf.Settings) (*signalling, error) {
	if st.WSPort == 0 && st.WSSPort == 0 {
		return nil, nil
	}
	engine, err := webrtc.New(webrtc.Config{
		PortFrom: st.MediaPortFrom,
		PortTo:   st.MediaPortTo,
		Formats:  func() map[string]string { return s.Settings.Current().RecordFormats },
		Log:      s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("media_port_from/media_port_to: %w", err)
	}
	sg := &signalling{engine: engine, wcs: wcs.New(wcs.Config{Streams: s.Streams, WebRTC: engine, Log: s.log})}
	for _, l := range []struct {
		key  string
		port int
		tls  bool
	}{{"ws.port", st.WSPort, false}, {"wss.port", st.WSSPort, true}} {
		if l.port == 0 {
			continue
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(l.port))
		if err != nil {
			sg.close()
			return nil, fmt.Errorf("%s %d: %w", l.key, l.port, err)
		}
		if l.tls {
			cfg, err := s.tlsConfig(st)
			if err != nil {
				ln.Close()
				sg.close()
				return nil, err
			}
			ln = tls.NewListener(ln, cfg)
		}
		sg.wcs.Serve(ln)
		s.log.Info("listening", "addr", ln.Addr().String(), "signalling", l.key)
	}
	return sg, nil
}

// close ends every WebRTC publication (their recordings are finished) and the listeners.
func (sg *signalling) close() {
	sg.wcs.Close()
	sg.engine.Close()
}
