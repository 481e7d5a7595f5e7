package rtsp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://admin:pa%40ss:w0rd@cam.local:554/Streaming/101": "rtsp://***@cam.local:554/Streaming/101",
		"rtsp://user@10.0.0.1/live":                             "rtsp://***@10.0.0.1/live",
		"rtsp://cam.local/live?x=1":                             "rtsp://cam.local/live?x=1",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	msg := `dial "rtsp://admin:hunter2@cam/x": refused (hunter2)`
	if got := scrub(msg, "admin", "hunter2"); strings.Contains(got, "hunter2") || strings.Contains(got, "admin") {
		t.Errorf("scrub left credentials: %q", got)
	}
	if got := NameFor(" rtsp://a:b@cam:554/ch1 "); got != "rtsp://cam:554/ch1" {
		t.Errorf("NameFor = %q", got)
	}
}

func TestReason(t *testing.T) {
	uri := "rtsp://viewer:secret@cam/x"
	for _, tc := range []struct {
		err  error
		uri  string
		want string
	}{
		{liberrors.ErrClientBadStatusCode{Code: base.StatusUnauthorized, Message: "Unauthorized"}, uri, "authentication failed"},
		{liberrors.ErrClientBadStatusCode{Code: base.StatusUnauthorized}, "rtsp://cam/x", "asks for a user name and password"},
		{liberrors.ErrClientBadStatusCode{Code: base.StatusNotFound}, uri, "no stream at this path"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), uri, "connection refused"},
		{liberrors.ErrClientTCPTimeout{}, uri, "stopped sending"},
		{errors.New("odd failure with secret inside"), uri, "odd failure with *** inside"},
	} {
		if got := reason(tc.err, tc.uri); !strings.Contains(got, tc.want) || strings.Contains(got, "secret") {
			t.Errorf("reason(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}

func TestPublishApp(t *testing.T) {
	if got := publishApp("/live/cam1"); got != "live" {
		t.Errorf("publishApp = %q", got)
	}
}

func TestSelectMedias(t *testing.T) {
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h265 := &format.H265{PayloadTyp: 96}
	noConfig := &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	pcma := &format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1}
	g722 := &format.G722{}
	jpeg := &format.Generic{PayloadTyp: 96, RTPMa: "JPEG/90000"}
	video := func(f format.Format) *description.Media {
		return &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}
	}
	audio := func(f format.Format) *description.Media {
		return &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}}
	}

	sel, err := selectMedias([]*description.Media{audio(pcma), video(h264)})
	if err != nil || len(sel.inputs) != 2 || sel.inputs[0].kind != media.Video || sel.inputs[1].dep.track().Codec != media.PCMA {
		t.Errorf("H.264 + PCMA: %+v %v", sel, err)
	}
	sel, err = selectMedias([]*description.Media{video(h264), audio(g722)})
	if err != nil || len(sel.inputs) != 1 || len(sel.skipped) != 1 {
		t.Errorf("H.264 + G.722: want video only, G.722 skipped: %+v %v", sel, err)
	}
	for _, m := range [][]*description.Media{{video(h265), audio(pcma)}, {video(jpeg)}} {
		var r *Refusal
		if _, err := selectMedias(m); !errors.As(err, &r) || !strings.Contains(r.Reason, "cannot be recorded") {
			t.Errorf("%v: want a refusal, got %v", m[0].Formats[0].Codec(), err)
		}
	}
	if _, err := selectMedias([]*description.Media{video(jpeg)}); err == nil || !strings.Contains(err.Error(), "JPEG") {
		t.Errorf("an unknown format is named by its SDP encoding name: %v", err)
	}
	sel, err = selectMedias([]*description.Media{video(h264), audio(noConfig)})
	if err != nil || len(sel.inputs) != 1 || len(sel.skipped) != 1 {
		t.Errorf("AAC without its config is left out, the video recorded: %+v %v", sel, err)
	}
}

// A camera's parameter sets: SPS of 320x240, PPS.
var (
	camSPS, _ = hex.DecodeString("6742c015da0507ec05a8303035280000030008000003019478b175")
	camPPS, _ = hex.DecodeString("68ce3c80")
)

