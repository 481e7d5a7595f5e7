package ingest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// FuzzStage feeds the stage hostile frames (timestamps jumping anywhere, keyframes or not,
// sender reports of any value, arrival times going back): it never panics, each track's output
// never goes back, and every pooled payload is given back.
func FuzzStage(f *testing.F) {
	f.Add([]byte{0x81, 0, 10, 1, 0x02, 20, 5, 0, 0x83, 40, 10, 1, 0x04, 0x7f, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		k := &sink{}
		s := New(k, slog.New(slog.DiscardHandler), Config{SyncWait: time.Second, Resync: 15 * time.Millisecond, MaxOffset: 5 * time.Second,
			Limits: Limits{Frames: 50, Bytes: 4096, Media: 2 * time.Second}})
		var bufs []*media.Buffer
		dts := [2]time.Duration{}
		at := t0
		for i := 0; len(in) >= 4; i, in = i+1, in[4:] {
			op, d, wait, flags := in[0], time.Duration(int8(in[1]))*10*time.Millisecond, time.Duration(int8(in[2]))*time.Millisecond, in[3]
			kind := media.Kind(op & 1)
			at = at.Add(wait)
			switch {
			case op&0x80 != 0:
				dts[kind] += d
				b := media.NewBuffer(int(flags%64) + 1)
				bufs = append(bufs, b)
				fr := media.Frame{DTS: dts[kind], PTS: dts[kind], Key: flags&1 != 0, Data: b.Bytes(), Buf: b}
				s.Write(kind, fr, at)
				fr.Release()
			case op&0x40 != 0:
				s.Sync(kind, time.Duration(int16(op)<<8|int16(in[1]))*time.Millisecond, d)
			case op&0x20 != 0 && i > 0:
				s.Publish(avTracks[:1+int(flags&1)], at)
			default:
				s.Tick(at)
			}
		}
		s.Flush()
		last := map[int]time.Duration{}
		for _, fr := range k.frames {
			if l, ok := last[fr.Track]; ok && fr.DTS < l {
				t.Fatalf("track %d goes back from %v to %v", fr.Track, l, fr.DTS)
			}
			last[fr.Track] = fr.DTS
		}
		for i, b := range bufs {
			if b.Refs() != 0 {
				t.Fatalf("frame %d: %d references left", i, b.Refs())
			}
		}
	})
}
