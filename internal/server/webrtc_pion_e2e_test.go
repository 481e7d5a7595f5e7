package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// This file publishes with a Go WebRTC client (pion) speaking the WCS protocol over a plain
// WebSocket, sending a clip with sync markers (a white frame and a 100 ms beep at every whole
// second) with full control over timing, RTCP sender reports and packet loss. What the browser
// tests cannot do deterministically, this does: video sent 150 ms after its audio (as a slow
// encoder or a congested path would), packets lost and retransmitted on NACK, a packet lost for
// good (the server must skip to a keyframe and ask for one with PLI).

const (
	clipSeconds = 6
	videoDelay  = 150 * time.Millisecond
)

// syncSources makes the clip once: H.264 baseline Annex-B with access unit delimiters, keyframe
// every second; Opus 48 kHz 20 ms packets in Ogg.
func syncSources(t *testing.T) (h264, ogg string) {
	t.Helper()
	st.RequireFFmpeg(t)
	dir := t.TempDir()
	h264, ogg = filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=black:s=320x240:r=30:d=%d,drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='eq(mod(n\\,30)\\,0)'", clipSeconds),
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0", "-x264-params", "aud=1", "-f", "h264", h264); err != nil {
		t.Fatalf("make video: %v %s", err, out)
	}
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("aevalsrc='if(lt(mod(t\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:d=%d", clipSeconds),
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", ogg); err != nil {
		t.Fatalf("make audio: %v %s", err, out)
	}
	return h264, ogg
}

// accessUnits splits an Annex-B stream at its access unit delimiters.
func accessUnits(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][]byte
	var cur []byte
	for {
		n, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n.UnitType == h264reader.NalUnitTypeAUD {
			if cur != nil {
				aus = append(aus, cur)
			}
			cur = []byte{}
			continue
		}
		cur = append(cur, 0, 0, 0, 1)
		cur = append(cur, n.Data...)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// oggPackets returns the Opus packets of an Ogg file (without the two header packets).
func oggPackets(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	var cur []byte
	for len(b) >= 27 && string(b[:4]) == "OggS" {
		nseg := int(b[26])
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		size := 27 + nseg
		for _, l := range lacing {
			size += int(l)
		}
		b = b[size:]
	}
	if len(pkts) < 3 {
		t.Fatalf("%s: %d Ogg packets", path, len(pkts))
	}
	return pkts[2:] // OpusHead, OpusTags
}

// wcsClient speaks the WCS protocol over a plain WebSocket.
type wcsClient struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan map[string]json.RawMessage
	wmu    sync.Mutex
}

func dialWCS(t *testing.T, url string) *wcsClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &wcsClient{t: t, c: c, frames: make(chan map[string]json.RawMessage, 64)}
	go func() {
		defer close(w.frames)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			var f map[string]json.RawMessage
			if json.Unmarshal(b, &f) == nil {
				var msg string
				json.Unmarshal(f["message"], &msg)
				if msg == "ping" {
					w.send("pong", nil)
					continue
				}
				w.frames <- f
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return w
}

func (w *wcsClient) send(message string, data any) {
	b, _ := json.Marshal(map[string]any{"message": message, "data": []any{data}})
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.c.WriteMessage(websocket.TextMessage, b)
}

// next returns the data array of the next frame named message.
func (w *wcsClient) next(message string, timeout time.Duration) ([]json.RawMessage, error) {
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return nil, errors.New("connection closed")
			}
			var msg string
			var data []json.RawMessage
			json.Unmarshal(f["message"], &msg)
			json.Unmarshal(f["data"], &data)
			if msg == message {
				return data, nil
			}
			if msg == "notifyStreamStatusEvent" || msg == "fail" {
				return nil, fmt.Errorf("got %s %s while waiting for %s", msg, data, message)
			}
		case <-deadline:
			return nil, fmt.Errorf("no %s within %v", message, timeout)
		}
	}
}

// dropper loses chosen packets on their first transmission; retransmissions (the NACK
// responder sends them through it again) pass.
type dropper struct {
	interceptor.NoOp
	mu      sync.Mutex
	drop    map[uint16]bool // sequence numbers to lose once
	dropped map[uint16]bool
	resent  atomic.Int32
}

func (d *dropper) NewInterceptor(string) (interceptor.Interceptor, error) { return d, nil }

