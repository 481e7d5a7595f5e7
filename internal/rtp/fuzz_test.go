package rtp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/streamrec/streamrec/internal/fuzzmem"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/rtpfuzz"
)

// FuzzDepacketize feeds RTP packets built from the input through the reorder buffer and the
// H.264, VP8, audio, AAC and LATM depacketizers: no panic, bounded memory, frames within their
// caps, and every H.264 frame is well formed AVC (length-prefixed NAL units filling it exactly).
func FuzzDepacketize(f *testing.F) {
	var seq uint16
	sps, pps := []byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02}, []byte{0x68, 0xce, 0x3c, 0x80}
	var h264 []*rtp.Packet
	h264 = append(h264, packets(&codecs.H264Payloader{}, 200, 0, &seq, annexB(sps, pps, nal(nalIDR, 500)))...)
	h264 = append(h264, packets(&codecs.H264Payloader{}, 200, 3000, &seq, annexB(nal(nalSlice, 100)))...)
	f.Add(rtpfuzz.Encode(h264))
	key := make([]byte, 400)
	key[3], key[4], key[5], key[6], key[8] = 0x9d, 0x01, 0x2a, 64, 48
	f.Add(rtpfuzz.Encode(packets(&codecs.VP8Payloader{EnablePictureID: true}, 150, 0, &seq, key)))
	f.Add([]byte{0x31, 0, 2, 0x7c, 0x85, 0x31, 1, 3, 0x7c, 0x45, 0})
	f.Add(append([]byte{0x30, 0, 7}, aacPacket([]int{3000}, []byte{1, 2, 3})...)) // an AAC fragment
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts := rtpfuzz.Packets(data)
		fuzzmem.Check(t, func() {
			for _, d := range []struct {
				codec media.Codec
				dep   Depacketizer
				max   int
			}{
				{media.H264, For(media.H264, Options{}), MaxFrameBytes},
				{media.VP8, For(media.VP8, Options{}), MaxFrameBytes},
				{media.Opus, For(media.Opus, Options{}), 255},
				{media.AAC, NewAAC(hbr), maxAACFrame},
				{media.AAC, NewLATM(), maxLATMElement},
			} {
				codec, asm := d.codec, d.dep
				jb := NewJitter(700*time.Millisecond, 1500) // WebRTC's video reorder buffer
				if codec == media.H264 || codec == media.VP8 {
					jb.Adapt(300*time.Millisecond, 2*time.Second) // as the video path does
				}
				now := time.Unix(0, 0)
				take := func(p *rtp.Packet, lost bool) {
					frames, _ := asm.Push(p, lost)
					for _, fr := range frames {
						if len(fr.Data) > d.max {
							t.Fatalf("%s: a frame of %d bytes, at most %d", codec, len(fr.Data), d.max)
						}
						if codec == media.H264 {
							checkAVC(t, fr.Data)
						}
					}
				}
				for _, p := range pkts {
					now = now.Add(10 * time.Millisecond)
					take(p.Packet, p.LostBefore) // the assembler alone, losses as the input says
					jb.Push(p.Packet, now)
					for q, lost := jb.Pop(now); q != nil; q, lost = jb.Pop(now) {
						take(q, lost)
					}
				}
			}
		})
	})
}

func checkAVC(t *testing.T, b []byte) {
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("AVC frame ends in %d stray bytes", len(b))
		}
		n := int(binary.BigEndian.Uint32(b))
		if n == 0 || n > len(b)-4 {
			t.Fatalf("AVC NAL unit of %d bytes with %d left", n, len(b)-4)
		}
		b = b[4+n:]
	}
}

// FuzzSplitLATM splits AudioMuxElements: no panic, every frame within the input, bounded count.
func FuzzSplitLATM(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3})
	f.Add([]byte{255, 1, 1})
	f.Add([]byte{2, 9, 9, 1, 7})
	f.Fuzz(func(t *testing.T, el []byte) {
		aus, _ := splitLATM(el)
		total := 0
		for _, au := range aus {
			if len(au) == 0 {
				t.Fatal("an empty frame")
			}
			total += len(au)
		}
		if total > len(el) || len(aus) > maxLATMSubframes {
			t.Fatalf("%d frames of %d bytes from %d bytes", len(aus), total, len(el))
		}
	})
}
