package rtmp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/rtmp/chunk"
	"github.com/streamrec/streamrec/internal/stream"
)

// The in-process pipeline: RTMP messages as the chunk reader hands them to the connection → publisher →
// stream (GOP cache) → recorder queue → recorder goroutine → fragmented MP4 on disk. No network.

// Parameter sets of a 320x240 High-profile stream (from libx264) and an AAC-LC 44.1 kHz stereo config.
var (
	pipeSPS = []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
		0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60}
	pipePPS = []byte{0x68, 0xef, 0x8f, 0xcb}
	pipeASC = []byte{0x12, 0x10}
)

// flvTag is one RTMP audio or video message.
type flvTag struct {
	video bool
	ts    uint32 // ms
	body  []byte // the FLV tag body (what go-rtmp passes as the message payload)
	media int    // bytes of media in it (what reaches the file)
}

// avcSeqHeader is the FLV body of an AVC sequence header with 4-byte NAL lengths.
func avcSeqHeader() []byte {
	b := []byte{0x17, 0, 0, 0, 0, 1, pipeSPS[1], pipeSPS[2], pipeSPS[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(pipeSPS)))
	b = append(b, pipeSPS...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pipePPS)))
	return append(b, pipePPS...)
}

// gopTags is one 2 s GOP of a ~2 Mbit/s 30 fps H.264 stream with 44.1 kHz AAC (~128 kbit/s),
// interleaved by time as an encoder sends them. Frame payloads differ (seed) so a reused or
// overwritten buffer shows in the file.
func gopTags(seed int) []flvTag {
	const gop = 2000 // ms
	var tags []flvTag
	for vi, ai := 0, 0; ; {
		vt := vi * 1000 / 30
		at := ai * 1024 * 1000 / 44100
		if vt >= gop && at >= gop {
			return tags
		}
		if vt <= at && vt < gop {
			size := 7_600
			head := byte(0x27)
			nal := byte(0x41)
			if vi == 0 {
				size, head, nal = 40_000, 0x17, 0x65
			}
			b := []byte{head, 1, 0, 0, 0}
			b = binary.BigEndian.AppendUint32(b, uint32(size))
			b = append(b, nal)
			for k := 1; k < size; k++ {
				b = append(b, byte(seed+vi*31+k))
			}
			tags = append(tags, flvTag{video: true, ts: uint32(vt), body: b, media: size + 4})
			vi++
			continue
		}
		b := []byte{0xaf, 1}
		for k := 0; k < 372; k++ {
			b = append(b, byte(seed+ai*17+k))
		}
		tags = append(tags, flvTag{ts: uint32(at), body: b, media: 372})
		ai++
	}
}

// pipeline is one RTMP publication recorded to a temporary folder.
type pipeline struct {
	dir string
	reg *stream.Registry
	st  *stream.Stream
	rec *recording.Recording
	c   *conn
}

func newPipeline(tb testing.TB) *pipeline {
	tb.Helper()
	settings := conf.Defaults()
	settings.RecordFlash = true
	settings.Policy = "streamName"
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &pipeline{dir: dir}
	p.reg = stream.New(stream.Config{Log: log, Attach: recording.New(recording.Config{Settings: func() *conf.Settings { return settings }, Files: records.New(dir, nil)}).Attach})
	st, err := p.reg.Create(stream.Identity{Name: "bench", Provider: stream.ProviderRTMP})
	if err != nil {
		tb.Fatal(err)
	}
	p.st, p.rec = st, recording.Of(st)
	p.c = &conn{pub: newPublisher(st), log: log}
	p.send(tb, flvTag{video: true, body: avcSeqHeader()})
	p.send(tb, flvTag{body: append([]byte{0xaf, 0}, pipeASC...)})
	return p
}

func (p *pipeline) send(tb testing.TB, t flvTag) {
	m := &chunk.Message{Type: chunk.TypeAudio, Timestamp: t.ts, Payload: t.body}
	if t.video {
		m.Type = chunk.TypeVideo
	}
	if err := p.c.handle(m); err != nil {
		tb.Fatal(err)
	}
}

