package mp4

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// Parameter sets of a 320x240 High-profile stream (from libx264), and an AAC-LC 44.1 kHz stereo config.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
		0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60}
	testPPS = []byte{0x68, 0xef, 0x8f, 0xcb}
	testASC = []byte{0x12, 0x10}
)

func videoTrack() media.Track {
	return media.Track{Kind: media.Video, Codec: media.H264, SPS: [][]byte{testSPS}, PPS: [][]byte{testPPS}}
}

func audioTrack(rate int) media.Track {
	return media.Track{Kind: media.Audio, Codec: media.AAC, SampleRate: rate, Channels: 2, Config: testASC}
}

// avcAU is a fake access unit: one length-prefixed NAL unit of n bytes.
func avcAU(key bool, n int) []byte {
	b := make([]byte, 4+n)
	b[3] = byte(n)
	b[2] = byte(n >> 8)
	b[1] = byte(n >> 16)
	b[4] = 0x41
	if key {
		b[4] = 0x65
	}
	return b
}

func newTestWriter(t testing.TB, tracks ...media.Track) (*Writer, string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.mp4")
	w, f := createWriter(t, path, tracks)
	return w, path, f
}

func TestCreateRejectsBadTracks(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	noPS := videoTrack()
	noPS.PPS = nil
	cases := map[string][]media.Track{
		"no tracks":       nil,
		"vp8":             {{Kind: media.Video, Codec: media.VP8}},
		"opus":            {{Kind: media.Audio, Codec: media.Opus, SampleRate: 48000, Channels: 2}},
		"two videos":      {videoTrack(), videoTrack()},
		"two audios":      {audioTrack(44100), audioTrack(44100)},
		"no PPS":          {noPS},
		"garbage SPS":     {{Kind: media.Video, Codec: media.H264, SPS: [][]byte{{0x67, 0xff}}, PPS: [][]byte{testPPS}}},
		"AAC, no params":  {{Kind: media.Audio, Codec: media.AAC}},
		"kind/codec swap": {{Kind: media.Audio, Codec: media.H264}},
	}
	for name, tracks := range cases {
		if _, err := Create(f, tracks); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
	}
	// Random parameter sets must give errors, never panics.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		sps := make([]byte, 1+rng.Intn(40))
		rng.Read(sps)
		sps[0] = 0x67
		asc := make([]byte, rng.Intn(6))
		rng.Read(asc)
		_, _, _ = buildInit([]media.Track{
			{Kind: media.Video, Codec: media.H264, SPS: [][]byte{sps}, PPS: [][]byte{testPPS}},
			{Kind: media.Audio, Codec: media.AAC, Config: asc},
		}, time.Now())
	}
	// AAC without a config but with rate and channels gets a synthesised AAC-LC config.
	if _, err := Create(f, []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 48000, Channels: 2}}); err != nil {
		t.Errorf("AAC from rate/channels: %v", err)
	}
}

