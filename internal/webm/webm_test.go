package webm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

func TestMain(m *testing.M) {
	if src := os.Getenv("WEBM_CRASH_SOURCE"); src != "" {
		os.Exit(crashHelper(src, os.Getenv("WEBM_CRASH_OUT")))
	}
	code := m.Run()
	if source.dir != "" {
		os.RemoveAll(source.dir)
	}
	os.Exit(code)
}

// only keeps the frames of one source track, renumbered as track 0.
func only(frames []media.Frame, track int) []media.Frame {
	var out []media.Frame
	for _, f := range frames {
		if f.Track == track {
			f.Track = 0
			out = append(out, f)
		}
	}
	return out
}

// writeFile writes frames through a Writer into a new file and closes it.
func writeFile(t testing.TB, tracks []media.Track, frames []media.Frame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.webm")
	w, f := createWriter(t, path, tracks)
	next := time.Second
	for _, fr := range frames {
		if fr.PTS >= next { // the recorder's 1 s Flush
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			next += time.Second
		}
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != st.Size() {
		t.Errorf("Size() = %d, file has %d bytes", w.Size(), st.Size())
	}
	if dir := os.Getenv("WEBM_KEEP"); dir != "" { // keep the outputs for a look with other tools
		if b, err := os.ReadFile(path); err == nil {
			os.WriteFile(filepath.Join(dir, t.Name()+".webm"), b, 0o644)
		}
	}
	return path
}

// wantEnd is the latest end of the last frame of each track: its timestamp plus the gap before
// it, at most 1 s.
func wantEnd(frames []media.Frame) time.Duration {
	last := map[int]time.Duration{}
	step := map[int]time.Duration{}
	for _, f := range frames {
		if l, ok := last[f.Track]; ok && f.PTS > l {
			step[f.Track] = f.PTS - l
		}
		last[f.Track] = f.PTS
	}
	var end time.Duration
	for tr, l := range last {
		end = max(end, l+min(step[tr], time.Second))
	}
	return end
}

// checkStructure checks the finished file's layout: Segment size, SeekHead, Duration, Cues, and
// that the blocks read back equal the frames written. It returns the cue times.
func checkStructure(t *testing.T, path string, tracks []media.Track, frames []media.Frame) []time.Duration {
	t.Helper()
	seg, b := readOutput(t, path)
	children, segData, segSize := walkSegment(t, b)
	if segSize != int64(len(b))-segData {
		t.Errorf("Segment size %d, want %d", segSize, int64(len(b))-segData)
	}
	pos := map[uint32][]int64{}
	var order []uint32
	for _, c := range children {
		pos[c.id] = append(pos[c.id], c.pos)
		if c.size < 0 {
			t.Errorf("element %x at %d has unknown size", c.id, c.pos)
		}
		if len(order) == 0 || order[len(order)-1] != c.id {
			order = append(order, c.id)
		}
	}
	wantOrder := []uint32{idSeekHead, idInfo, idTracks, idCluster, idCues}
	if len(order) != len(wantOrder) {
		t.Fatalf("Segment children %x, want %x", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("Segment children %x, want %x", order, wantOrder)
		}
	}

	if seg.SeekHead == nil || len(seg.SeekHead.Seek) != 3 {
		t.Fatalf("SeekHead %+v, want 3 entries", seg.SeekHead)
	}
	for _, s := range seg.SeekHead.Seek {
		id := binary.BigEndian.Uint32(s.SeekID)
		if p := pos[id]; len(p) != 1 || p[0] != int64(s.SeekPosition) {
			t.Errorf("SeekHead: %x at %d, file has it at %v", id, s.SeekPosition, p)
		}
	}
	if seg.Info.TimecodeScale != uint64(time.Millisecond) {
		t.Errorf("TimecodeScale %d", seg.Info.TimecodeScale)
	}
	if d, want := seg.Info.Duration, float64(wantEnd(frames)/time.Millisecond); math.Abs(d-want) > 1 {
		t.Errorf("Info Duration %v ms, want %v", d, want)
	}

	// Cues: each points at a cluster, in time order.
	clusters := map[int64]bool{}
	for _, p := range pos[idCluster] {
		clusters[p] = true
	}
	if seg.Cues == nil || len(seg.Cues.CuePoint) == 0 {
		t.Fatal("no Cues")
	}
	var times []time.Duration
	for i, c := range seg.Cues.CuePoint {
		if len(c.CueTrackPositions) != 1 || !clusters[int64(c.CueTrackPositions[0].CueClusterPosition)] {
			t.Fatalf("CuePoint %d %+v does not point at a cluster", i, c)
		}
		if i > 0 && c.CueTime <= seg.Cues.CuePoint[i-1].CueTime {
			t.Errorf("CuePoint %d time %d not after %d", i, c.CueTime, seg.Cues.CuePoint[i-1].CueTime)
		}
		times = append(times, time.Duration(c.CueTime)*time.Millisecond)
	}

	// The blocks read back are the frames written, track by track.
	_, got, err := demux(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tracks {
		want, have := onlyTrack(frames, i), onlyTrack(got, i)
		if len(have) != len(want) {
			t.Fatalf("track %d: %d frames read back, wrote %d", i, len(have), len(want))
		}
		for k := range want {
			if !bytes.Equal(have[k].Data, want[k].Data) || have[k].PTS != want[k].PTS.Round(time.Millisecond) || have[k].Key != want[k].Key {
				t.Fatalf("track %d frame %d: read back pts %v key %v %d bytes, wrote pts %v key %v %d bytes",
					i, k, have[k].PTS, have[k].Key, len(have[k].Data), want[k].PTS, want[k].Key, len(want[k].Data))
			}
		}
	}
	return times
}

func onlyTrack(frames []media.Frame, track int) []media.Frame {
	var out []media.Frame
	for _, f := range frames {
		if f.Track == track {
			out = append(out, f)
		}
	}
	return out
}

// keyTimes lists the video keyframe times.
func keyTimes(frames []media.Frame, video int) []time.Duration {
	var out []time.Duration
	for _, f := range frames {
		if f.Track == video && f.Key {
			out = append(out, f.PTS)
		}
	}
	return out
}

// seekTo asks ffprobe to seek to at and returns the time of the first packet of the stream it reads.
func seekTo(t *testing.T, path, stream string, at time.Duration) time.Duration {
	t.Helper()
	p := mediatest.ProbeFile(t, path, "-select_streams", stream,
		"-read_intervals", strconv.FormatFloat(at.Seconds(), 'f', 3, 64)+"%+#1", "-show_entries", "packet=pts_time")
	if len(p.Packets) == 0 {
		t.Fatal("ffprobe seek read no packet")
	}
	s, err := strconv.ParseFloat(p.Packets[0].PtsTime, 64)
	if err != nil {
		t.Fatalf("ffprobe seek output %+v: %v", p.Packets[0], err)
	}
	return time.Duration(s * float64(time.Second))
}

func near(a, b, tol time.Duration) bool { return a-b <= tol && b-a <= tol }

const frameTol = 34 * time.Millisecond // one video frame at 30 fps

func TestVideoAndAudio(t *testing.T) {
	tracks, frames := loadSource(t)
	path := writeFile(t, tracks, frames)

	p := mediatest.CountFrames(t, path)
	src := source.probe
	v, srcN := p.Video(t), mediatest.Count(src.Video(t).Frames)
	codec, n, w, h := v.CodecName, mediatest.Count(v.Frames), v.Width, v.Height
	if codec != "vp8" || n != srcN || w != 320 || h != 240 {
		t.Errorf("video: %s %dx%d %d frames, want vp8 320x240 %d frames", codec, w, h, n, srcN)
	}
	a := p.Audio(t)
	codec, n, rate := a.CodecName, mediatest.Count(a.Frames), a.SampleRate
	srcN = mediatest.Count(src.Audio(t).Frames)
	if codec != "vorbis" || n != srcN || rate != "48000" {
		t.Errorf("audio: %s %s Hz %d frames, want vorbis 48000 Hz %d frames", codec, rate, n, srcN)
	}
	if !near(duration(p), duration(src), frameTol) {
		t.Errorf("duration %v, source %v", duration(p), duration(src))
	}
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}

	cues := checkStructure(t, path, tracks, frames)
	keys := keyTimes(frames, 0)
	if len(cues) != len(keys) {
		t.Fatalf("%d cues %v, want one per keyframe %v", len(cues), cues, keys)
	}
	for i := range keys {
		if cues[i] != keys[i].Round(time.Millisecond) {
			t.Errorf("cue %d at %v, keyframe at %v", i, cues[i], keys[i])
		}
	}
	// Seeking lands on the keyframe at or before the target (keyframes every 2 s).
	if got := seekTo(t, path, "v:0", 7*time.Second); got < 5900*time.Millisecond || got > 7100*time.Millisecond {
		t.Errorf("seek to 7 s read video from %v", got)
	}
}

func TestVideoOnly(t *testing.T) {
	tracks, frames := loadSource(t)
	tracks, frames = tracks[:1], only(frames, 0)
	path := writeFile(t, tracks, frames)

	p := mediatest.CountFrames(t, path)
	if len(p.Streams) != 1 {
		t.Fatalf("%d streams", len(p.Streams))
	}
	v, srcN := p.Video(t), mediatest.Count(source.probe.Video(t).Frames)
	codec, n := v.CodecName, mediatest.Count(v.Frames)
	if codec != "vp8" || n != srcN {
		t.Errorf("video: %s %d frames, want vp8 %d", codec, n, srcN)
	}
	if want := wantEnd(frames); !near(duration(p), want, frameTol) {
		t.Errorf("duration %v, want %v", duration(p), want)
	}
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}
	if cues := checkStructure(t, path, tracks, frames); len(cues) != len(keyTimes(frames, 0)) {
		t.Errorf("%d cues, want %d", len(cues), len(keyTimes(frames, 0)))
	}
	if got := seekTo(t, path, "v:0", 7*time.Second); got < 5900*time.Millisecond || got > 7100*time.Millisecond {
		t.Errorf("seek to 7 s read video from %v", got)
	}
}