// h264Session returns the encoder and the depacketizer of an H.264 format, with the parameter
// sets in its SDP when given.
func h264Session(t *testing.T, sps, pps []byte) (*rtph264.Encoder, *h264Depack) {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dep, err := newH264(f)
	if err != nil {
		t.Fatal(err)
	}
	return enc, dep
}

// TestH264InBandParameters depacketizes a stream whose SDP has no SPS/PPS: nothing comes out
// before a keyframe with parameter sets, then whole AVC access units with the track described.
func TestH264InBandParameters(t *testing.T) {
	sps, pps := camSPS, camPPS
	enc, dep := h264Session(t, nil, nil)
	idr := append([]byte{0x65, 0x88, 0x84}, make([]byte, 3000)...) // fragmented over several packets
	nonIDR := []byte{0x41, 0x9a, 0x02, 0x03}
	aus := []struct {
		au   [][]byte
		want bool // a frame comes out
	}{
		{[][]byte{nonIDR}, false},              // before any keyframe
		{[][]byte{idr}, false},                 // a keyframe, but no parameter sets yet
		{[][]byte{sps, pps, idr}, true},        // in-band parameter sets
		{[][]byte{{0x09, 0xf0}, nonIDR}, true}, // AUD dropped
	}
	for i, a := range aus {
		pkts, err := enc.Encode(a.au)
		if err != nil {
			t.Fatal(err)
		}
		var frames []media.Frame
		for _, p := range pkts {
			p.Timestamp = uint32(i * 3600)
			out, err := dep.decode(p, int64(i*3600))
			if err != nil {
				t.Fatalf("access unit %d: %v", i, err)
			}
			frames = append(frames, out...)
		}
		if got := len(frames) == 1; got != a.want {
			t.Fatalf("access unit %d: %d frames, want a frame: %v", i, len(frames), a.want)
		}
		if !a.want {
			continue
		}
		fr := frames[0]
		if fr.DTS != time.Duration(i)*40*time.Millisecond || fr.Key != (i == 2) {
			t.Errorf("access unit %d: DTS %v key %v", i, fr.DTS, fr.Key)
		}
		// AVC layout: 4-byte lengths; the AUD is gone.
		n := int(fr.Data[0])<<24 | int(fr.Data[1])<<16 | int(fr.Data[2])<<8 | int(fr.Data[3])
		if first := a.au[0]; i == 3 {
			first = nonIDR
			if n != len(first) {
				t.Errorf("access unit %d: first NAL of %d bytes, want %d", i, n, len(first))
			}
		} else if n != len(first) {
			t.Errorf("access unit %d: first NAL of %d bytes, want %d", i, n, len(first))
		}
	}
	tr := dep.track()
	if tr.Width != 320 || tr.Height != 240 || len(tr.SPS) != 1 || len(tr.PPS) != 1 {
		t.Errorf("track from in-band parameters: %+v", tr)
	}
}

func TestListFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conf", "rtsp_cameras.json")
	if l, err := loadList(path); err != nil || l != nil {
		t.Fatalf("missing file: %v %v", l, err)
	}
	want := []storedCamera{{URI: "rtsp://a:b@cam/x", Name: "cam", Transport: "tcp"}}
	if err := saveList(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadList(path)
	if err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("round trip: %+v %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (the file holds camera passwords)", fi.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := loadList(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a broken file must be an error naming it: %v", err)
	}
}

func TestEnsureTemporaryCamera(t *testing.T) {
	reg := stream.New(stream.Config{Attach: recording.New(recording.Config{Settings: func() *conf.Settings { return conf.Defaults() }, Files: records.New(t.TempDir(), nil)}).Attach})
	file := filepath.Join(t.TempDir(), "cams.json")
	m, err := Open(Config{Registry: reg, File: file})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	uri := "rtsp://u:p@127.0.0.1:1/nothing-listens-here"
	a, err := m.Ensure(uri)
	if err != nil || a.LocalStreamName != "rtsp://127.0.0.1:1/nothing-listens-here" || !a.Temporary {
		t.Fatalf("Ensure: %+v %v", a, err)
	}
	if b, err := m.Ensure("rtsp://127.0.0.1:1/nothing-listens-here"); err != nil || b.LocalStreamName != a.LocalStreamName || len(m.List()) != 1 {
		t.Errorf("second Ensure: %+v %v (%d cameras)", b, err, len(m.List()))
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a temporary camera was saved: %v", err)
	}
	if _, err := m.Remove("", a.LocalStreamName); err != nil {
		t.Errorf("Remove: %v", err)
	}
}

// max_rtsp_cameras, read at each call: cameras of the list past it are not pulled (but stay in
// the list), Add past it is refused with ErrTooMany, and raising it lets Add through.
func TestMaxCameras(t *testing.T) {
	reg := stream.New(stream.Config{Attach: recording.New(recording.Config{Settings: func() *conf.Settings { return conf.Defaults() }, Files: records.New(t.TempDir(), nil)}).Attach})
	file := filepath.Join(t.TempDir(), "cams.json")
	var stored []storedCamera
	for i := range 3 {
		stored = append(stored, storedCamera{URI: fmt.Sprintf("rtsp://127.0.0.1:1/cam%d", i), Name: fmt.Sprintf("cam%d", i)})
	}
	if err := saveList(file, stored); err != nil {
		t.Fatal(err)
	}
	max := 2
	m, err := Open(Config{Registry: reg, File: file, Max: func() int { return max }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if l := m.List(); len(l) != 2 || l[0].LocalStreamName != "cam0" || l[1].LocalStreamName != "cam1" {
		t.Fatalf("pulled %+v, want cam0 and cam1", l)
	}
	if _, err := m.Add(Spec{URI: "rtsp://127.0.0.1:1/cam3"}); !errors.Is(err, ErrTooMany) || !strings.Contains(err.Error(), "max_rtsp_cameras") {
		t.Errorf("Add past the cap: %v, want ErrTooMany naming max_rtsp_cameras", err)
	}
	if _, err := m.Add(Spec{URI: "rtsp://127.0.0.1:1/cam2", Name: "cam2"}); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a listed camera that is not pulled: %v, want ErrExists", err)
	}
	max = 3
	if _, err := m.Add(Spec{URI: "rtsp://127.0.0.1:1/cam3", Name: "cam3"}); err != nil {
		t.Errorf("Add once the cap is raised: %v", err)
	}
	if l, _ := loadList(file); len(l) != 4 {
		t.Errorf("the list file holds %+v, want the 3 cameras and cam3 (one not pulled is kept)", l)
	}
	if _, err := m.Remove("", "cam2"); err != nil {
		t.Errorf("Remove of a camera not pulled: %v", err)
	}
	if l, _ := loadList(file); len(l) != 3 {
		t.Errorf("the list file holds %+v after removing cam2", l)
	}
}

// noTime is a packetTimer that has no time reference yet: packets go no further than timing.
type noTime struct{}

func (noTime) PacketPTS2(*description.Media, *rtp.Packet) (int64, bool) { return 0, false }

// TestMediaTimeoutCountsRTPOnly: RTCP and RTP without a payload keep a session alive for
// gortsplib, not for the media timeout.
func TestMediaTimeoutCountsRTPOnly(t *testing.T) {
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	m := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{h264}}
	sel, err := selectMedias([]*description.Media{m})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(nil, sel, noTime{})
	src.lastMedia.Store(time.Now().Add(-time.Minute).UnixNano())
	src.onRTCP(m, &rtcp.SenderReport{SSRC: 1})
	src.onPacket(m, h264, &rtp.Packet{Header: rtp.Header{PayloadType: 96, SSRC: 1}})
	if d := src.silentFor(); d < time.Minute {
		t.Errorf("RTCP or an empty RTP packet counted as media: silent for %v", d)
	}
	src.onPacket(m, h264, &rtp.Packet{Header: rtp.Header{PayloadType: 96, SSRC: 1}, Payload: []byte{0x41, 0x9a}})
	if d := src.silentFor(); d > time.Second {
		t.Errorf("an RTP packet with a payload did not count as media: silent for %v", d)
	}
	if got, want := reason(&stallError{"the camera", 10 * time.Second}, ""), "no media from the camera for 10 s"; got != want {
		t.Errorf("reason of a stall: %q, want %q", got, want)
	}
}

// GStreamer's rtpmp4apay ends its StreamMuxConfig right after the AudioSpecificConfig (here
// ffmpeg's AAC encoder's, with an SBR sync extension): the track still gets that configuration.
func TestLATMFromGStreamerSDP(t *testing.T) {
	var f format.MPEG4AudioLATM
	smc, _ := hex.DecodeString("40002420adca00")
	f.CPresent = false
	f.StreamMuxConfig = &mpeg4audio.StreamMuxConfig{}
	if err := f.StreamMuxConfig.Unmarshal(smc); err != nil {
		t.Fatal(err)
	}
	d, err := newLATM(&f)
	if err != nil {
		t.Fatal(err)
	}
	if tr := d.track(); tr.Codec != media.AAC || tr.SampleRate != 44100 || tr.Channels != 2 || len(tr.Config) < 2 {
		t.Fatalf("track %+v", tr)
	}
	frames, err := d.decode(&rtp.Packet{Header: rtp.Header{Marker: true}, Payload: []byte{3, 1, 2, 3}}, 2048)
	if err != nil || len(frames) != 1 || len(frames[0].Data) != 3 || frames[0].PTS != ticks(2048, 44100) {
		t.Fatalf("frames %+v, %v", frames, err)
	}
}

// TestH264LossWaitsForKeyframe: over UDP a packet can be lost; the frame it belonged to and
// those after it, which refer to it, are dropped until the next keyframe.
func TestH264LossWaitsForKeyframe(t *testing.T) {
	enc, dep := h264Session(t, camSPS, camPPS)
	idr := append([]byte{0x65, 0x88, 0x84}, make([]byte, 3000)...)
	slice := append([]byte{0x41, 0x9a}, make([]byte, 3000)...) // fragmented over several packets
	var frames [][]*rtp.Packet
	for i, au := range [][]byte{idr, slice, slice, slice, idr, slice} {
		pkts, err := enc.Encode([][]byte{au})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			pkts = append(pkts[:1], pkts[2:]...) // a packet lost inside the first P frame
		}
		frames = append(frames, pkts)
	}
	if keys := keysOut(dep, frames, 3600); keys != "[true true false]" {
		t.Errorf("frames out (key or not): %v; want the keyframe, then nothing until the next keyframe", keys)
	}
}