func (d *dropper) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if info.MimeType != webrtc.MimeTypeH264 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		d.mu.Lock()
		lose := d.drop[h.SequenceNumber] && !d.dropped[h.SequenceNumber]
		if lose {
			d.dropped[h.SequenceNumber] = true
		} else if d.dropped[h.SequenceNumber] {
			d.resent.Add(1)
		}
		d.mu.Unlock()
		if lose {
			return len(payload), nil
		}
		return w.Write(h, payload, a)
	})
}

// pionPublisher is a WebRTC publisher in Go.
type pionPublisher struct {
	pc           *webrtc.PeerConnection
	video, audio *webrtc.TrackLocalStaticRTP
	vs, as       *webrtc.RTPSender
	drops        *dropper
	plis         atomic.Int32
	nackMu       sync.Mutex
	nacked       map[uint16]int // how often each video sequence number was asked for again
	neverSent    atomic.Int32   // the sequence number lost for good, +1 (0: none)
	connected    chan struct{}
	// answer, when set, rewrites the server's SDP answer before it is applied (to route the
	// media through a relay).
	answer func(string) string
}

// newPionPublisher makes an H.264 + Opus publisher.
func newPionPublisher(t *testing.T) *pionPublisher {
	return newPionPublisherOf(t, webrtc.MimeTypeH264)
}

// newPionPublisherOf makes a publisher of video codec mime (H.264 or VP8) and Opus.
func newPionPublisherOf(t *testing.T, mime string) *pionPublisher {
	t.Helper()
	return newPionPublisherWith(t, mime, nil)
}

// newPionPublisherWith is newPionPublisherOf with more ICE settings (networks: ICE over TCP).
func newPionPublisherWith(t *testing.T, mime string, settings func(*webrtc.SettingEngine)) *pionPublisher {
	t.Helper()
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	fmtp := ""
	if mime == webrtc.MimeTypeH264 {
		fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb,
	}, PayloadType: 102}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
	}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	p := &pionPublisher{drops: &dropper{drop: map[uint16]bool{}, dropped: map[uint16]bool{}}, connected: make(chan struct{}),
		nacked: map[uint16]int{}}
	ir := &interceptor.Registry{}
	ir.Add(p.drops) // inner to the NACK responder: it sees first transmissions and retransmissions
	responder, err := nack.NewResponderInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	ir.Add(responder)
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	if settings != nil {
		settings(&se)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	if p.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.pc.Close() })
	p.video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, "video", "sync")
	p.audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "sync")
	if p.vs, err = p.pc.AddTrack(p.video); err != nil {
		t.Fatal(err)
	}
	if p.as, err = p.pc.AddTrack(p.audio); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	for _, s := range []*webrtc.RTPSender{p.vs, p.as} {
		go func() {
			for {
				pkts, _, err := s.ReadRTCP()
				if err != nil {
					return
				}
				for _, pkt := range pkts {
					switch pkt := pkt.(type) {
					case *rtcp.PictureLossIndication:
						p.plis.Add(1)
					case *rtcp.TransportLayerNack:
						p.nackMu.Lock()
						for _, pair := range pkt.Nacks {
							for _, seq := range pair.PacketList() {
								p.nacked[seq]++
							}
						}
						p.nackMu.Unlock()
					}
				}
			}
		}()
	}
	return p
}

// publish negotiates through the WCS signalling and waits for ICE and DTLS.
func (p *pionPublisher) publish(t *testing.T, w *wcsClient, id, name string) error {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	// Like the Web SDK: the offer goes without waiting for candidates.
	w.send("publishStream", map[string]any{"mediaSessionId": id, "name": name, "published": true, "hasVideo": true,
		"hasAudio": true, "status": "PENDING", "record": true, "mediaProvider": "WebRTC", "sdp": offer.SDP})
	data, err := w.next("setRemoteSDP", 10*time.Second)
	if err != nil {
		return err
	}
	var answer string
	if len(data) != 2 || json.Unmarshal(data[1], &answer) != nil {
		return fmt.Errorf("setRemoteSDP %s", data)
	}
	if p.answer != nil {
		answer = p.answer(answer)
	}
	return p.accept(answer)
}

// accept applies the server's answer and waits for ICE and DTLS.
func (p *pionPublisher) accept(answer string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	select {
	case <-p.connected:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("ICE/DTLS did not connect")
	}
}