func TestAudioOnly(t *testing.T) {
	tracks, frames := loadSource(t)
	tracks, frames = tracks[1:], only(frames, 1)
	path := writeFile(t, tracks, frames)

	p := mediatest.CountFrames(t, path)
	if len(p.Streams) != 1 {
		t.Fatalf("%d streams", len(p.Streams))
	}
	a, srcN := p.Audio(t), mediatest.Count(source.probe.Audio(t).Frames)
	codec, n, rate := a.CodecName, mediatest.Count(a.Frames), a.SampleRate
	if codec != "vorbis" || n != srcN || rate != "48000" {
		t.Errorf("audio: %s %s Hz %d frames, want vorbis 48000 Hz %d", codec, rate, n, srcN)
	}
	if !near(duration(p), duration(source.probe), frameTol) {
		t.Errorf("duration %v, source %v", duration(p), duration(source.probe))
	}
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}
	cues := checkStructure(t, path, tracks, frames)
	seg, _ := readOutput(t, path)
	if len(cues) != len(seg.Cluster) || len(cues) < 9 || len(cues) > 11 {
		t.Errorf("%d cues for %d clusters of 10 s audio, want one per cluster, one a second", len(cues), len(seg.Cluster))
	}
	if got := seekTo(t, path, "a:0", 7*time.Second); got < 6*time.Second || got > 7100*time.Millisecond {
		t.Errorf("seek to 7 s read audio from %v", got)
	}
}

