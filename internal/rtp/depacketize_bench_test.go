package rtp

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/streamrec/streamrec/internal/media"
)

// BenchmarkDepacketize runs RTP packets of one 2 Mbit/s 30 fps video stream (2 s GOPs) or one
// Opus stream through what the ingest does per packet: parse (as pion's ReadRTP does), the
// reorder buffer, and frame rebuilding. One op = one packet. core/stream is the share of one
// core a real-time stream of that kind needs on this path.
func BenchmarkDepacketize(b *testing.B) {
	b.Run("h264", func(b *testing.B) {
		benchDepacketize(b, media.H264, &codecs.H264Payloader{}, videoGOP(func(key bool, n int) []byte {
			if key {
				return annexB(nal(nalSPS, 12), nal(nalPPS, 4), nal(nalIDR, n))
			}
			return annexB(nal(nalSlice, n))
		}), 90000/30)
	})
	b.Run("vp8", func(b *testing.B) {
		benchDepacketize(b, media.VP8, &codecs.VP8Payloader{EnablePictureID: true}, videoGOP(func(key bool, n int) []byte {
			f := make([]byte, n)
			for i := range f {
				f[i] = byte(i)
			}
			f[0] = 0x11 // inter frame, shown
			if key {
				f[0] = 0x10
				copy(f[3:], []byte{0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02})
			}
			return f
		}), 90000/30)
	})
	b.Run("opus", func(b *testing.B) {
		frames := make([][]byte, 50)
		for i := range frames {
			frames[i] = make([]byte, 160) // 64 kbit/s in 20 ms packets
			frames[i][0] = 0xfc
		}
		benchDepacketize(b, media.Opus, &codecs.OpusPayloader{}, frames, 960)
	})
}

// videoGOP makes one 2 s GOP at 30 fps, ~2 Mbit/s: a 40 KB keyframe and 7.6 KB inter frames.
func videoGOP(frame func(key bool, n int) []byte) [][]byte {
	out := make([][]byte, 60)
	for i := range out {
		if i == 0 {
			out[i] = frame(true, 40_000)
		} else {
			out[i] = frame(false, 7_600)
		}
	}
	return out
}

func benchDepacketize(b *testing.B, codec media.Codec, pl rtp.Payloader, frames [][]byte, step uint32) {
	// One cycle of packets, marshalled as they arrive on the wire.
	var raw [][]byte
	var payload int
	var seq uint16
	for i, f := range frames {
		for _, p := range packets(pl, 1200, uint32(i)*step, &seq, f) {
			p.Version, p.PayloadType, p.SSRC = 2, 96, 1234
			buf, err := p.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			raw = append(raw, buf)
			payload += len(p.Payload)
		}
	}
	span := uint32(len(frames)) * step
	perSecond := float64(len(raw)) / (float64(span) / float64(clockRate(codec)))
	b.SetBytes(int64(payload / len(raw)))

	jb := NewJitter(700*time.Millisecond, 1500) // as WebRTC's video reorder buffer starts
	asm := For(codec, Options{})
	now := time.Now()
	out := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(raw)
		pkt := &rtp.Packet{} // pion's ReadRTP returns a new packet each time
		if err := pkt.Unmarshal(raw[k]); err != nil {
			b.Fatal(err)
		}
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp += uint32(i/len(raw)) * span
		jb.Push(pkt, now)
		for {
			p, lost := jb.Pop(now)
			if p == nil {
				break
			}
			frames, l := asm.Push(p, lost)
			if l {
				b.Fatal("loss reported on a clean stream")
			}
			out += len(frames)
		}
	}
	b.StopTimer()
	if b.N >= len(raw) && out == 0 {
		b.Fatal("no frame rebuilt")
	}
	share := float64(b.Elapsed().Nanoseconds()) / float64(b.N) * perSecond / 1e9
	b.ReportMetric(share, "core/stream")
	b.ReportMetric(perSecond, "pkts/s/stream")
}

func clockRate(c media.Codec) int {
	if c == media.Opus {
		return 48000
	}
	return 90000
}
