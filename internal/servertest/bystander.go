package servertest

import (
	"math"
	"path/filepath"
	"testing"
	"time"
)

// BystanderSettings are the settings a server needs for Bystander: RTMP streams recorded
// automatically, each file named after its stream. Merge them into the test's own.
var BystanderSettings = map[string]string{
	"record_flash_published_streams": "true",
	"stream_record_policy":           "streamName",
}

// bystanderClip is what a bystander publishes: long enough to span a hostile client's attack.
var bystanderClip = Source{Seconds: 8, FPS: 25, GOP: 25, SampleRate: 44100}

// Bystander is an honest ffmpeg publisher recorded beside a hostile client: whatever the hostile
// client does, this recording must end complete and the server must still answer.
type Bystander struct {
	e    *Env
	name string
	pub  *Publisher
}

// StartBystander starts publishing an 8-second clip in real time as stream name, and waits until
// it is published. The server must run with BystanderSettings.
func StartBystander(e *Env, name string) *Bystander {
	e.T.Helper()
	b := &Bystander{e: e, name: name, pub: Publish(e.T, Make(e.T, bystanderClip), e.RTMP+"/"+name)}
	e.WaitStream(name, "PUBLISHING", 15*time.Second)
	return b
}

// Check waits for the bystander to end and judges its recording: every frame, the duration,
// a clean decode; and the server still answers REST.
func (b *Bystander) Check() {
	t := b.e.T
	t.Helper()
	if out, err := b.pub.Wait(60 * time.Second); err != nil {
		t.Fatalf("bystander ffmpeg: %v\n%s", err, out)
	}
	b.e.WaitGone(b.name, 15*time.Second)
	CheckComplete(t, filepath.Join(b.e.Records, b.name+".mp4"), bystanderClip)
	b.e.Streams() // fails the test when the server no longer answers
}

// CheckComplete judges a recording of src: H.264 with every frame, AAC when src has audio, the
// duration within one frame, and a clean full decode.
func CheckComplete(t testing.TB, path string, src Source) {
	t.Helper()
	p := ProbeFile(t, path)
	if v := p.Video(t); v.CodecName != "h264" || Count(v.Frames) != src.Frames() {
		t.Errorf("%s: video %s with %s frames, want h264 with %d", path, v.CodecName, v.Frames, src.Frames())
	}
	if src.SampleRate > 0 {
		if a := p.Audio(t); a.CodecName != "aac" {
			t.Errorf("%s: audio %s, want aac", path, a.CodecName)
		}
	}
	if d := p.Duration(); math.Abs(d-float64(src.Seconds)) > 1/float64(src.FPS)+0.03 {
		t.Errorf("%s: duration %.3f s, want %d s within one frame", path, d, src.Seconds)
	}
	if out := Decodes(t, path); out != "" {
		t.Errorf("ffmpeg reports problems decoding %s:\n%s", path, out)
	}
}
