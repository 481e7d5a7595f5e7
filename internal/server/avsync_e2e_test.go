package server_test

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// syncClip makes a clip with a sync marker every second: a white video frame (the rest black)
// and a 100 ms beep (the rest silence) starting at the same instant.
func syncClip(t *testing.T, seconds, rate int) string {
	t.Helper()
	st.RequireFFmpeg(t)
	p := filepath.Join(t.TempDir(), "sync.flv")
	out, err := st.Command(t, 2*time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=black:s=320x240:r=30:d=%d,drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='eq(mod(n\\,30)\\,0)'", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("aevalsrc='if(lt(mod(t\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=%d:d=%d", rate, seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0",
		"-c:a", "aac", "-b:a", "96k", "-f", "flv", p)
	if err != nil {
		t.Fatalf("make sync clip: %v\n%s", err, out)
	}
	return p
}

var (
	ptsRe   = regexp.MustCompile(`pts_time:([0-9.]+)`)
	yavgRe  = regexp.MustCompile(`lavfi\.signalstats\.YAVG=([0-9.]+)`)
	onsetRe = regexp.MustCompile(`silence_end: ([0-9.]+)`)
)

// markers decodes a file and returns when its flashes are shown and its beeps begin, in the
// file's own presentation time.
func markers(t *testing.T, path string) (flashes, beeps []float64) {
	t.Helper()
	out, err := st.Command(t, 3*time.Minute, "ffmpeg", "-v", "error", "-i", path, "-an",
		"-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-", "-f", "null", "-")
	if err != nil {
		t.Fatalf("video markers of %s: %v\n%s", path, err, out)
	}
	var pts float64
	for _, line := range strings.Split(string(out), "\n") {
		if m := ptsRe.FindStringSubmatch(line); m != nil {
			pts, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := yavgRe.FindStringSubmatch(line); m != nil {
			if y, _ := strconv.ParseFloat(m[1], 64); y > 128 {
				flashes = append(flashes, pts)
			}
		}
	}
	out, err = st.Command(t, 3*time.Minute, "ffmpeg", "-v", "info", "-nostats", "-i", path, "-vn",
		"-af", "silencedetect=n=-30dB:d=0.3", "-f", "null", "-")
	if err != nil {
		t.Fatalf("audio markers of %s: %v\n%s", path, err, out)
	}
	for _, m := range onsetRe.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		beeps = append(beeps, v)
	}
	return flashes, beeps
}

// offsets pairs each flash with the beep that follows or precedes it by less than 0.3 s and
// returns beep - flash for each pair, in flash order.
func offsets(flashes, beeps []float64) []float64 {
	var out []float64
	for _, f := range flashes {
		i := sort.SearchFloat64s(beeps, f-0.3)
		if i < len(beeps) && math.Abs(beeps[i]-f) < 0.3 {
			out = append(out, beeps[i]-f)
		}
	}
	return out
}

// Over a 60 s recording resampled from 48000 to 44100 Hz, audio and video stay in sync: the
// offset between a beep and its flash is the source's, at the start and at the end, within 20 ms.
func TestAVSyncOver60Seconds(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	if testing.Short() {
		t.Skip("60 s of real-time publishing")
	}
	const seconds = 60
	src := syncClip(t, seconds, 48000)
	sf, sb := markers(t, src)
	srcOff := offsets(sf, sb)
	if len(srcOff) < seconds-2 {
		t.Fatalf("the source shows %d sync markers (flashes %d, beeps %d)", len(srcOff), len(sf), len(sb))
	}
	sort.Float64s(srcOff)
	ref := srcOff[len(srcOff)/2] // the source's own A/V offset (AAC priming, FLV rounding)

	e := st.Start(t, map[string]string{
		"record_flash_published_streams": "true",
		"stream_record_policy":           "streamName",
		"record_audio_codec_sample_rate": "44100",
	})
	pub := st.Publish(t, src, e.RTMP+"/sync")
	if out, err := pub.Wait(2 * seconds * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	e.WaitGone("sync", 20*time.Second)
	path := filepath.Join(e.Records, "sync.mp4")
	p := st.ProbeFile(t, path)
	if a := p.Audio(t); a.SampleRate != "44100" || a.CodecName != "aac" {
		t.Errorf("audio %s %s Hz, want aac 44100", a.CodecName, a.SampleRate)
	}
	rf, rb := markers(t, path)
	off := offsets(rf, rb)
	if len(off) < seconds-3 {
		t.Fatalf("the recording shows %d sync markers (flashes %d, beeps %d), want about %d", len(off), len(rf), len(rb), seconds)
	}
	start, end := off[0]-ref, off[len(off)-1]-ref
	worst := 0.0
	for _, o := range off {
		worst = max(worst, math.Abs(o-ref))
	}
	t.Logf("A/V sync over %d markers (%.0f s): start offset %+.1f ms, end offset %+.1f ms, drift %+.1f ms, worst %.1f ms (source's own offset %+.1f ms)",
		len(off), rf[len(rf)-1]-rf[0], start*1000, end*1000, (end-start)*1000, worst*1000, ref*1000)
	if math.Abs(start) > 0.020 || math.Abs(end) > 0.020 || math.Abs(end-start) > 0.020 {
		t.Errorf("A/V out of sync: start %+.1f ms, end %+.1f ms, drift %+.1f ms; want each within 20 ms", start*1000, end*1000, (end-start)*1000)
	}
}