func TestWriteFrameOddInput(t *testing.T) {
	w, path, _ := newTestWriter(t, videoTrack(), audioTrack(44100))
	ms := time.Millisecond
	mustErr := func(fr media.Frame, want error) {
		t.Helper()
		if err := w.WriteFrame(fr); !errors.Is(err, want) {
			t.Errorf("WriteFrame(%+v) = %v, want %v", fr.DTS, err, want)
		}
	}
	mustOK := func(fr media.Frame) {
		t.Helper()
		if err := w.WriteFrame(fr); err != nil {
			t.Errorf("WriteFrame(track %d, %v): %v", fr.Track, fr.DTS, err)
		}
	}
	mustErr(media.Frame{Track: 2, Data: []byte{1}}, ErrUnknownTrack)
	mustErr(media.Frame{Track: -1, Data: []byte{1}}, ErrUnknownTrack)
	mustErr(media.Frame{Track: 1, DTS: -ms, PTS: -ms, Key: true, Data: []byte{1}}, ErrNegativeTimestamp)
	mustOK(media.Frame{Track: 0, DTS: 0, Data: avcAU(false, 10)}) // before the first keyframe: dropped
	mustOK(media.Frame{Track: 0, DTS: 0, Key: true, Data: nil})   // empty: dropped
	mustOK(media.Frame{Track: 0, DTS: 33 * ms, PTS: 33 * ms, Key: true, Data: avcAU(true, 100)})
	mustOK(media.Frame{Track: 1, DTS: 20 * ms, PTS: 20 * ms, Key: true, Data: []byte{0x21, 0x10}})
	mustOK(media.Frame{Track: 0, DTS: 33 * ms, PTS: 33 * ms, Data: avcAU(false, 10)}) // same DTS
	mustErr(media.Frame{Track: 0, DTS: 10 * ms, PTS: 10 * ms, Data: avcAU(false, 10)}, ErrDTSBackwards)
	mustOK(media.Frame{Track: 0, DTS: 100 * ms, PTS: 90 * ms, Data: avcAU(false, 10)}) // PTS < DTS
	for i := 1; i < 100; i++ {
		mustOK(media.Frame{Track: 1, DTS: 20*ms + time.Duration(i)*1024*time.Second/44100, Key: true, Data: []byte{0x21, byte(i)}})
		mustOK(media.Frame{Track: 0, DTS: 100*ms + time.Duration(i)*ms*40, PTS: 100*ms + time.Duration(i)*ms*40, Key: i%25 == 0, Data: avcAU(i%25 == 0, 10)})
	}
	if d := w.Duration(); d < 4*time.Second || d > 4200*time.Millisecond {
		t.Errorf("Duration() = %v", d)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	mustErr(media.Frame{Track: 0, DTS: 10 * time.Second, Key: true, Data: avcAU(true, 1)}, ErrClosed)
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}

	_, samples, _ := readBack(t, path)
	v := samples[1]
	if len(v) != 102 || !v[0].sync || v[1].sync {
		t.Fatalf("video samples: %d, first sync %v", len(v), v[0].sync)
	}
	if v[0].decode != 2970 || v[1].decode != 2971 { // 33 ms; equal DTS bumped by one tick
		t.Errorf("decode times %d %d", v[0].decode, v[1].decode)
	}
	for i := 1; i < len(v); i++ {
		if v[i].decode <= v[i-1].decode {
			t.Fatalf("video decode times not increasing at %d", i)
		}
	}
	if v[2].pres != 8100 { // PTS 90 ms honoured via a negative (signed) composition offset
		t.Errorf("presentation time %d, want 8100", v[2].pres)
	}
	a := samples[2]
	if len(a) != 100 || a[0].decode != 882 { // audio starts at 20 ms
		t.Errorf("audio: %d samples, first at %d", len(a), a[0].decode)
	}
}