// TestLateVideo: the audio runs from 0, the video joins at its keyframe at 4 s. The clusters
// before the video are cued by audio, after it by video keyframes.
func TestLateVideo(t *testing.T) {
	tracks, frames := loadSource(t)
	var in []media.Frame
	for _, f := range frames {
		if f.Track == 1 || f.PTS >= 4*time.Second {
			in = append(in, f)
		}
	}
	path := writeFile(t, tracks, in)
	p := mediatest.CountFrames(t, path)
	n := mediatest.Count(p.Video(t).Frames)
	if want := len(only(in, 0)); n != want {
		t.Errorf("%d video frames, want %d", n, want)
	}
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}
	cues := checkStructure(t, path, tracks, in)
	keys := keyTimes(in, 0)
	var audioCues int
	for _, c := range cues {
		if c < keys[0].Truncate(time.Millisecond) {
			audioCues++
		}
	}
	if audioCues < 3 || len(cues)-audioCues != len(keys) {
		t.Errorf("cues %v: want ~4 audio cues before the video, then one per keyframe %v", cues, keys)
	}
}

// TestLaggingVideo: the video's frames arrive over a second behind the audio's (their keyframe
// at 2 s comes after audio up to 3.5 s). Blocks then sit before their cluster's start, and the
// cue times still never go back.
func TestLaggingVideo(t *testing.T) {
	tracks, frames := loadSource(t)
	var early, late []media.Frame
	for _, f := range frames {
		switch {
		case f.Track == 1 && f.PTS < 3500*time.Millisecond:
			early = append(early, f)
		case f.Track == 1 || f.PTS >= 2*time.Second:
			late = append(late, f)
		}
	}
	in := append(early, late...)
	path := writeFile(t, tracks, in)
	p := mediatest.CountFrames(t, path)
	if n := mediatest.Count(p.Video(t).Frames); n != len(only(in, 0)) {
		t.Errorf("%d video frames, want %d", n, len(only(in, 0)))
	}
	if msg := mediatest.DecodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}
	cues := checkStructure(t, path, tracks, in) // checks the cue times increase
	if len(cues) < 5 {
		t.Errorf("cues %v", cues)
	}
}

