// Command loadgen publishes many concurrent streams to a streaming server from pre-encoded
// files, paced in real time, and writes a JSON summary of what it sent (frames per stream), so
// the recordings can be checked against it. Loopback addresses only.
//
//	loadgen -proto rtmp   -target rtmp://127.0.0.1:1935/live -flv media.flv -n 100 -t 60s
//	loadgen -proto webrtc -target ws://127.0.0.1:8080 -video h264 -h264 media.h264 -opus media.ogg -n 10 -t 60s
//	loadgen -proto whip   -target http://127.0.0.1:8081/whip -video h264 -h264 media.h264 -opus media.ogg -n 10 -t 60s
//	loadgen -proto rtsp   -target rtsp://127.0.0.1:8554/live -flv media.flv -n 10 -t 60s
//
// RTMP and RTSP read the H.264 + AAC of an FLV file; WebRTC reads H.264 (Annex-B with access
// unit delimiters) or VP8 (IVF) and Opus (Ogg, one packet per page). Each file is read once and
// looped with continuous timestamps. Stream i is named PREFIX-NNN and starts i*ramp/n after the
// first. After -t the streams stop sending but stay published until -linger has passed or the
// process gets SIGTERM/SIGINT; then they unpublish gracefully. The summary is written when
// sending has stopped (before the linger), and "sent" is printed on stdout at that moment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

type config struct {
	proto, target, prefix, out string
	n                          int
	duration, ramp, linger     time.Duration
	flv, h264, vp8, opus       string
	video                      string
	record                     bool
}

