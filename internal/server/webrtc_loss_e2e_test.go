package server_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// This file publishes through a lossy, slow path: a UDP relay on loopback between the Go
// publisher and the server that loses packets at random and delays every packet, both ways.

const (
	lossSeconds = 20
	lossRate    = 0.05
	lossDelay   = 50 * time.Millisecond // each way: 100 ms round trip
)

// lossyRelay forwards UDP between clients and the server as a NAT would (each client address
// gets its own socket towards the server), delaying every datagram and losing media datagrams
// (SRTP and SRTCP: first transmissions, retransmissions, NACKs, PLIs, reports) at random. ICE
// and DTLS pass intact, so the test measures the media path only.
type lossyRelay struct {
	t      *testing.T
	conn   *net.UDPConn // what clients send to
	server atomic.Pointer[net.UDPAddr]
	loss   float64
	delay  time.Duration

	mu    sync.Mutex
	rnd   *rand.Rand
	ups   map[string]*net.UDPConn // towards the server, per client address
	owned sync.WaitGroup

	media, lost atomic.Int64
	out         chan delayed
}

type delayed struct {
	b    []byte
	due  time.Time
	send func([]byte)
}

func startLossyRelay(t *testing.T, loss float64, delay time.Duration, seed uint64) *lossyRelay {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{t: t, conn: conn, loss: loss, delay: delay, rnd: rand.New(rand.NewPCG(seed, seed)),
		ups: map[string]*net.UDPConn{}, out: make(chan delayed, 1<<14)}
	r.owned.Add(1)
	go r.fromClients()
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		r.write()
	}()
	t.Cleanup(func() {
		conn.Close()
		r.mu.Lock()
		for _, c := range r.ups {
			c.Close()
		}
		r.mu.Unlock()
		r.owned.Wait()
		close(r.out)
		<-writing
	})
	return r
}

func (r *lossyRelay) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *lossyRelay) fromClients() {
	defer r.owned.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if up := r.upstream(from); up != nil {
			r.pass(buf[:n], func(b []byte) { up.Write(b) })
		}
	}
}

// upstream returns the socket towards the server for a client address, opening it (and the
// goroutine that brings the server's answers back) the first time.
func (r *lossyRelay) upstream(client *net.UDPAddr) *net.UDPConn {
	srv := r.server.Load()
	if srv == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if up := r.ups[client.String()]; up != nil {
		return up
	}
	up, err := net.DialUDP("udp4", nil, srv)
	if err != nil {
		r.t.Errorf("relay: %v", err)
		return nil
	}
	r.ups[client.String()] = up
	r.owned.Add(1)
	go func() {
		defer r.owned.Done()
		buf := make([]byte, 1<<16)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			r.pass(buf[:n], func(b []byte) { r.conn.WriteToUDP(b, client) })
		}
	}()
	return up
}

// pass loses a media datagram at random or queues it for delivery after the delay. The delay
// is the same for every datagram, so one queue in arrival order is also in due order.
func (r *lossyRelay) pass(b []byte, send func([]byte)) {
	if len(b) > 0 && b[0] >= 128 && b[0] <= 191 { // RTP or RTCP (RFC 7983)
		r.media.Add(1)
		r.mu.Lock()
		drop := r.rnd.Float64() < r.loss
		r.mu.Unlock()
		if drop {
			r.lost.Add(1)
			return
		}
	}
	r.out <- delayed{b: append([]byte(nil), b...), due: time.Now().Add(r.delay), send: send}
}

func (r *lossyRelay) write() {
	for d := range r.out {
		time.Sleep(time.Until(d.due))
		d.send(d.b)
	}
}

var candidateLine = regexp.MustCompile(`(?m)^a=candidate:.*\r?\n`)

// route rewrites an SDP answer so that the publisher reaches the server only through the relay:
// the server's loopback candidate becomes the relay's address.
func (r *lossyRelay) route(t *testing.T) func(string) string {
	return func(sdp string) string {
		for _, c := range candidateLine.FindAllString(sdp, -1) {
			f := strings.Fields(c)
			if len(f) >= 8 && strings.EqualFold(f[2], "udp") && f[4] == "127.0.0.1" && f[7] == "host" {
				addr, err := net.ResolveUDPAddr("udp4", "127.0.0.1:"+f[5])
				if err != nil {
					t.Errorf("candidate %q: %v", c, err)
				}
				r.server.Store(addr)
			}
		}
		if r.server.Load() == nil {
			t.Errorf("no loopback UDP candidate in the answer:\n%s", sdp)
		}
		relay := fmt.Sprintf("a=candidate:1 1 udp 2130706431 127.0.0.1 %d typ host\r\n", r.port())
		sdp = candidateLine.ReplaceAllString(sdp, "")
		// One candidate per media section, after its a=mid line.
		sdp = regexp.MustCompile(`(?m)^(a=mid:.*\r?\n)`).ReplaceAllString(sdp, "${1}"+relay)
		return sdp
	}
}

