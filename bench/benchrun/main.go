// Command benchrun is what `make bench` runs: it starts streamrec (and nginx with Debian's
// libnginx-mod-rtmp as the reference) on temporary homes, drives them with cmd/loadgen at several
// stream counts, and prints per run the server's CPU seconds per stream-minute, peak RSS and RSS
// per stream, frames lost (every file read back with ffprobe), and the stop-to-file-ready latency
// of REST stopRecording. Everything runs on loopback. See bench/README.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	work, streamrec, loadgen, nginx, nginxModule string
	rtmp, webrtc, webrtcVP8, rtsp                []int
	seconds                                      time.Duration
	noNginx                                      bool
	maxLoad                                      float64
	waitLoad                                     time.Duration
	decodeMax                                    int
	stopPar                                      int
	out                                          string
}

func main() {
	var o options
	var rtmpN, webrtcN, vp8N, rtspN string
	flag.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "streamrec-bench"), "work folder: media (kept between runs), homes, records")
	flag.StringVar(&o.streamrec, "streamrec", "bin/streamrec", "the streamrec binary")
	flag.StringVar(&o.loadgen, "loadgen", "bin/loadgen", "the loadgen binary")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx binary")
	flag.StringVar(&o.nginxModule, "nginx-module", "/usr/lib/nginx/modules/ngx_rtmp_module.so", "nginx RTMP module")
	flag.BoolVar(&o.noNginx, "no-nginx", false, "skip the nginx-rtmp reference runs")
	flag.StringVar(&rtmpN, "rtmp", "10,50,100,200", "RTMP stream counts (empty: none)")
	flag.StringVar(&webrtcN, "webrtc", "10,25,50", "WebRTC H.264 + Opus stream counts (recorded to MP4, Opus transcoded to AAC)")
	flag.StringVar(&vp8N, "webrtc-vp8", "10", "WebRTC VP8 + Opus stream counts (recorded to WebM, Opus transcoded to Vorbis)")
	flag.StringVar(&rtspN, "rtsp", "", "RTSP publish (H.264 + AAC over TCP) stream counts")
	flag.DurationVar(&o.seconds, "t", 30*time.Second, "how long each stream publishes")
	flag.Float64Var(&o.maxLoad, "max-load", 3, "wait before each run until the 1-minute load average is below this")
	flag.DurationVar(&o.waitLoad, "wait-load", 90*time.Second, "but wait at most this long")
	flag.IntVar(&o.decodeMax, "decode", 12, "files per run fully decoded with ffprobe -count_frames (every file's packets are counted); -1: all")
	flag.IntVar(&o.stopPar, "stop-parallel", 4, "REST stopRecording calls in flight at once")
	flag.StringVar(&o.out, "out", "", "also write the results as JSON here")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	var err error
	for _, p := range []struct {
		s   string
		dst *[]int
	}{{rtmpN, &o.rtmp}, {webrtcN, &o.webrtc}, {vp8N, &o.webrtcVP8}, {rtspN, &o.rtsp}} {
		if *p.dst, err = counts(p.s); err != nil {
			log.Fatal(err)
		}
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func counts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad stream count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Result is one load run against one server.
type Result struct {
	Server  string  `json:"server"` // streamrec or nginx-rtmp
	Load    string  `json:"load"`   // rtmp, webrtc-h264, webrtc-vp8, rtsp
	N       int     `json:"n"`
	Seconds float64 `json:"seconds"`

	StreamMinutes   float64 `json:"streamMinutes"`
	CPUSeconds      float64 `json:"cpuSeconds"`
	CPUPerStreamMin float64 `json:"cpuSecondsPerStreamMinute"`
	CoresUsed       float64 `json:"coresUsed"` // CPU seconds / wall seconds of the load window
	BaseRSSMB       float64 `json:"baseRssMB"`
	PeakRSSMB       float64 `json:"peakRssMB"`
	RSSPerStreamMB  float64 `json:"rssPerStreamMB"`
	LoadgenCPU      float64 `json:"loadgenCpuSeconds"`
	LoadStart       float64 `json:"loadAvgStart"`
	LoadEnd         float64 `json:"loadAvgEnd"`

	Failed       int      `json:"failedStreams"`
	LateSends    int64    `json:"lateSends"`
	SentVideo    int64    `json:"sentVideo"`
	SentAudio    int64    `json:"sentAudio"`
	RecVideo     int64    `json:"recordedVideo"`
	RecAudio     int64    `json:"recordedAudio"`
	LostVideo    int64    `json:"lostVideo"`
	LostAudio    int64    `json:"lostAudio"`              // frames (RTMP, RTSP)
	LostAudioMs  float64  `json:"lostAudioMs,omitempty"`  // transcoded audio: duration short of what was sent
	Files        int      `json:"files"`                  // files found
	Missing      int      `json:"missingFiles"`           // streams without a file
	Decoded      int      `json:"decodedFiles"`           // files decoded with -count_frames
	BadDecode    int      `json:"decodeMismatches"`       // decoded frames != packets
	StopP50Ms    float64  `json:"stopP50Ms,omitempty"`    // REST stopRecording round trip
	StopP99Ms    float64  `json:"stopP99Ms,omitempty"`    //
	StopMaxMs    float64  `json:"stopMaxMs,omitempty"`    //
	StopFailures int      `json:"stopFailures,omitempty"` //
	Notes        []string `json:"notes,omitempty"`
}

func run(o options) error {
	for _, b := range []string{o.streamrec, o.loadgen} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s: %w (make build, go build -o bin/loadgen ./cmd/loadgen)", b, err)
		}
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed (apt-get install ffmpeg)", tool)
		}
	}
	if !o.noNginx {
		if _, err := os.Stat(o.nginxModule); err != nil {
			log.Printf("nginx-rtmp not found (%v): no reference runs (apt-get install nginx libnginx-mod-rtmp)", err)
			o.noNginx = true
		}
	}
	var err error
	if o.streamrec, err = filepath.Abs(o.streamrec); err != nil {
		return err
	}
	if o.loadgen, err = filepath.Abs(o.loadgen); err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	m, err := makeMedia(filepath.Join(o.work, "media"))
	if err != nil {
		return err
	}
	start := time.Now()
	var results []*Result
	for _, n := range o.rtmp {
		results = append(results, o.runStreamrec("rtmp", n, m))
		if !o.noNginx {
			results = append(results, o.runNginx(n, m))
		}
	}
	for _, n := range o.webrtc {
		results = append(results, o.runStreamrec("webrtc-h264", n, m))
	}
	for _, n := range o.webrtcVP8 {
		results = append(results, o.runStreamrec("webrtc-vp8", n, m))
	}
	for _, n := range o.rtsp {
		results = append(results, o.runStreamrec("rtsp", n, m))
	}
	fmt.Println()
	fmt.Printf("streamrec benchmark, %s, %d cores, %s per stream, took %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), o.seconds, time.Since(start).Round(time.Second))
	fmt.Print(table(results))
	if o.out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// media are the pre-encoded sources, made once with ffmpeg and kept in the work folder.
type media struct {
	flv, h264, ivf, ogg string
}

func makeMedia(dir string) (media, error) {
	m := media{
		flv: filepath.Join(dir, "h264-aac-720p30-2M.flv"), h264: filepath.Join(dir, "h264-720p30-2M.h264"),
		ivf: filepath.Join(dir, "vp8-720p30-2M-mir400.ivf"), ogg: filepath.Join(dir, "opus-48k-mono.ogg"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, err
	}
	// 20 s of moving picture with noise (so the encoders spend their bitrate), 1280x720 at
	// 30 fps, ~2 Mbit/s, a keyframe every 2 s, no B-frames; a tone for the audio. libvpx's
	// keyframes are capped (-max-intra-rate): its first one would otherwise be ~400 KB, a burst
	// of 300 RTP packets that loopback UDP buffers drop, which no browser sends.
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t"}
	x264 := []string{"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-b:v", "2M", "-maxrate", "2M", "-bufsize", "1M", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-bf", "0"}
	jobs := []struct {
		out  string
		args []string
	}{
		{m.flv, concat(src, []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "20"}, x264,
			[]string{"-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv"})},
		{m.h264, concat(src, []string{"-t", "20"}, x264, []string{"-profile:v", "baseline", "-level", "3.1",
			"-bsf:v", "h264_mp4toannexb", "-x264-params", "aud=1:repeat-headers=1", "-f", "h264"})},
		{m.ivf, concat(src, []string{"-t", "20", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
			"-b:v", "2M", "-minrate", "2M", "-maxrate", "2M", "-max-intra-rate", "400", "-g", "60", "-keyint_min", "60", "-f", "ivf"})},
		// Mono at 32 kbit/s, as a browser's microphone (loadgen's offer says sprop-stereo only
		// for a stereo file).
		{m.ogg, []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20", "-ac", "1",
			"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg"}},
	}
	for _, j := range jobs {
		if _, err := os.Stat(j.out); err == nil {
			continue
		}
		log.Printf("making %s", filepath.Base(j.out))
		args := concat([]string{"-hide_banner", "-loglevel", "error", "-y"}, j.args, []string{j.out + ".tmp"})
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			return m, fmt.Errorf("ffmpeg %s: %v\n%s", filepath.Base(j.out), err, out)
		}
		if err := os.Rename(j.out+".tmp", j.out); err != nil {
			return m, err
		}
	}
	return m, nil
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// waitQuiet waits until the machine's load average is below maxLoad (other people's tests),
// for at most waitLoad, and returns the load it starts with.
func (o options) waitQuiet() float64 {
	deadline := time.Now().Add(o.waitLoad)
	l := loadAvg()
	for l >= o.maxLoad && time.Now().Before(deadline) {
		log.Printf("load average %.1f ≥ %.1f: waiting", l, o.maxLoad)
		time.Sleep(10 * time.Second)
		l = loadAvg()
	}
	return l
}

// ---- streamrec ----

func (o options) runStreamrec(load string, n int, m media) *Result {
	r := &Result{Server: "streamrec", Load: load, N: n, Seconds: o.seconds.Seconds()}
	if err := o.streamrecRun(r, m); err != nil {
		r.Notes = append(r.Notes, "error: "+err.Error())
		log.Printf("streamrec %s n=%d: %v", load, n, err)
	}
	log.Printf("%s", oneLine(r))
	return r
}

func (o options) streamrecRun(r *Result, m media) error {
	dir := filepath.Join(o.work, fmt.Sprintf("streamrec-%s-%d", r.Load, r.N))
	os.RemoveAll(dir)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	udp, err := freeUDPRange(r.N*2 + 16)
	if err != nil {
		return err
	}
	// Every publisher connects from 127.0.0.1: the connection limits (default 100 per source
	// address) must admit them all, with room for the REST calls.
	conns := r.N + 100
	settings := fmt.Sprintf(`record_flash_published_streams=true
record_rtsp_streams=true
stream_record_policy=streamName
on_record_hook_script=
http.port=%d
https.port=0
ws.port=%d
wss.port=0
rtmp.port=%d
rtsp.port=%d
media_port_from=%d
media_port_to=%d
max_connections=%d
max_connections_per_address=%d
`, ports[0], ports[1], ports[2], ports[3], udp, udp+r.N*2+15, conns, conns)
	if err := os.WriteFile(filepath.Join(home, "conf", "flashphoner.properties"), []byte(settings), 0o644); err != nil {
		return err
	}
	r.LoadStart = o.waitQuiet()
	srv, err := startServer(exec.Command(o.streamrec, "-home", home), filepath.Join(dir, "server.log"), syscall.SIGTERM)
	if err != nil {
		return err
	}
	defer srv.stop(60 * time.Second)
	api := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if err := waitTCP(ports[2], 15*time.Second); err != nil {
		return fmt.Errorf("server did not start: %w (see %s)", err, srv.log.Name())
	}
	time.Sleep(time.Second)
	pid := srv.cmd.Process.Pid
	r.BaseRSSMB = procStatusMB(pid, "VmRSS")

	var args []string
	switch r.Load {
	case "rtmp":
		args = []string{"-proto", "rtmp", "-target", fmt.Sprintf("rtmp://127.0.0.1:%d/live", ports[2]), "-flv", m.flv}
	case "rtsp":
		args = []string{"-proto", "rtsp", "-target", fmt.Sprintf("rtsp://127.0.0.1:%d/live", ports[3]), "-flv", m.flv}
	case "webrtc-h264":
		args = []string{"-proto", "webrtc", "-target", fmt.Sprintf("ws://127.0.0.1:%d", ports[1]), "-video", "h264", "-h264", m.h264, "-opus", m.ogg}
	case "webrtc-vp8":
		args = []string{"-proto", "webrtc", "-target", fmt.Sprintf("ws://127.0.0.1:%d", ports[1]), "-video", "vp8", "-vp8", m.ivf, "-opus", m.ogg}
	}
	sumPath := filepath.Join(dir, "loadgen.json")
	lg, sent, err := o.startLoadgen(dir, r, args, sumPath, 10*time.Minute)
	if err != nil {
		return err
	}
	sum, err := o.measure(r, pid, sent, sumPath)
	if err != nil {
		lg.kill()
		return err
	}

	// Stop every recording over REST while the publishers are still connected: the answer
	// comes once the file is complete.
	time.Sleep(time.Second) // the last frames sent are in the server
	ids, err := mediaSessionIDs(api, sum)
	if err != nil {
		r.Notes = append(r.Notes, "stop: "+err.Error())
	} else {
		lat, fails := stopAll(api, ids, o.stopPar)
		r.StopFailures = fails
		if len(lat) > 0 {
			r.StopP50Ms, r.StopP99Ms, r.StopMaxMs = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
		}
	}
	if err := lg.stop(60 * time.Second); err != nil {
		r.Notes = append(r.Notes, "loadgen: "+err.Error())
	}
	// Shut down: every recording is finished before the process exits.
	if !srv.stop(60 * time.Second) {
		r.Notes = append(r.Notes, "server did not exit within 60 s of SIGTERM")
	}
	ext := "mp4"
	if r.Load == "webrtc-vp8" {
		ext = "webm"
	}
	o.check(r, sum, filepath.Join(home, "records"), ext)
	return nil
}

// ---- nginx-rtmp ----

func (o options) runNginx(n int, m media) *Result {
	r := &Result{Server: "nginx-rtmp", Load: "rtmp", N: n, Seconds: o.seconds.Seconds()}
	if err := o.nginxRun(r, m); err != nil {
		r.Notes = append(r.Notes, "error: "+err.Error())
		log.Printf("nginx-rtmp n=%d: %v", n, err)
	}
	log.Printf("%s", oneLine(r))
	return r
}

func (o options) nginxRun(r *Result, m media) error {
	dir := filepath.Join(o.work, fmt.Sprintf("nginx-rtmp-%d", r.N))
	os.RemoveAll(dir)
	records := filepath.Join(dir, "records")
	for _, d := range []string{records, filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	// As a user runs it (a master and one worker, the configuration nginx-rtmp documents for
	// live streams), as the current user, everything under dir; CPU and memory are counted over
	// both processes. The RTMP module's record all appends every FLV tag to records/NAME.flv.
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process on;
worker_processes 1;
%s
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 4096; }
rtmp {
    server {
        listen 127.0.0.1:%d;
        chunk_size 4096;
        application live {
            live on;
            record all;
            record_path %s;
            record_unique off;
        }
    }
}
`, o.nginxModule, nginxUser(), dir, dir, ports[0], records)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	r.LoadStart = o.waitQuiet()
	srv, err := startServer(exec.Command(o.nginx, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "logs", "error.log")),
		filepath.Join(dir, "nginx.out"), syscall.SIGQUIT)
	if err != nil {
		return err
	}
	defer srv.stop(30 * time.Second)
	if err := waitTCP(ports[0], 15*time.Second); err != nil {
		return fmt.Errorf("nginx did not start: %w (see %s)", err, srv.log.Name())
	}
	time.Sleep(time.Second)
	pid := srv.cmd.Process.Pid
	r.BaseRSSMB = procStatusMB(pid, "VmRSS")
	sumPath := filepath.Join(dir, "loadgen.json")
	lg, sent, err := o.startLoadgen(dir, r, []string{"-proto", "rtmp", "-target", fmt.Sprintf("rtmp://127.0.0.1:%d/live", ports[0]), "-flv", m.flv}, sumPath, 10*time.Minute)
	if err != nil {
		return err
	}
	sum, err := o.measure(r, pid, sent, sumPath)
	if err != nil {
		lg.kill()
		return err
	}
	time.Sleep(time.Second)
	if err := lg.stop(60 * time.Second); err != nil {
		r.Notes = append(r.Notes, "loadgen: "+err.Error())
	}
	if !srv.stop(30 * time.Second) {
		r.Notes = append(r.Notes, "nginx did not exit within 30 s of SIGQUIT")
	}
	o.check(r, sum, records, "flv")
	return nil
}

// nginxUser keeps nginx's worker the current user: started as root, nginx would run it as
// nobody, which cannot write the records folder.
func nginxUser() string {
	if os.Geteuid() != 0 {
		return ""
	}
	return "user root;"
}

// ---- loadgen ----

type loadgenProc struct {
	cmd    *exec.Cmd
	exited chan error
}

// startLoadgen starts the load; sent receives nil once every stream has stopped sending (the
// summary is written then) and the streams linger, still published, until stop.
func (o options) startLoadgen(dir string, r *Result, args []string, sumPath string, linger time.Duration) (*loadgenProc, <-chan error, error) {
	args = append(args, "-n", strconv.Itoa(r.N), "-t", o.seconds.String(), "-out", sumPath, "-linger", linger.String())
	cmd := exec.Command(o.loadgen, args...)
	errf, err := os.Create(filepath.Join(dir, "loadgen.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = errf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	p := &loadgenProc{cmd: cmd, exited: make(chan error, 1)}
	sent := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if sc.Text() == "sent" && !ok {
				ok = true
				sent <- nil
			}
		}
		err := cmd.Wait()
		errf.Close()
		if !ok {
			sent <- fmt.Errorf("loadgen ended before sending was done: %v (see %s)", err, errf.Name())
		}
		p.exited <- err
	}()
	return p, sent, nil
}

// stop ends the lingering publications (SIGTERM: they unpublish gracefully) and waits.
func (p *loadgenProc) stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		return err
	case <-time.After(timeout):
		p.kill()
		return errors.New("did not exit after SIGTERM")
	}
}

func (p *loadgenProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

type summary struct {
	Streams int     `json:"streams"`
	Failed  int     `json:"failed"`
	CPU     float64 `json:"loadgenCpuSeconds"`
	Totals  struct {
		LateSends int64 `json:"lateSends"`
	} `json:"totals"`
	PerStream []struct {
		Name           string    `json:"name"`
		MediaSessionID string    `json:"mediaSessionId"`
		VideoFrames    int64     `json:"videoFrames"`
		AudioFrames    int64     `json:"audioFrames"`
		Start          time.Time `json:"start"`
		End            time.Time `json:"end"`
		Error          string    `json:"error"`
	} `json:"perStream"`
}

func readSummary(path string) (*summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func (o options) fromSummary(r *Result, s *summary) {
	r.Failed = s.Failed
	r.LoadgenCPU = s.CPU
	r.LateSends = s.Totals.LateSends
	for _, st := range s.PerStream {
		if !st.Start.IsZero() && st.End.After(st.Start) {
			r.StreamMinutes += st.End.Sub(st.Start).Minutes()
		}
		r.SentVideo += st.VideoFrames
		r.SentAudio += st.AudioFrames
	}
	if r.StreamMinutes > 0 {
		r.CPUPerStreamMin = r.CPUSeconds / r.StreamMinutes
	}
	if r.N > 0 && r.PeakRSSMB > 0 {
		r.RSSPerStreamMB = (r.PeakRSSMB - r.BaseRSSMB) / float64(r.N)
	}
}

// ---- REST ----

func mediaSessionIDs(api string, s *summary) ([]string, error) {
	var ids []string
	missing := map[string]bool{}
	for _, st := range s.PerStream {
		if st.MediaSessionID != "" {
			ids = append(ids, st.MediaSessionID)
		} else {
			missing[st.Name] = true
		}
	}
	if len(missing) == 0 {
		return ids, nil
	}
	resp, err := http.Post(api+"/rest-api/stream/find_all", "application/json", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var streams []struct {
		Name           string `json:"name"`
		MediaSessionID string `json:"mediaSessionId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&streams); err != nil {
		return nil, fmt.Errorf("find_all: %w", err)
	}
	for _, st := range streams {
		if missing[st.Name] {
			ids = append(ids, st.MediaSessionID)
		}
	}
	return ids, nil
}

