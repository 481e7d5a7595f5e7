package server

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/rtsp"
	"github.com/streamrec/streamrec/internal/wcs"
	"github.com/streamrec/streamrec/internal/webrtc"
)

// signalling is the WCS WebSocket signalling on ws.port and wss.port with the WebRTC ingest
// behind it.
type signalling struct {
	wcs *wcs.Server
}

// startWebRTC sets up the WebRTC ingest (the media ports) that WCS signalling and WHIP share;
// nil when no listener could reach it (ws, wss, http and https ports all 0).
func (s *Server) startWebRTC(st *conf.Settings) (*webrtc.Engine, error) {
	if st.WSPort == 0 && st.WSSPort == 0 && st.HTTPPort == 0 && st.HTTPSPort == 0 {
		return nil, nil
	}
	engine, err := webrtc.New(webrtc.Config{
		PortFrom:     st.MediaPortFrom,
		PortTo:       st.MediaPortTo,
		Formats:      func() map[string]string { return s.Settings.Current().RecordFormats },
		MaxPending:   func() int { return s.Settings.Current().MaxPendingWebRTC },
		MediaTimeout: func() time.Duration { return s.Settings.Current().MediaTimeout },
		NAT:          webrtc.NAT{PublicIPs: st.PublicIPs, LocalIP: st.LocalIP, TCPPort: st.ICETCPPort, STUN: st.STUN},
		Log:          s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	return engine, nil
}

// startSignalling opens ws.port and wss.port (with the HTTPS certificate) in front of the
// WebRTC ingest; nil when both signalling ports are 0.
func (s *Server) startSignalling(st *conf.Settings, engine *webrtc.Engine) (*signalling, error) {
	if st.WSPort == 0 && st.WSSPort == 0 {
		return nil, nil
	}
	cfg := wcs.Config{Streams: s.Streams, WebRTC: engine, Log: s.log}
	if s.Cameras != nil {
		cfg.Cameras = &cameraCapture{m: s.Cameras, users: map[string]int{}}
	}
	sg := &signalling{wcs: wcs.New(cfg)}
	for _, l := range []struct {
		name    string
		address string
		port    int
		tls     bool
	}{{"ws", st.WSAddress, st.WSPort, false}, {"wss", st.WSSAddress, st.WSSPort, true}} {
		if l.port == 0 {
			continue
		}
		ln, err := s.listen(st, l.name, l.address, l.port)
		if err != nil {
			sg.close()
			return nil, err
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
		s.log.Info("listening", "addr", ln.Addr().String(), "signalling", l.name+".port")
	}
	return sg, nil
}

// close ends the signalling sessions and listeners.
func (sg *signalling) close() {
	sg.wcs.Close()
}

// cameraCapture lends RTSP cameras to signalling sessions that play them by URL. A camera that
// a session added is temporary (never saved in the camera list) and stops when the last
// session playing it ends; a camera from the list is left alone.
type cameraCapture struct {
	m     *rtsp.Manager
	mu    sync.Mutex
	users map[string]int // by URL without credentials: sessions capturing a temporary camera
}

func (c *cameraCapture) Capture(uri string) (string, error) {
	cam, err := c.m.Ensure(uri)
	if err != nil {
		return "", err
	}
	if cam.Temporary {
		c.mu.Lock()
		c.users[rtsp.StripCredentials(uri)]++
		c.mu.Unlock()
	}
	return cam.LocalStreamName, nil
}

func (c *cameraCapture) Release(uri string) {
	key := rtsp.StripCredentials(uri)
	c.mu.Lock()
	n, ok := c.users[key]
	if ok {
		n--
		c.users[key] = n
		if n <= 0 {
			delete(c.users, key)
		}
	}
	c.mu.Unlock()
	if ok && n <= 0 {
		c.m.Remove(uri, "")
	}
}
