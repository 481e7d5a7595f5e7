package server_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/streamrec/streamrec/internal/mediatest"
	"github.com/streamrec/streamrec/internal/recorder"
	st "github.com/streamrec/streamrec/internal/servertest"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// vp8Frames makes a VP8 clip (keyframe every second) and returns its frames.
func vp8Frames(t *testing.T, seconds int) [][]byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.ivf")
	if out, err := st.Command(t, 2*time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=30:duration=%d", seconds),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", "30", "-f", "ivf", path); err != nil {
		t.Fatalf("make VP8: %v %s", err, out)
	}
	return ivfFrames(t, path)
}

// opusPackets makes an Opus clip of 20 ms packets and returns them.
func opusPackets(t *testing.T, seconds int) [][]byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.ogg")
	if out, err := st.Command(t, time.Minute, "ffmpeg", "-y", "-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-f", "ogg", path); err != nil {
		t.Fatalf("make Opus: %v %s", err, out)
	}
	return oggPackets(t, path)
}

// A WebRTC (VP8 + Opus, recorded as WebM) recording on a disk that fills up: the file ends at its
// last complete cluster, reads and decodes without a warning, has its real duration, and is
// announced with the error (REST recordError, the hook's STREAMREC_ERROR).
func TestFullDiskWebM(t *testing.T) {
	st.RequireFFmpeg(t)
	hookOut := filepath.Join(t.TempDir(), "hooks.txt")
	script := writeScript(t, `echo "$STREAMREC_FILE|$STREAMREC_ERROR" >> "`+hookOut+`"`+"\n")
	e := st.Start(t, map[string]string{"on_record_hook_script": script, "stream_record_policy": "streamName"})
	tmpfs.Mount(t, e.Records, recorder.MinFreeSpace+16<<20)
	const seconds = 20
	video, audio := vp8Frames(t, seconds), opusPackets(t, seconds)

	const id, name = "5e1d0c3a-0000-4000-8000-0000000000f1", "fullwebm"
	stop, _ := publishVP8(t, e, id, name, video, audio)
	e.WaitStream(name, "PUBLISHING", 10*time.Second)
	time.Sleep(4 * time.Second)
	tmpfs.Fill(t, e.Records, 256<<10)
	msg := waitRecordError(t, e, name, 15*time.Second)
	if !strings.Contains(msg, "no space left on device") {
		t.Errorf("recordError %q, want the write error", msg)
	}
	stop()
	e.WaitGone(name, 15*time.Second)

	file := name + ".webm"
	path := filepath.Join(e.Records, file)
	if out := mediatest.DecodeErrors(t, path, "-v", "warning"); out != "" {
		t.Errorf("%s: ffmpeg reading and decoding it:\n%s", file, out)
	}
	p := st.ProbeFile(t, path)
	if p.Video(t).CodecName != "vp8" || p.Audio(t).CodecName != "vorbis" || p.Duration() < 3 {
		t.Errorf("%s: %s + %s, %.2f s; want VP8 + Vorbis and the seconds recorded before the disk filled", file, p.Video(t).CodecName, p.Audio(t).CodecName, p.Duration())
	}
	env := waitHooks(t, e, hookOut)
	if !strings.Contains(env[file], "no space left on device") {
		t.Errorf("%s: the hook saw STREAMREC_ERROR=%q, want the write error", file, env[file])
	}
	t.Logf("%s: %.2f s, %s video frames; the hook saw STREAMREC_ERROR=%q", file, p.Duration(), p.Video(t).Frames, env[file])
}

// publishVP8 publishes video (VP8 frames, 30 fps) and audio (Opus packets of 20 ms) over WebRTC
// with the WCS signalling as stream name, sending in real time from a goroutine; the stream
// records (publishStream's record flag: WebM). stop ends the sending and unpublishes.
func publishVP8(t *testing.T, e *st.Env, id, name string, video, audio [][]byte) (stop func(), started time.Time) {
	t.Helper()
	w := dialWCS(t, fmt.Sprintf("ws://127.0.0.1:%d/pion", e.Ports["ws.port"]))
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	vt, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "full")
	at, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "full")
	for _, tr := range []webrtc.TrackLocal{vt, at} {
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	w.send("publishStream", map[string]any{"mediaSessionId": id, "name": name, "published": true, "hasVideo": true,
		"hasAudio": true, "status": "PENDING", "record": true, "mediaProvider": "WebRTC", "sdp": offer.SDP})
	data, err := w.next("setRemoteSDP", 10*time.Second)
	if err != nil || len(data) != 2 {
		t.Fatalf("setRemoteSDP: %v %s", err, data)
	}
	var answer string
	if err := json.Unmarshal(data[1], &answer); err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE/DTLS did not connect")
	}

	// Send in real time until stopped.
	done := make(chan struct{})
	sent := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sent)
		vi, ai := 0, 0
		for vi < len(video) || ai < len(audio) {
			select {
			case <-done:
				return
			default:
			}
			vAt, aAt := time.Duration(vi)*time.Second/30, time.Duration(ai)*20*time.Millisecond
			if vi < len(video) && (ai >= len(audio) || vAt <= aAt) {
				time.Sleep(time.Until(start.Add(vAt)))
				vt.WriteSample(pmedia.Sample{Data: video[vi], Duration: time.Second / 30})
				vi++
			} else {
				time.Sleep(time.Until(start.Add(aAt)))
				at.WriteSample(pmedia.Sample{Data: audio[ai], Duration: 20 * time.Millisecond})
				ai++
			}
		}
	}()
	return func() {
		close(done)
		<-sent
		w.send("unPublishStream", map[string]any{"mediaSessionId": id, "name": name})
	}, start
}