// TestAudioTiming: whole-frame durations despite jittery (ms-rounded) timestamps, and a
// dropped-audio gap stretches the previous frame so audio stays in sync.
func TestAudioTiming(t *testing.T) {
	const rate = 48000
	w, path, _ := newTestWriter(t, audioTrack(rate))
	var dts []time.Duration
	for i := 0; i < 500; i++ {
		if i >= 200 && i < 203 { // three frames lost at the source
			continue
		}
		d := (time.Duration(i) * 1024 * time.Second / rate).Round(time.Millisecond) // RTMP-style ms timestamps
		dts = append(dts, d)
		if err := w.WriteFrame(media.Frame{Track: 0, DTS: d, PTS: d, Key: true, Data: []byte{0x21, byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, samples, nFrag := readBack(t, path)
	a := samples[1]
	if len(a) != len(dts) {
		t.Fatalf("%d samples, want %d", len(a), len(dts))
	}
	for i, s := range a {
		want, slack := 1024, 0
		if i == 199 {
			want, slack = 4*1024, rate/1000 // re-aligned to the (ms-rounded) DTS after the gap
		}
		if d := int(s.dur) - want; d < -slack || d > slack {
			t.Errorf("sample %d: duration %d, want %d", i, s.dur, want)
		}
		if d := int64(s.decode) - toTicks(dts[i], rate); d < -rate/1000 || d > rate/1000 {
			t.Errorf("sample %d: decode time %d is %d ticks off its DTS", i, s.decode, d)
		}
	}
	if want := 500 * 1024 / rate; nFrag < want-1 || nFrag > want+1 { // ~1 s audio-only fragments
		t.Errorf("%d fragments for %d s of audio", nFrag, want)
	}
}

// TestVideoTimingNoDrift: decode times come from the absolute DTS, so 29.97 fps with
// millisecond timestamps for ten minutes lands exactly where the last DTS says.
func TestVideoTimingNoDrift(t *testing.T) {
	w, path, _ := newTestWriter(t, videoTrack())
	const n = 18000
	dts := make([]time.Duration, n)
	for i := range dts {
		dts[i] = (time.Duration(i) * 1001 * time.Second / 30000).Round(time.Millisecond)
		if err := w.WriteFrame(media.Frame{Track: 0, DTS: dts[i], PTS: dts[i] + 66*time.Millisecond,
			Key: i%90 == 0, Data: avcAU(i%90 == 0, 20)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, samples, _ := readBack(t, path)
	v := samples[1]
	if len(v) != n {
		t.Fatalf("%d samples", len(v))
	}
	for i, s := range v {
		if want := toTicks(dts[i], videoTimescale); int64(s.decode) != want || s.pres != want+5940 {
			t.Fatalf("sample %d: decode %d pres %d, want %d", i, s.decode, s.pres, want)
		}
	}
	last := v[n-1]
	if last.dur != v[n-2].dur {
		t.Errorf("last sample duration %d, previous %d", last.dur, v[n-2].dur)
	}
	wantMS := uint64(toTicks(fromTicks(last.pres+int64(last.dur), videoTimescale), movieTimescale))
	if file.Moov.Mvhd.Duration != wantMS || file.Moov.Traks[0].Tkhd.Duration != wantMS {
		t.Errorf("mvhd %d tkhd %d, want %d", file.Moov.Mvhd.Duration, file.Moov.Traks[0].Tkhd.Duration, wantMS)
	}
}

func TestFlushAndSize(t *testing.T) {
	w, path, _ := newTestWriter(t, videoTrack(), audioTrack(44100))
	initSize := w.Size()
	if st, _ := os.Stat(path); st.Size() != initSize {
		t.Fatalf("init: Size %d, file %d", initSize, st.Size())
	}
	for i := 0; i < 15; i++ { // 0.5 s: below the fragment threshold
		d := time.Duration(i) * time.Second / 30
		if err := w.WriteFrame(media.Frame{Track: 0, DTS: d, PTS: d, Key: i == 0, Data: avcAU(i == 0, 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	if w.Size() != initSize {
		t.Errorf("fragment written before 1 s of media")
	}
	if d := w.Duration(); d < 490*time.Millisecond || d > 510*time.Millisecond {
		t.Errorf("Duration() = %v", d)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := w.Size()
	if flushed <= initSize+14*1004 {
		t.Errorf("Flush wrote %d bytes", flushed-initSize)
	}
	if st, _ := os.Stat(path); st.Size() != flushed {
		t.Errorf("Size %d, file %d", flushed, st.Size())
	}
	if err := w.Flush(); err != nil || w.Size() != flushed {
		t.Errorf("idle Flush: %v, size %d -> %d", err, flushed, w.Size())
	}
}

// TestConcurrentUse runs a ticker-style Flush/Size/Duration next to WriteFrame (for -race).
func TestConcurrentUse(t *testing.T) {
	w, _, _ := newTestWriter(t, videoTrack(), audioTrack(44100))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = w.Flush()
				_ = w.Size()
				_ = w.Duration()
			}
		}
	}()
	for i := 0; i < 3000; i++ {
		d := time.Duration(i) * time.Second / 30
		if err := w.WriteFrame(media.Frame{Track: i % 2, DTS: d, PTS: d, Key: i%60 == 0 || i%2 == 1, Data: avcAU(true, 50)}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseIsFastOnLongRecording: finishing a one-hour recording only appends the index and
// patches the header.
func TestCloseIsFastOnLongRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("writes an hour of (synthetic) media")
	}
	w, path, f := newTestWriter(t, videoTrack(), audioTrack(44100))
	av := synthAV{video: avcAU(true, 200), audio: []byte{0x21, 0x10, 0x04}}
	for fr := av.next(); fr.DTS < time.Hour; fr = av.next() {
		if err := w.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	// Let the kernel write back the media first: Close's own fsync then only covers what Close writes.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("Close of a %v, %d MB recording took %v", w.Duration().Round(time.Second), w.Size()>>20, took)
	if took > 250*time.Millisecond {
		t.Errorf("Close took %v", took)
	}
	file, _, nFrag := readBack(t, path)
	if file.Moov.Mvhd.Duration < 3600000 || file.Moov.Mvhd.Duration > 3600100 {
		t.Errorf("mvhd duration %d ms", file.Moov.Mvhd.Duration)
	}
	if len(file.Mfra.Tfras[0].Entries) != nFrag || nFrag != 1800 {
		t.Errorf("%d tfra entries, %d fragments", len(file.Mfra.Tfras[0].Entries), nFrag)
	}
}