// stopAll calls stopRecording for every stream, par at a time, and returns the round trips in ms.
func stopAll(api string, ids []string, par int) ([]float64, int) {
	var mu sync.Mutex
	var lat []float64
	fails := 0
	work := make(chan string)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for w := 0; w < max(par, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				body, _ := json.Marshal(map[string]string{"mediaSessionId": id})
				t := time.Now()
				resp, err := client.Post(api+"/rest-api/stream/stopRecording", "application/json", bytes.NewReader(body))
				d := time.Since(t)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if ok {
					lat = append(lat, float64(d)/1e6)
				} else {
					fails++
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return lat, fails
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ---- files ----

type probe struct {
	video, audio     int64   // packets
	audioSec         float64 // audio stream duration
	decVideo, decAud int64   // decoded frames (-count_frames), -1 when not decoded
	err              error
}

// check reads every stream's file back with ffprobe and compares it with what was sent.
func (o options) check(r *Result, s *summary, dir, ext string) {
	names := make([]string, 0, len(s.PerStream))
	for _, st := range s.PerStream {
		names = append(names, st.Name)
	}
	decode := map[int]bool{}
	k := o.decodeMax
	if k < 0 || k >= len(names) {
		k = len(names)
	}
	for i := 0; i < k; i++ {
		decode[i*len(names)/max(k, 1)] = true
	}
	probes := make([]probe, len(names))
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < numCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				probes[i] = ffprobe(filepath.Join(dir, names[i]+"."+ext), decode[i])
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	transcoded := strings.HasPrefix(r.Load, "webrtc")
	var lostMs float64
	for i, st := range s.PerStream {
		p := probes[i]
		if p.err != nil {
			r.Missing++
			r.LostVideo += st.VideoFrames
			if len(r.Notes) < 8 {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %v", st.Name, p.err))
			}
			continue
		}
		r.Files++
		r.RecVideo += p.video
		r.RecAudio += p.audio
		r.LostVideo += max(st.VideoFrames-p.video, 0)
		if transcoded {
			// Opus packets of 20 ms in, AAC or Vorbis frames out: compare durations.
			lostMs += max(float64(st.AudioFrames)*20-p.audioSec*1000, 0)
		} else {
			r.LostAudio += max(st.AudioFrames-p.audio, 0)
		}
		if p.decVideo >= 0 {
			r.Decoded++
			// Every video packet decodes to a frame; an audio decoder may hold back its
			// first packet or two (Vorbis, AAC priming).
			if p.decVideo != p.video || p.decAud < p.audio-2 || p.decAud > p.audio {
				r.BadDecode++
				if len(r.Notes) < 8 {
					r.Notes = append(r.Notes, fmt.Sprintf("%s: decoded %d/%d frames of %d/%d packets", st.Name, p.decVideo, p.decAud, p.video, p.audio))
				}
			}
		}
	}
	if transcoded {
		r.LostAudioMs = lostMs
	}
}

func ffprobe(path string, decode bool) probe {
	p := probe{decVideo: -1, decAud: -1}
	if _, err := os.Stat(path); err != nil {
		p.err = errors.New("no file")
		return p
	}
	type stream struct {
		CodecType    string `json:"codec_type"`
		NbReadPkts   string `json:"nb_read_packets"`
		NbReadFrames string `json:"nb_read_frames"`
		Duration     string `json:"duration"`
	}
	run := func(count string) ([]stream, error) {
		out, err := exec.Command("ffprobe", "-v", "error", count, "-show_entries",
			"stream=codec_type,nb_read_packets,nb_read_frames,duration:format=duration", "-of", "json", path).Output()
		if err != nil {
			return nil, fmt.Errorf("ffprobe: %v", err)
		}
		var v struct {
			Streams []stream
			Format  struct{ Duration string }
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, err
		}
		for i := range v.Streams {
			if v.Streams[i].Duration == "" || v.Streams[i].Duration == "N/A" {
				v.Streams[i].Duration = v.Format.Duration // WebM has no per-stream duration
			}
		}
		return v.Streams, nil
	}
	streams, err := run("-count_packets")
	if err != nil {
		p.err = err
		return p
	}
	for _, s := range streams {
		n, _ := strconv.ParseInt(s.NbReadPkts, 10, 64)
		switch s.CodecType {
		case "video":
			p.video = n
		case "audio":
			p.audio = n
			p.audioSec, _ = strconv.ParseFloat(s.Duration, 64)
		}
	}
	if !decode {
		return p
	}
	streams, err = run("-count_frames")
	if err != nil {
		p.err = err
		return p
	}
	p.decVideo, p.decAud = 0, 0
	for _, s := range streams {
		n, _ := strconv.ParseInt(s.NbReadFrames, 10, 64)
		switch s.CodecType {
		case "video":
			p.decVideo = n
		case "audio":
			p.decAud = n
		}
	}
	return p
}

// ---- /proc ----

// procCPU is the user+system CPU time in seconds of a process and every process below it
// (nginx's workers under its master), with its children that already exited and were waited for.
func procCPU(pid int) float64 {
	var sum float64
	for _, p := range procTree(pid) {
		f := procStat(p)
		if len(f) < 15 {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseFloat(f[i], 64)
			sum += v
		}
	}
	return sum / 100 // USER_HZ
}

// procStat is /proc/PID/stat split after the command name: f[0] is the state, f[1] the parent.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

// procTree is pid and every process descending from it.
func procTree(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(p); len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	tree := []int{pid}
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				tree = append(tree, p)
				break
			}
		}
	}
	return tree
}