func main() {
	var c config
	flag.StringVar(&c.proto, "proto", "rtmp", "rtmp, webrtc (WCS signalling), whip or rtsp")
	flag.StringVar(&c.target, "target", "rtmp://127.0.0.1:1935/live", "rtmp://HOST:PORT/APP, ws://HOST:PORT (WCS signalling), http://HOST:PORT/whip (WHIP) or rtsp://HOST:PORT/PATH")
	flag.IntVar(&c.n, "n", 10, "concurrent streams")
	flag.DurationVar(&c.duration, "t", 30*time.Second, "how long each stream sends")
	flag.DurationVar(&c.ramp, "ramp", 0, "spread the streams' starts over this long (default: 20 ms per stream, at most 5 s)")
	flag.DurationVar(&c.linger, "linger", 0, "after sending, keep the streams published this long (or until SIGTERM)")
	flag.StringVar(&c.prefix, "prefix", "load", "stream names are PREFIX-001, PREFIX-002, ...")
	flag.StringVar(&c.out, "out", "", "write the JSON summary here (default: stdout)")
	flag.StringVar(&c.flv, "flv", "", "H.264 + AAC FLV file (rtmp, rtsp)")
	flag.StringVar(&c.video, "video", "h264", "webrtc video codec: h264 or vp8")
	flag.StringVar(&c.h264, "h264", "", "webrtc: H.264 Annex-B file with access unit delimiters")
	flag.StringVar(&c.vp8, "vp8", "", "webrtc: VP8 IVF file")
	flag.StringVar(&c.opus, "opus", "", "webrtc: Opus Ogg file")
	flag.BoolVar(&c.record, "record", true, "webrtc: ask the server to record (the publishStream record flag)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("loadgen: ")
	logrus.SetOutput(io.Discard) // go-rtmp's client logs to logrus' standard logger
	if c.ramp == 0 {
		c.ramp = min(time.Duration(c.n)*20*time.Millisecond, 5*time.Second)
	}
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

// Summary is the JSON the command writes.
type Summary struct {
	Proto     string         `json:"proto"`
	Target    string         `json:"target"`
	Streams   int            `json:"streams"`
	Seconds   float64        `json:"seconds"` // requested sending time per stream
	Started   time.Time      `json:"started"`
	Failed    int            `json:"failed"` // streams that ended with an error
	Totals    Totals         `json:"totals"`
	CPU       float64        `json:"loadgenCpuSeconds"`
	PerStream []*streamStats `json:"perStream"`
}

// Totals add up the streams.
type Totals struct {
	VideoFrames int64   `json:"videoFrames"`
	AudioFrames int64   `json:"audioFrames"`
	Bytes       int64   `json:"bytes"`
	MaxLateMs   float64 `json:"maxLateMs"` // worst lateness of a send against its schedule
	LateSends   int64   `json:"lateSends"` // sends more than 100 ms behind schedule
}

// streamStats is what one stream sent. Frames are counted once written to the connection.
type streamStats struct {
	Name           string    `json:"name"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	VideoFrames    int64     `json:"videoFrames"`
	KeyFrames      int64     `json:"keyFrames"`
	AudioFrames    int64     `json:"audioFrames"`
	Bytes          int64     `json:"bytes"`
	Start          time.Time `json:"start,omitzero"`
	End            time.Time `json:"end,omitzero"`
	MaxLateMs      float64   `json:"maxLateMs"`
	LateSends      int64     `json:"lateSends"`
	Error          string    `json:"error,omitempty"`

	mu sync.Mutex
}

func (s *streamStats) start(t time.Time) {
	s.mu.Lock()
	s.Start = t
	s.mu.Unlock()
}

func (s *streamStats) end() {
	s.mu.Lock()
	if s.End.IsZero() {
		s.End = time.Now()
	}
	s.mu.Unlock()
}

// wait sleeps until start+at, and records how late it woke. It fails when ctx ends first.
func (s *streamStats) wait(ctx context.Context, start time.Time, at time.Duration) error {
	due := start.Add(at)
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	late := time.Since(due)
	s.mu.Lock()
	s.MaxLateMs = max(s.MaxLateMs, float64(late)/1e6)
	if late > 100*time.Millisecond {
		s.LateSends++
	}
	s.mu.Unlock()
	return nil
}

func (s *streamStats) sent(video, key bool, n int) {
	s.mu.Lock()
	if video {
		s.VideoFrames++
		if key {
			s.KeyFrames++
		}
	} else {
		s.AudioFrames++
	}
	s.Bytes += int64(n)
	s.mu.Unlock()
}

func (s *streamStats) fail(err error) {
	s.mu.Lock()
	s.Error = err.Error()
	s.mu.Unlock()
}

// publisher publishes one stream until ctx ends, then waits for release before unpublishing.
type publisher func(ctx context.Context, release <-chan struct{}, i int, name string, st *streamStats) error

func run(c config) error {
	if c.n < 1 {
		return errors.New("-n must be at least 1")
	}
	var pub publisher
	switch c.proto {
	case "rtmp":
		file, err := readFLV(c.flv)
		if err != nil {
			return err
		}
		log.Printf("%s: %d video + %d audio frames per %.1f s loop, %.0f kbit/s",
			c.flv, file.video, file.audio, file.period.Seconds(), float64(file.bytes)*8/file.period.Seconds()/1000)
		pub = func(ctx context.Context, release <-chan struct{}, i int, name string, st *streamStats) error {
			// Each stream's clock starts elsewhere, as independent encoders' do.
			return publishRTMP(ctx, release, c.target, name, file, uint32(i*7919%100000), st)
		}
	case "webrtc", "whip":
		w, err := newWebRTCSource(c)
		if err != nil {
			return err
		}
		if c.proto == "whip" {
			w.signalling = negotiateWHIP
		}
		pub = w.publish
	case "rtsp":
		file, err := readFLV(c.flv)
		if err != nil {
			return err
		}
		r, err := newRTSPSource(file)
		if err != nil {
			return err
		}
		pub = func(ctx context.Context, release <-chan struct{}, i int, name string, st *streamStats) error {
			return r.publish(ctx, release, c.target, name, st)
		}
	default:
		return fmt.Errorf("unknown -proto %q", c.proto)
	}

	sum := &Summary{Proto: c.proto, Target: c.target, Streams: c.n, Seconds: c.duration.Seconds(), Started: time.Now()}
	release := make(chan struct{})
	var releaseOnce sync.Once
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		releaseOnce.Do(func() { close(release) })
	}()

	var sending, all sync.WaitGroup
	for i := 0; i < c.n; i++ {
		st := &streamStats{Name: fmt.Sprintf("%s-%03d", c.prefix, i+1)}
		sum.PerStream = append(sum.PerStream, st)
		delay := c.ramp * time.Duration(i) / time.Duration(c.n)
		sending.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			time.Sleep(delay)
			ctx, cancel := context.WithTimeout(context.Background(), c.duration)
			defer cancel()
			// Sending is over when ctx ends (the publisher then waits for release) or when
			// the publisher returns early with an error.
			var once sync.Once
			done := func() { once.Do(sending.Done) }
			stop := context.AfterFunc(ctx, done)
			err := pub(ctx, release, i, st.Name, st)
			stop()
			done()
			if err != nil {
				st.fail(err)
				log.Printf("%s: %v", st.Name, err)
			}
		}()
	}
	sending.Wait()
	sum.CPU = selfCPU()
	for _, st := range sum.PerStream {
		st.mu.Lock()
		sum.Totals.VideoFrames += st.VideoFrames
		sum.Totals.AudioFrames += st.AudioFrames
		sum.Totals.Bytes += st.Bytes
		sum.Totals.LateSends += st.LateSends
		sum.Totals.MaxLateMs = max(sum.Totals.MaxLateMs, st.MaxLateMs)
		if st.Error != "" {
			sum.Failed++
		}
		st.mu.Unlock()
	}
	sort.Slice(sum.PerStream, func(i, j int) bool { return sum.PerStream[i].Name < sum.PerStream[j].Name })
	if err := writeSummary(c.out, sum); err != nil {
		return err
	}
	fmt.Println("sent")
	log.Printf("sent: %d streams (%d failed), %d video + %d audio frames, %.1f MB, worst lateness %.0f ms",
		c.n, sum.Failed, sum.Totals.VideoFrames, sum.Totals.AudioFrames, float64(sum.Totals.Bytes)/1e6, sum.Totals.MaxLateMs)
	if c.linger > 0 {
		select {
		case <-time.After(c.linger):
		case <-release:
		}
	}
	releaseOnce.Do(func() { close(release) })
	all.Wait()
	return nil
}

func writeSummary(path string, sum *Summary) error {
	for _, st := range sum.PerStream {
		st.mu.Lock()
		defer st.mu.Unlock()
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// selfCPU is the process's CPU time so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// loopbackOnly refuses any host that is not a loopback address: the load generator is a
// benchmark tool, never pointed at someone else's server.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address: loadgen only publishes to this machine", host)
		}
	}
	return nil
}