// TestCrash kills a process that wrote 5 s and flushed: the file it leaves holds those 5 s.
func TestCrash(t *testing.T) {
	loadSource(t)
	out := filepath.Join(t.TempDir(), "crash.webm")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WEBM_CRASH_SOURCE="+source.path, "WEBM_CRASH_OUT="+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	cmd.Process.Kill() // SIGKILL: no Close, no deferred anything
	cmd.Wait()
	if err != nil || strings.TrimSpace(line) != "flushed" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	p := mediatest.CountFrames(t, out)
	vn, an := mediatest.Count(p.Video(t).Frames), mediatest.Count(p.Audio(t).Frames)
	// 5 s is 150 video frames and ~235 Vorbis packets; at least 4 s must survive.
	if vn < 120 || an < 188 {
		t.Errorf("crashed file has %d video and %d audio frames, want at least 4 s (120, 188)", vn, an)
	}
	if d := duration(p); d < 4*time.Second || d > 6*time.Second {
		t.Errorf("crashed file duration %v", d)
	}
	if msg := mediatest.DecodeErrors(t, out); msg != "" {
		t.Errorf("ffmpeg decode errors:\n%s", msg)
	}
	// Flush put the duration so far into Info.
	if seg, _ := readOutput(t, out); seg.Info.Duration < 4900 || seg.Info.Duration > 5100 {
		t.Errorf("crashed file's Info Duration %v ms, want the 5 s flushed", seg.Info.Duration)
	}

	// Cut inside the last cluster too (a kill during its write): everything before it still reads.
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	children, segData, segSize := walkSegment(t, b)
	if segSize != -1 {
		t.Errorf("crashed file's Segment size %d, want unknown", segSize)
	}
	last := children[len(children)-1]
	if last.id != idCluster || segData+last.end != int64(len(b)) {
		t.Fatalf("crashed file does not end with a whole cluster: %+v", last)
	}
	cut := filepath.Join(t.TempDir(), "cut.webm")
	if err := os.WriteFile(cut, b[:segData+last.pos+last.size/2], 0o644); err != nil {
		t.Fatal(err)
	}
	pc := mediatest.CountFrames(t, cut)
	if cn := mediatest.Count(pc.Video(t).Frames); cn < vn-31 || cn >= vn {
		t.Errorf("cut file has %d video frames, whole %d", cn, vn)
	}
}

// crashHelper writes the source's first 5 s, flushes, writes half a second more, reports and
// waits to be killed.
func crashHelper(src, out string) int {
	tracks, frames, err := demux(src)
	if err != nil {
		println(err.Error())
		return 1
	}
	f, err := os.Create(out)
	if err != nil {
		println(err.Error())
		return 1
	}
	w, err := Create(f, tracks)
	if err != nil {
		println(err.Error())
		return 1
	}
	flushed := false
	for _, fr := range frames {
		if fr.PTS >= 5*time.Second && !flushed {
			if err := w.Flush(); err != nil {
				println(err.Error())
				return 1
			}
			flushed = true
		}
		if fr.PTS >= 5500*time.Millisecond {
			break
		}
		if err := w.WriteFrame(fr); err != nil {
			println(err.Error())
			return 1
		}
	}
	os.Stdout.WriteString("flushed\n")
	time.Sleep(time.Minute)
	return 0
}