// procStatusMB sums a kB field of /proc/PID/status (VmRSS, VmHWM) over pid's process tree, in
// MB. For VmHWM the sum is an upper bound: each process's peak, whenever it came.
func procStatusMB(pid int, key string) float64 {
	var kb float64
	for _, p := range procTree(pid) {
		kb += procStatusKB(p, key)
	}
	return kb / 1024
}

func procStatusKB(pid int, key string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb
		}
	}
	return 0
}

func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	l, _ := strconv.ParseFloat(f[0], 64)
	return l
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	n := strings.Count(string(b), "\nprocessor")
	if strings.HasPrefix(string(b), "processor") {
		n++
	}
	return max(n, 1)
}

// ---- ports ----

func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// freeUDPRange finds n consecutive UDP ports that are free now, above the usual ephemeral range
// of other tests' media ports.
func freeUDPRange(n int) (int, error) {
	for base := 40000; base+n < 60000; base += n {
		ok := true
		var conns []net.PacketConn
		for p := base; p < base+n && ok; p++ {
			c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free UDP port range")
}

func waitTCP(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- report ----

func oneLine(r *Result) string {
	return fmt.Sprintf("%-10s %-11s n=%-3d cpu %.3f s/stream-min (%.2f cores)  rss %.0f MB peak, %.2f MB/stream  lost %d video %d audio%s  stop p50 %.0f p99 %.0f ms  load %.1f→%.1f %s",
		r.Server, r.Load, r.N, r.CPUPerStreamMin, r.CoresUsed, r.PeakRSSMB, r.RSSPerStreamMB, r.LostVideo, r.LostAudio,
		msIf(r.LostAudioMs, strings.HasPrefix(r.Load, "webrtc")), r.StopP50Ms, r.StopP99Ms, r.LoadStart, r.LoadEnd, strings.Join(r.Notes, "; "))
}

func msIf(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%.0f ms)", v)
}

// table prints the results as Markdown, with streamrec/nginx-rtmp ratios for the RTMP runs.
func table(rs []*Result) string {
	ref := map[int]*Result{}
	for _, r := range rs {
		if r.Server == "nginx-rtmp" {
			ref[r.N] = r
		}
	}
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	var b strings.Builder
	b.WriteString("\n| load | N | server | CPU s per stream-min | ×nginx | cores used | peak RSS MB | RSS MB per stream | ×nginx | frames lost (video/audio) | files decoded OK | stop p50/p99 ms | load avg |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|---|\n")
	for _, r := range rs {
		cr, mr := "", ""
		if n := ref[r.N]; n != nil && r.Server == "streamrec" && r.Load == "rtmp" {
			cr, mr = ratio(r.CPUPerStreamMin, n.CPUPerStreamMin), ratio(r.RSSPerStreamMB, n.RSSPerStreamMB)
		}
		lost := fmt.Sprintf("%d / %d", r.LostVideo, r.LostAudio)
		if strings.HasPrefix(r.Load, "webrtc") {
			lost = fmt.Sprintf("%d / %.0f ms", r.LostVideo, r.LostAudioMs)
		}
		lost += fmt.Sprintf(" of %d / %d", r.SentVideo, r.SentAudio)
		if r.Missing > 0 {
			lost += fmt.Sprintf(", %d files missing", r.Missing)
		}
		stop := "–"
		if r.StopP50Ms > 0 {
			stop = fmt.Sprintf("%.0f / %.0f", r.StopP50Ms, r.StopP99Ms)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %.3f | %s | %.2f | %.0f | %.2f | %s | %s | %d/%d | %s | %.1f→%.1f |\n",
			r.Load, r.N, r.Server, r.CPUPerStreamMin, cr, r.CoresUsed, r.PeakRSSMB, r.RSSPerStreamMB, mr,
			lost, r.Decoded-r.BadDecode, r.Decoded, stop, r.LoadStart, r.LoadEnd)
	}
	for _, r := range rs {
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "\n- %s %s n=%d: %s", r.Server, r.Load, r.N, n)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// server is a measured server process (streamrec or nginx) with its output in a log file.
type server struct {
	cmd    *exec.Cmd
	log    *os.File
	quit   os.Signal     // asks it to finish and exit
	exited chan struct{} // closed when the process has exited
}

// startServer starts cmd with its output in logPath.
func startServer(cmd *exec.Cmd, logPath string, quit os.Signal) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, log: logf, quit: quit, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	return s, nil
}

// stop sends the quit signal unless the process has exited, and waits up to grace for it to exit
// before killing it. It reports whether the process exited by itself; calling it again is harmless.
func (s *server) stop(grace time.Duration) bool {
	select {
	case <-s.exited:
		return true
	default:
	}
	s.cmd.Process.Signal(s.quit)
	select {
	case <-s.exited:
		return true
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.exited
		return false
	}
}

// measure waits until loadgen has sent everything and records what the server (pid) spent on it:
// CPU, cores, peak RSS, and loadgen's summary of what it sent.
func (o options) measure(r *Result, pid int, sent <-chan error, sumPath string) (*summary, error) {
	cpu0, t0 := procCPU(pid), time.Now()
	if err := <-sent; err != nil {
		return nil, err
	}
	r.CPUSeconds = procCPU(pid) - cpu0
	r.CoresUsed = r.CPUSeconds / time.Since(t0).Seconds()
	r.PeakRSSMB = procStatusMB(pid, "VmHWM")
	r.LoadEnd = loadAvg()
	sum, err := readSummary(sumPath)
	if err != nil {
		return nil, err
	}
	o.fromSummary(r, sum)
	return sum, nil
}