// keysOut decodes the packets of each frame (frame i at time i*step) and tells of each frame
// that comes out whether it is a keyframe.
func keysOut(dep depacketizer, frames [][]*rtp.Packet, step int) string {
	var keys []bool
	for i, pkts := range frames {
		for _, p := range pkts {
			p.Timestamp = uint32(i * step)
			out, _ := dep.decode(p, int64(i*step))
			for _, fr := range out {
				keys = append(keys, fr.Key)
			}
		}
	}
	return fmt.Sprint(keys)
}

// TestVP8LossWaitsForKeyframe: as for H.264, a lost packet drops the frames up to the next
// keyframe.
func TestVP8LossWaitsForKeyframe(t *testing.T) {
	f := &format.VP8{PayloadTyp: 96}
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dep, err := newVP8(f)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 3000)
	key[0] = 0x10 // keyframe, shown
	copy(key[3:], []byte{0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	inter := make([]byte, 3000)
	inter[0] = 0x11
	var frames [][]*rtp.Packet
	for i, fr := range [][]byte{key, inter, inter, key, inter} {
		pkts, err := enc.Encode(fr)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			pkts = pkts[1:] // the first packet of the first inter frame lost
		}
		frames = append(frames, pkts)
	}
	if keys := keysOut(dep, frames, 3000); keys != "[true true false]" {
		t.Errorf("frames out (key or not): %v; want the keyframe, then nothing until the next keyframe", keys)
	}
	if tr := dep.track(); tr.Width != 320 || tr.Height != 240 {
		t.Errorf("track %dx%d, want 320x240", tr.Width, tr.Height)
	}
}