// lossSources makes a lossSeconds clip: 1280x720 at 30 frames/s and about 2.5 Mbit/s, a keyframe
// every second; a still noise pattern and a cap on frame size make the keyframes 45–80 packets, as a browser's are at
// this size (more than pion's default SRTP replay window). As H.264 Annex-B with access unit
// delimiters and as VP8 in IVF; and Opus in Ogg.
func lossSources(t *testing.T) (h264, vp8, ogg string) {
	t.Helper()
	st.RequireFFmpeg(t)
	dir := t.TempDir()
	h264, vp8, ogg = filepath.Join(dir, "v.h264"), filepath.Join(dir, "v.ivf"), filepath.Join(dir, "a.ogg")
	src := fmt.Sprintf("testsrc2=s=1280x720:r=30:d=%d,noise=alls=20", lossSeconds)
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", src, "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0", "-x264-params", "aud=1", "-f", "h264", h264},
		{"-f", "lavfi", "-i", src, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2500k", "-max-intra-rate", "700",
			"-g", "30", "-keyint_min", "30", "-auto-alt-ref", "0", "-f", "ivf", vp8},
		{"-f", "lavfi", "-i", fmt.Sprintf("sine=f=440:r=48000:d=%d", lossSeconds), "-c:a", "libopus", "-b:a", "64k",
			"-frame_duration", "20", "-f", "ogg", ogg},
	} {
		if out, err := st.Command(t, 2*time.Minute, "ffmpeg", append([]string{"-y", "-v", "error"}, args...)...); err != nil {
			t.Fatalf("ffmpeg %v: %v %s", args, err, out)
		}
	}
	return h264, vp8, ogg
}

// ivfFrames returns the frames of an IVF file.
func ivfFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		b, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
}

// sendClip plays video frames at 30 frames/s and Opus packets every 20 ms, in real time, and
// returns the most RTP packets a video frame took.
func (p *pionPublisher) sendClip(mime string, frames, opus [][]byte) (int, error) {
	var pay rtp.Payloader = &codecs.H264Payloader{}
	if mime == webrtc.MimeTypeVP8 {
		pay = &codecs.VP8Payloader{}
	}
	vpk := rtp.NewPacketizer(1200, 0, 0, pay, rtp.NewRandomSequencer(), 90000)
	apk := rtp.NewPacketizer(1200, 0, 0, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)
	type event struct {
		at    time.Duration
		video bool
		i     int
	}
	var events []event
	for i := range frames {
		events = append(events, event{time.Duration(i) * time.Second / 30, true, i})
	}
	for i := range opus {
		events = append(events, event{time.Duration(i) * 20 * time.Millisecond, false, i})
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
	most := 0
	start := time.Now()
	for _, e := range events {
		time.Sleep(time.Until(start.Add(e.at)))
		track, pkts := p.audio, []*rtp.Packet(nil)
		if e.video {
			track, pkts = p.video, vpk.Packetize(frames[e.i], 3000)
			most = max(most, len(pkts))
		} else {
			pkts = apk.Packetize(opus[e.i], 960)
		}
		for _, pkt := range pkts {
			if err := track.WriteRTP(pkt); err != nil {
				return most, err
			}
		}
	}
	return most, nil
}

// TestWebRTCLossAndDelay publishes H.264 and VP8 (20 s, 30 frames/s, a keyframe every second)
// through a relay that loses 5 % of the media packets at random (first transmissions,
// retransmissions and RTCP alike) and delays every packet 50 ms each way. NACK and the reorder
// buffer must bring back nearly everything: at least 97 % of the video frames are recorded and
// each file decodes without an error. The publisher answers a keyframe request only with its
// next scheduled keyframe (at most a second later), which a browser does sooner.
func TestWebRTCLossAndDelay(t *testing.T) {
	e := st.Start(t, nil)
	h264, vp8, ogg := lossSources(t)
	opus := oggPackets(t, ogg)
	url := fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"])
	runs := []struct {
		codec, mime string
		frames      [][]byte
	}{
		{"h264", webrtc.MimeTypeH264, accessUnits(t, h264)},
		{"vp8", webrtc.MimeTypeVP8, ivfFrames(t, vp8)},
	}
	type result struct {
		file  string
		most  int
		relay *lossyRelay
		pub   *pionPublisher
		err   error
	}
	results := make([]result, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		if len(r.frames) != lossSeconds*30 {
			t.Fatalf("%s clip: %d frames", r.codec, len(r.frames))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[i]
			res.relay = startLossyRelay(t, lossRate, lossDelay, uint64(i+1))
			w := dialWCS(t, url)
			w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
			if _, res.err = w.next("getUserData", 10*time.Second); res.err != nil {
				return
			}
			res.pub = newPionPublisherOf(t, r.mime)
			res.pub.answer = res.relay.route(t)
			id := fmt.Sprintf("1055a0c3-0000-4000-8000-00000000000%d", i)
			name := "lossy-" + r.codec
			if res.err = res.pub.publish(t, w, id, name); res.err != nil {
				return
			}
			if res.most, res.err = res.pub.sendClip(r.mime, r.frames, opus); res.err != nil {
				return
			}
			time.Sleep(1500 * time.Millisecond) // the last retransmissions
			res.file, res.err = w.unpublish(id, name)
		}()
	}
	wg.Wait()
	for i, r := range runs {
		res := results[i]
		if res.err != nil {
			t.Errorf("%s: %v", r.codec, res.err)
			continue
		}
		path := filepath.Join(e.Records, res.file)
		p := st.ProbeFile(t, path)
		v := p.Video(t)
		frames := st.Count(v.Frames)
		kept := float64(frames) / float64(len(r.frames))
		t.Logf("%s: %d of %d video frames recorded (%.1f %%); relay lost %d of %d media packets; largest frame %d packets; %d PLI",
			r.codec, frames, len(r.frames), 100*kept, res.relay.lost.Load(), res.relay.media.Load(), res.most, res.pub.plis.Load())
		for _, l := range e.LogLines("webrtc video losses", "lossy-"+r.codec) {
			t.Logf("%s: %s", r.codec, l)
		}
		if v.CodecName != r.codec {
			t.Errorf("%s: video codec %s", r.codec, v.CodecName)
		}
		if kept < 0.97 {
			t.Errorf("%s: %.1f %% of the video frames recorded, want at least 97 %%", r.codec, 100*kept)
		}
		if out := decodeErrors(t, path); out != "" {
			t.Errorf("%s: decode errors: %s", r.codec, out)
		}
	}
}