// waitBacklog waits until the recorder's queue is shorter than n frames.
func (p *pipeline) waitBacklog(n int) {
	for {
		q, _ := p.rec.Backlog()
		if q < n {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRTMPToMP4 pushes a 2 Mbit/s H.264 + AAC publication through the whole ingest and
// recording path as fast as the recorder writes it (one op = one RTMP message). MB/s is media
// throughput on the wall clock with both goroutines (ingest, recorder) running; MB/s/core is
// media bytes per CPU second of the whole process (GC included); allocs/op is allocations per
// message. The file starts over every ~400 MB, outside the timer.
func BenchmarkRTMPToMP4(b *testing.B) {
	p := newPipeline(b)
	var cycles [][]flvTag
	var bytesPer, tagsPer int
	for s := 0; s < 4; s++ {
		c := gopTags(s)
		cycles = append(cycles, c)
		for _, t := range c {
			bytesPer += t.media
		}
		tagsPer += len(c)
	}
	b.SetBytes(int64(bytesPer / tagsPer))
	// Warm up: two GOPs grow the buffers (fragment, GOP cache, queue).
	for g, c := range cycles[:2] {
		for _, t := range c {
			t.ts += uint32(g) * 2000
			p.send(b, t)
		}
	}
	p.waitBacklog(1)
	base := uint32(4000)
	const restartEvery = 1 << 17 // messages (~420 MB)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	k, c := 0, 0
	for i := 0; i < b.N; i++ {
		if k == len(cycles[c]) {
			k, c = 0, (c+1)%len(cycles)
			base += 2000
		}
		if i%256 == 255 {
			p.waitBacklog(1024)
		}
		if i%restartEvery == restartEvery-1 {
			p.waitBacklog(1)
			b.StopTimer()
			cpu += cpuTime() - start
			p.restart(b)
			start = cpuTime()
			b.StartTimer()
		}
		t := cycles[c][k]
		t.ts += base
		p.send(b, t)
		k++
	}
	p.waitBacklog(1)
	b.StopTimer()
	cpu += cpuTime() - start
	_, dropped := p.rec.Backlog()
	if dropped > 0 {
		b.Errorf("the recorder dropped %d frames", dropped)
	}
	mb := float64(b.N) * float64(bytesPer/tagsPer) / 1e6
	b.ReportMetric(mb/cpu.Seconds(), "MB/s/core")
	p.c.pub.end() // as the connection ends it: the ingest stage is flushed first
}

// restart finishes the recording, deletes its file and starts a new one from the GOP cache.
func (p *pipeline) restart(tb testing.TB) {
	if _, err := p.rec.Stop(); err != nil {
		tb.Fatal(err)
	}
	ents, _ := os.ReadDir(p.dir)
	for _, e := range ents {
		os.Remove(filepath.Join(p.dir, e.Name()))
	}
	if err := p.rec.Start(recording.Options{}); err != nil {
		tb.Fatal(err)
	}
}

// TestPipelineRecordsEveryFrame sends 20 s of FLV tags through the in-process pipeline (as the
// benchmark does) and reads the file back: every frame is there, with the bytes that were sent.
func TestPipelineRecordsEveryFrame(t *testing.T) {
	p := newPipeline(t)
	var nv, na int
	hv, ha := sha256.New(), sha256.New()
	for g := 0; g < 10; g++ {
		for _, tag := range gopTags(g) {
			tag.ts += uint32(g) * 2000
			p.send(t, tag)
			if tag.video {
				nv++
				hv.Write(tag.body[5:])
			} else {
				na++
				ha.Write(tag.body[2:])
			}
		}
		if g%3 == 0 {
			p.waitBacklog(1) // vary the interleaving of ingest and recorder
		}
	}
	p.c.pub.end() // as the connection ends it: the ingest stage is flushed first
	if _, dropped := p.rec.Backlog(); dropped > 0 {
		t.Fatalf("%d frames dropped", dropped)
	}
	raw, err := os.ReadFile(filepath.Join(p.dir, "bench.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := mp4ff.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]int{}
	gh := map[uint32]interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}{1: sha256.New(), 2: sha256.New()}
	for _, seg := range file.Segments {
		for _, frag := range seg.Fragments {
			for _, trex := range file.Moov.Mvex.Trexs {
				fs, err := frag.GetFullSamples(trex)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range fs {
					got[trex.TrackID]++
					gh[trex.TrackID].Write(s.Data)
				}
			}
		}
	}
	if got[1] != nv || got[2] != na {
		t.Errorf("file has %d video and %d audio frames, sent %d and %d", got[1], got[2], nv, na)
	}
	if !bytes.Equal(gh[1].Sum(nil), hv.Sum(nil)) {
		t.Error("video payload in the file differs from what was sent")
	}
	if !bytes.Equal(gh[2].Sum(nil), ha.Sum(nil)) {
		t.Error("audio payload in the file differs from what was sent")
	}
}