func TestOddInput(t *testing.T) {
	tracks, frames := loadSource(t)
	video, audio := only(frames, 0), only(frames, 1)
	path := filepath.Join(t.TempDir(), "odd.webm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vt := tracks[0]
	vt.Width, vt.Height = 0, 0 // learnt from the first keyframe
	at := tracks[1]
	at.SampleRate, at.Channels = 0, 0 // learnt from the Vorbis header
	w, err := Create(f, []media.Track{vt, at})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(media.Frame{Track: 2, Data: []byte{1}}); err == nil {
		t.Error("frame for track 2 accepted")
	}
	if err := w.WriteFrame(media.Frame{Track: -1, Data: []byte{1}}); err == nil {
		t.Error("frame for track -1 accepted")
	}
	if err := w.WriteFrame(media.Frame{Track: 0, Key: true}); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("empty frame: %v", err)
	}
	// Video from 0 to 1 s, audio from 0 to 2 s; then the video jumps back 300 ms and an audio
	// frame has a negative PTS: both are refused, and the file goes on without them.
	var in []media.Frame
	for _, fr := range video[:30] {
		fr.Track = 0
		in = append(in, fr)
	}
	for _, fr := range audio {
		if fr.PTS < 2*time.Second {
			fr.Track = 1
			in = append(in, fr)
		}
	}
	for _, fr := range in {
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	back := video[30]
	back.Track, back.PTS, back.DTS = 0, video[20].PTS, video[20].DTS
	if err := w.WriteFrame(back); !errors.Is(err, ErrTimestampBackwards) || !errors.Is(err, media.ErrFrameRefused) {
		t.Errorf("video frame 300 ms back: %v", err)
	}
	neg := audio[len(audio)-1]
	neg.Track, neg.PTS = 1, -time.Second
	if err := w.WriteFrame(neg); !errors.Is(err, ErrNegativeTimestamp) || !errors.Is(err, media.ErrFrameRefused) {
		t.Errorf("audio frame at -1 s: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.WriteFrame(video[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrame after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}

	p := mediatest.CountFrames(t, path)
	v, a := p.Video(t), p.Audio(t)
	vn, vw, vh := mediatest.Count(v.Frames), v.Width, v.Height
	an, rate := mediatest.Count(a.Frames), a.SampleRate
	if vn != 30 || vw != 320 || vh != 240 || rate != "48000" {
		t.Errorf("video %d frames %dx%d, audio %s Hz: want 30 frames 320x240, 48000 Hz", vn, vw, vh, rate)
	}
	if an < 90 {
		t.Errorf("%d audio frames", an)
	}
	_, got, err := demux(path)
	if err != nil {
		t.Fatal(err)
	}
	lastV := onlyTrack(got, 0)
	if n := len(lastV); lastV[n-1].PTS != video[29].PTS.Round(time.Millisecond) {
		t.Errorf("last video frame at %v, want the last in order at %v", lastV[n-1].PTS, video[29].PTS)
	}
	lastA := onlyTrack(got, 1)
	if n, want := len(lastA), in[len(in)-1].PTS.Round(time.Millisecond); lastA[n-1].PTS != want {
		t.Errorf("last audio frame at %v, want the last in order at %v", lastA[n-1].PTS, want)
	}
}

// TestEmpty: a recording closed before any frame is still a well-formed file.
func TestEmpty(t *testing.T) {
	tracks, _ := loadSource(t)
	path := writeFile(t, tracks, nil)
	p := mediatest.CountFrames(t, path)
	if len(p.Streams) != 2 {
		t.Errorf("%d streams, want 2", len(p.Streams))
	}
	seg, b := readOutput(t, path)
	if _, segData, segSize := walkSegment(t, b); segSize != int64(len(b))-segData {
		t.Errorf("Segment size %d, want %d", segSize, int64(len(b))-segData)
	}
	if seg.SeekHead == nil || len(seg.SeekHead.Seek) != 2 || seg.Cues != nil || len(seg.Cluster) != 1 {
		t.Errorf("empty file: SeekHead %+v, Cues %+v, %d clusters", seg.SeekHead, seg.Cues, len(seg.Cluster))
	}
}

func TestCreateRejects(t *testing.T) {
	tracks, _ := loadSource(t)
	v, a := tracks[0], tracks[1]
	h264 := v
	h264.Codec = media.H264
	opus := a
	opus.Codec = media.Opus
	badConfig := a
	badConfig.Config = []byte{2, 1, 1, 1, 1, 1}
	wrongRate := a
	wrongRate.SampleRate = 44100
	for name, tr := range map[string][]media.Track{
		"none":       nil,
		"two video":  {v, v},
		"two audio":  {a, a},
		"three":      {v, a, a},
		"H.264":      {h264},
		"Opus":       {opus},
		"bad config": {v, badConfig},
		"no config":  {v, {Kind: media.Audio, Codec: media.Vorbis, SampleRate: 48000, Channels: 1}},
		"wrong rate": {wrongRate},
	} {
		f, err := os.Create(filepath.Join(t.TempDir(), "x.webm"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Create(f, tr); err == nil {
			t.Errorf("%s: accepted", name)
		}
		f.Close()
	}
	// A file opened for appending cannot be patched: refused up front.
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "append.webm"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Create(f, tracks); err == nil {
		t.Error("O_APPEND file accepted")
	}
}

// TestLongGap: a track pausing for a minute (longer than a block's 16-bit relative timecode)
// starts a new cluster instead of overflowing.
func TestLongGap(t *testing.T) {
	tracks, frames := loadSource(t)
	audio := only(frames, 1)
	var in []media.Frame
	for i, fr := range audio {
		if i >= len(audio)/2 {
			fr.PTS += time.Minute
			fr.DTS += time.Minute
		}
		in = append(in, fr)
	}
	path := writeFile(t, tracks[1:], in)
	p := mediatest.CountFrames(t, path)
	srcN := mediatest.Count(source.probe.Audio(t).Frames)
	if n := mediatest.Count(p.Audio(t).Frames); n != srcN {
		t.Errorf("%d audio frames, source %d", n, srcN)
	}
	if d := duration(p); !near(d, 70*time.Second, frameTol) {
		t.Errorf("duration %v, want 70 s", d)
	}
	checkStructure(t, path, tracks[1:], in)
}

func TestVorbisInfo(t *testing.T) {
	tracks, _ := loadSource(t)
	ch, rate, err := vorbisInfo(tracks[1].Config)
	if err != nil || ch != 1 || rate != 48000 {
		t.Errorf("vorbisInfo = %d, %d, %v", ch, rate, err)
	}
	cp := tracks[1].Config
	for n := 0; n < 40 && n < len(cp); n++ { // truncations never panic
		vorbisInfo(cp[:n])
	}
}

// BenchmarkWriteFrame feeds the source's frames in a loop, timestamps shifted on each round; the
// clusters' writes are included. Every 64k frames (~14 min, ~28 MB) the file starts over,
// outside the timer, so the page cache does not fill up.
func BenchmarkWriteFrame(b *testing.B) {
	tracks, frames := loadSource(b)
	var total int64
	for _, f := range frames {
		total += int64(len(f.Data))
	}
	span := frames[len(frames)-1].PTS + 20*time.Millisecond
	path := filepath.Join(b.TempDir(), "bench.webm")
	var w *Writer
	var f *os.File
	restart := func() {
		if w != nil {
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		var err error
		if f, err = os.Create(path); err != nil {
			b.Fatal(err)
		}
		if w, err = Create(f, tracks); err != nil {
			b.Fatal(err)
		}
	}
	restart()
	b.SetBytes(total / int64(len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(1<<16) == 0 && i > 0 {
			b.StopTimer()
			restart()
			b.StartTimer()
		}
		fr := frames[i%len(frames)]
		shift := time.Duration(i/len(frames)) * span
		fr.PTS += shift
		fr.DTS += shift
		if err := w.WriteFrame(fr); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkClose shows that finishing costs the same whatever the file's length: each iteration
// redoes the whole of Close (Cues, patches, two fsyncs) on a 1-minute and a 1-hour recording.
func BenchmarkClose(b *testing.B) {
	for _, minutes := range []int{1, 60} {
		b.Run(strconv.Itoa(minutes)+"min", func(b *testing.B) {
			tracks, frames := loadSource(b)
			video := only(frames, 0)
			f, err := os.Create(filepath.Join(b.TempDir(), "close.webm"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			w, err := Create(f, tracks[:1])
			if err != nil {
				b.Fatal(err)
			}
			// Small frames at 30 fps keep the file small; the cluster count is what matters.
			fr := media.Frame{Track: 0, Data: video[1].Data[:16]}
			for k := 0; k < minutes*60*30; k++ {
				fr.PTS = time.Duration(k) * time.Second / 30
				fr.Key = k%60 == 0
				if err := w.WriteFrame(fr); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			end := w.pos
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.closed, w.pos = false, end // undo the previous Close
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(w.cues)), "cues")
		})
	}
}
