package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/mediatest"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// TestTimestampJumpsCostWallClockTime is issue 10's case 3: a publisher of AAC 48 kHz (so
// transcoded to 44.1 kHz) whose audio timestamps jump 9.9 s at each frame. Before the
// timeline re-anchored jumps, 5 s of such a stream made a 33-minute file of silence and cost
// seconds of CPU. Now the file lasts about as long as the publication, and an honest recording
// beside it ends complete.
func TestTimestampJumpsCostWallClockTime(t *testing.T) {
	settings := map[string]string{}
	for k, v := range st.BystanderSettings {
		settings[k] = v
	}
	e := st.Start(t, settings)
	src := st.Source{Seconds: 5, FPS: 25, GOP: 25, SampleRate: 48000}
	header, tags := jumpingFLV(t, st.Make(t, src), 9900*time.Millisecond)

	by := st.StartBystander(e, "bystander")
	before := cpuTime(t)
	start := time.Now()
	publishPaced(t, header, tags, e.RTMP+"/jumping")
	e.WaitGone("jumping", 15*time.Second)
	wall := time.Since(start)
	cpu := cpuTime(t) - before
	by.Check()
	if n := len(e.LogLines("timestamps jumped ahead", "jumping")); n != 1 {
		t.Errorf("%d log lines about the timestamp jumps, want one (logged once per stream)", n)
	}

	p := st.ProbeFile(t, filepath.Join(e.Records, "jumping.mp4"))
	t.Logf("published for %.2f s of wall time: file of %.2f s; server process CPU %.2f s (bystander included)",
		wall.Seconds(), p.Duration(), cpu.Seconds())
	if d := p.Duration(); d < float64(src.Seconds)-1 || d > wall.Seconds()+1 {
		t.Errorf("file lasts %.2f s, want close to the %.2f s the publication took", d, wall.Seconds())
	}
	if a := p.Audio(t); a.CodecName != "aac" || a.SampleRate != "44100" || math.Abs(mediatest.Seconds(a.Duration)-float64(src.Seconds)) > 0.5 {
		t.Errorf("audio %s %s Hz of %s s, want aac 44100 Hz of %d s (every frame kept)", a.CodecName, a.SampleRate, a.Duration, src.Seconds)
	}
	if v := p.Video(t); st.Count(v.Frames) != src.Frames() {
		t.Errorf("video: %s frames, want %d", v.Frames, src.Frames())
	}
}

// jumpingFLV reads the FLV file src and returns its header and its tags, each with the time
// it is due (its own timestamp) and its bytes, where each audio tag's timestamp is made jump
// more than the one before (the first audio frame keeps its time; the AAC sequence header,
// which carries no media, too).
func jumpingFLV(t *testing.T, src string, jump time.Duration) (header []byte, tags []flvTag) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 13 || string(b[:3]) != "FLV" {
		t.Fatalf("%s is not an FLV file", src)
	}
	off := int(binary.BigEndian.Uint32(b[5:9])) + 4 // the header and the first PreviousTagSize
	header = b[:off]
	n := 0 // audio frames seen
	for off+11 <= len(b) {
		size := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		if off+11+size+4 > len(b) {
			t.Fatalf("%s: tag at %d runs past the end", src, off)
		}
		tag := flvTag{due: time.Duration(flvTime(b[off+4:])) * time.Millisecond, data: append([]byte(nil), b[off:off+11+size+4]...)}
		const audioTag = 8
		if b[off] == audioTag && size >= 2 && b[off+12] != 0 { // payload[1] == 0: AAC sequence header
			setFLVTime(tag.data[4:], flvTime(tag.data[4:])+uint32(n*int(jump/time.Millisecond)))
			n++
		}
		tags = append(tags, tag)
		off += 11 + size + 4
	}
	if n == 0 {
		t.Fatalf("%s has no audio tag", src)
	}
	return header, tags
}

// flvTag is one FLV tag with its PreviousTagSize, and when a real-time sender sends it.
type flvTag struct {
	due  time.Duration
	data []byte
}

// publishPaced feeds an FLV stream to ffmpeg, which publishes it unchanged (-c copy -copyts) to
// url. The test paces it: each tag is written when it is due by its honest timestamp (ffmpeg's
// -re would wait for the jumping ones).
func publishPaced(t *testing.T, header []byte, tags []flvTag, url string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "flv", "-probesize", "100000", "-analyzeduration", "1000000",
		"-i", "pipe:0", "-c", "copy", "-copyts", "-f", "flv", url)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	start := time.Now()
	_, err = in.Write(header)
	for _, tag := range tags {
		if err != nil {
			break
		}
		time.Sleep(time.Until(start.Add(tag.due)))
		_, err = in.Write(tag.data)
	}
	in.Close()
	if werr := cmd.Wait(); werr != nil || err != nil {
		t.Fatalf("ffmpeg: %v (writing: %v)\n%s", werr, err, out.String())
	}
}

// flvTime reads an FLV tag's timestamp: 24 bits and 8 more, the most significant, after them.
func flvTime(p []byte) uint32 {
	return uint32(p[3])<<24 | uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
}

func setFLVTime(p []byte, ts uint32) {
	p[0], p[1], p[2], p[3] = byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24)
}

// cpuTime is the CPU time (user + system) this process, and so the server it runs, has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