// unpublish stops publishing and returns the name of the finished recording.
func (w *wcsClient) unpublish(id, name string) (string, error) {
	w.send("unPublishStream", map[string]any{"mediaSessionId": id, "name": name})
	for {
		data, err := w.next("notifyStreamStatusEvent", 15*time.Second)
		if err != nil {
			return "", err
		}
		var ev struct{ Status, RecordName, Info string }
		json.Unmarshal(data[0], &ev)
		switch ev.Status {
		case "UNPUBLISHED":
			return ev.RecordName, nil
		case "FAILED":
			return "", fmt.Errorf("FAILED: %s", ev.Info)
		}
	}
}

// sendOptions say how to send the clip.
type sendOptions struct {
	senderReports bool
	retransmitted []int // video frames that lose a packet, recovered by NACK
	lostForGood   int   // a video frame that loses a packet for good (0: none)
}

// send plays the clip in real time: audio at capture time, video videoDelay later; sender
// reports (when on) map both RTP clocks to the capture clock, as browsers do.
func (p *pionPublisher) send(aus, opus [][]byte, o sendOptions) error {
	vpk := rtp.NewPacketizer(1200, 0, 0, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	apk := rtp.NewPacketizer(1200, 0, 0, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)
	vssrc := uint32(p.vs.GetParameters().Encodings[0].SSRC)
	assrc := uint32(p.as.GetParameters().Encodings[0].SSRC)
	type event struct {
		at    time.Duration
		video bool
		i     int
	}
	var events []event
	for i := range aus {
		events = append(events, event{videoDelay + time.Duration(i)*time.Second/30, true, i})
	}
	for i := range opus {
		events = append(events, event{time.Duration(i) * 20 * time.Millisecond, false, i})
	}
	for at := time.Duration(0); at < clipSeconds*time.Second+videoDelay; at += 250 * time.Millisecond {
		events = append(events, event{at, false, -1}) // sender reports
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
	var vts0, ats0 uint32
	first := true
	ntpEpoch := uint64(3_950_000_000) << 32
	ntpAt := func(d time.Duration) uint64 {
		return ntpEpoch + uint64(d/time.Second)<<32 + uint64(d%time.Second)<<32/uint64(time.Second)
	}
	lost := map[int]bool{}
	for _, f := range o.retransmitted {
		lost[f] = true
	}
	start := time.Now()
	for _, e := range events {
		time.Sleep(time.Until(start.Add(e.at)))
		switch {
		case e.i < 0:
			if !o.senderReports || first {
				continue
			}
			// The capture instant of what is being sent now, per track.
			va, aa := e.at-videoDelay, e.at
			if va < 0 {
				continue
			}
			if err := p.pc.WriteRTCP([]rtcp.Packet{
				&rtcp.SenderReport{SSRC: vssrc, NTPTime: ntpAt(va), RTPTime: vts0 + uint32(va*90000/time.Second)},
				&rtcp.SenderReport{SSRC: assrc, NTPTime: ntpAt(aa), RTPTime: ats0 + uint32(aa*48000/time.Second)},
			}); err != nil {
				return err
			}
		case e.video:
			pkts := vpk.Packetize(aus[e.i], 3000)
			if e.i == 0 {
				vts0 = pkts[0].Timestamp
			}
			for k, pkt := range pkts {
				if lost[e.i] && k == len(pkts)/2 {
					p.drops.mu.Lock()
					p.drops.drop[pkt.SequenceNumber] = true
					p.drops.mu.Unlock()
				}
				if o.lostForGood > 0 && e.i == o.lostForGood && k == len(pkts)/2 {
					p.neverSent.Store(int32(pkt.SequenceNumber) + 1)
					continue // never sent: the NACK responder has nothing to resend
				}
				if err := p.video.WriteRTP(pkt); err != nil {
					return err
				}
			}
		default:
			pkts := apk.Packetize(opus[e.i], 960)
			if first {
				ats0, first = pkts[0].Timestamp, false
			}
			for _, pkt := range pkts {
				if err := p.audio.WriteRTP(pkt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// markerTimes returns when a file's flashes begin and its beeps begin, in seconds.
func markerTimes(t *testing.T, path string) (flashes, beeps []float64) {
	t.Helper()
	out, err := st.Command(t, time.Minute, "ffmpeg", "-v", "info", "-i", path, "-map", "0:v",
		"-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG", "-enc_time_base", "-1", "-f", "null", "-")
	if err != nil {
		t.Fatalf("signalstats: %v", err)
	}
	pts := regexp.MustCompile(`pts_time:([0-9.]+)`)
	yavg := regexp.MustCompile(`lavfi\.signalstats\.YAVG=([0-9.]+)`)
	var cur float64
	white := false
	for _, line := range bytes.Split(out, []byte("\n")) {
		if m := pts.FindSubmatch(line); m != nil {
			cur, _ = strconv.ParseFloat(string(m[1]), 64)
		}
		if m := yavg.FindSubmatch(line); m != nil {
			y, _ := strconv.ParseFloat(string(m[1]), 64)
			if y > 128 && !white {
				flashes = append(flashes, cur)
			}
			white = y > 128
		}
	}
	out, err = st.Command(t, time.Minute, "ffmpeg", "-v", "info", "-i", path, "-map", "0:a",
		"-af", "silencedetect=n=-30dB:d=0.05", "-f", "null", "-")
	if err != nil {
		t.Fatalf("silencedetect: %v", err)
	}
	for _, m := range regexp.MustCompile(`silence_end: ([0-9.]+)`).FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		beeps = append(beeps, v)
	}
	return flashes, beeps
}

// avOffsets pairs each flash with the nearest beep and returns beep minus flash, in seconds.
func avOffsets(flashes, beeps []float64) []float64 {
	var out []float64
	for _, f := range flashes {
		best := math.Inf(1)
		for _, b := range beeps {
			if math.Abs(b-f) < math.Abs(best) {
				best = b - f
			}
		}
		if math.Abs(best) < 0.5 {
			out = append(out, best)
		}
	}
	return out
}

// TestWebRTCPionSyncAndLoss: two Go publishers send the same clip with video 150 ms behind its
// audio. The one that sends RTCP sender reports must be recorded in sync (the server aligns the
// tracks on the sender's capture clock); the one without them shows what arrival times give.
// The first also loses video packets: two come back on NACK (no frame is missing), one is lost
// for good (the server skips to the next keyframe, asks for one with PLI, and the file decodes
// cleanly).
func TestWebRTCPionSyncAndLoss(t *testing.T) {
	e := st.Start(t, nil)
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	if len(aus) != clipSeconds*30 || len(opus) < clipSeconds*50 {
		t.Fatalf("clip: %d video frames, %d audio packets", len(aus), len(opus))
	}
	url := fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"])
	runs := []struct {
		name string
		o    sendOptions
	}{
		{"sr", sendOptions{senderReports: true, retransmitted: []int{20, 50}, lostForGood: 95}},
		{"nosr", sendOptions{}},
	}
	type result struct {
		file   string
		pub    *pionPublisher
		sentAt time.Time
		err    error
	}
	results := make([]result, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[i]
			w := dialWCS(t, url)
			w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
			if _, res.err = w.next("getUserData", 10*time.Second); res.err != nil {
				return
			}
			p := newPionPublisher(t)
			res.pub = p
			id := fmt.Sprintf("5e1d0c3a-0000-4000-8000-00000000000%d", i)
			if res.err = p.publish(t, w, id, "pion-"+r.name); res.err != nil {
				return
			}
			if res.err = p.send(aus, opus, r.o); res.err != nil {
				return
			}
			res.sentAt = time.Now()
			time.Sleep(700 * time.Millisecond) // the last packets through the reorder buffer
			res.file, res.err = w.unpublish(id, "pion-"+r.name)
		}()
	}
	wg.Wait()
	for i, r := range runs {
		res := results[i]
		if res.err != nil {
			t.Errorf("%s: %v", r.name, res.err)
			continue
		}
		path := filepath.Join(e.Records, res.file)
		p := st.ProbeFile(t, path)
		frames := st.Count(p.Video(t).Frames)
		if p.Video(t).CodecName != "h264" || p.Audio(t).CodecName != "aac" {
			t.Errorf("%s: %+v", r.name, p.Streams)
		}
		flashes, beeps := markerTimes(t, path)
		offs := avOffsets(flashes, beeps)
		t.Logf("%s: %d video frames, %.3f s; flashes %v, beeps %v; beep-flash offsets %v", r.name, frames, p.Duration(), flashes, beeps, offs)
		if len(offs) < clipSeconds-2 {
			t.Errorf("%s: only %d sync markers found", r.name, len(offs))
			continue
		}
		worst := 0.0
		for _, o := range offs {
			worst = max(worst, math.Abs(o))
		}
		if r.o.senderReports {
			if worst > 0.025 {
				t.Errorf("%s: audio and video out of sync by up to %.1f ms with sender reports, want at most 25 ms", r.name, worst*1000)
			}
			// 25 frames from the packet lost for good (95) to the next keyframe (120) are skipped;
			// the two packets lost once came back.
			if frames < len(aus)-26 || frames > len(aus)-24 {
				t.Errorf("%s: %d video frames, want %d (all but 95..119)", r.name, frames, len(aus)-25)
			}
			if n := res.pub.drops.resent.Load(); n != 2 {
				t.Errorf("%s: %d lost packets were retransmitted on NACK, want 2", r.name, n)
			}
			// The server asks for the lost packet while it waits for it (700 ms, a NACK every
			// 100 ms), not for as long as pion's NACK generator remembers it.
			res.pub.nackMu.Lock()
			asked := res.pub.nacked[uint16(res.pub.neverSent.Load()-1)]
			res.pub.nackMu.Unlock()
			t.Logf("%s: the packet lost for good was asked for %d times", r.name, asked)
			if asked == 0 || asked > 10 {
				t.Errorf("%s: the packet lost for good was asked for %d times, want 1..10 (while the reorder buffer waits)", r.name, asked)
			}
			if res.pub.plis.Load() == 0 {
				t.Errorf("%s: no PLI after a packet lost for good", r.name)
			}
			if out := decodeErrors(t, path); out != "" {
				t.Errorf("%s: decode errors after the loss: %s", r.name, out)
			}
		} else {
			// Arrival times put video videoDelay late: what the sender reports correct.
			mean := 0.0
			for _, o := range offs {
				mean += o
			}
			mean /= float64(len(offs))
			t.Logf("%s: without sender reports audio leads by %.1f ms (video was sent %v late)", r.name, -mean*1000, videoDelay)
			if frames != len(aus) {
				t.Errorf("%s: %d video frames, want %d", r.name, frames, len(aus))
			}
		}
	}
}

// A WebRTC publisher whose media stops while ICE and DTLS stay up (and its RTCP sender reports
// go on) is ended after media_timeout with the reason, its file finished.
func TestWebRTCPublisherStallEnds(t *testing.T) {
	e := st.Start(t, map[string]string{"media_timeout": "3"})
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p := newPionPublisher(t)
	const id = "5e1d0c3a-0000-4000-8000-0000000000aa"
	if err := p.publish(t, w, id, "stalled"); err != nil {
		t.Fatal(err)
	}
	// 2 s of media, then sender reports only, until clipSeconds: the stall starts at 2 s.
	sent := make(chan error, 1)
	go func() { sent <- p.send(aus[:60], opus[:100], sendOptions{senderReports: true}) }()
	start := time.Now()
	var ev struct{ Status, Info, RecordName string }
	for ev.Status != "FAILED" && ev.Status != "UNPUBLISHED" {
		data, err := w.next("notifyStreamStatusEvent", 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(data[0], &ev)
	}
	took := time.Since(start)
	t.Logf("ended %.1f s after the media began (stall at 2 s): %s %q", took.Seconds(), ev.Status, ev.Info)
	if ev.Status != "FAILED" || ev.Info != "Failed by RTP activity: no media for 3 s" {
		t.Errorf("end of a stalled publisher: %s %q", ev.Status, ev.Info)
	}
	if took < 4500*time.Millisecond || took > 6500*time.Millisecond {
		t.Errorf("ended %v after the media began, want about 2 s + media_timeout (3 s)", took)
	}
	select {
	case err := <-sent:
		if err == nil { // it sent everything, its last sender reports included, before the end
			t.Errorf("the stall was noticed only after the sender reports stopped: the test does not show RTCP is ignored")
		}
	default: // still sending sender reports when the server ended it
	}
	if len(e.LogLines("webrtc publisher failed", "no media for 3 s")) != 1 {
		t.Errorf("no log line about the stall")
	}
	files := mediaFiles(e)
	if len(files) != 1 {
		t.Fatalf("records/: %v, want one file", files)
	}
	path := filepath.Join(e.Records, files[0])
	pr := st.ProbeFile(t, path)
	if d := pr.Duration(); d < 1.5 || d > 2.5 {
		t.Errorf("the file lasts %.3f s, want the 2 s sent", d)
	}
	if frames := st.Count(pr.Video(t).Frames); frames < 55 || frames > 60 {
		t.Errorf("%d video frames, want the 60 sent", frames)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decode errors: %s", out)
	}
}
