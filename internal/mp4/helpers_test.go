package mp4

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/streamrec/streamrec/internal/containertest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

type sourceOpts struct {
	video, audio bool
	seconds      int
	bframes      int
	gop          int
	sampleRate   int
	pixFmt       string // default yuv420p; yuv444p gives H.264 High 4:4:4 (profile 244)
}

// makeSource encodes a test clip with ffmpeg into a progressive MP4 and returns its path.
func makeSource(t testing.TB, o sourceOpts) string {
	t.Helper()
	if o.gop == 0 {
		o.gop = 60
	}
	if o.sampleRate == 0 {
		o.sampleRate = 44100
	}
	if o.pixFmt == "" {
		o.pixFmt = "yuv420p"
	}
	path := filepath.Join(t.TempDir(), "source.mp4")
	var args []string
	if o.video {
		args = append(args, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30")
	}
	if o.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate="+strconv.Itoa(o.sampleRate))
	}
	args = append(args, "-t", strconv.Itoa(o.seconds))
	if o.video {
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", o.pixFmt,
			"-g", strconv.Itoa(o.gop), "-keyint_min", strconv.Itoa(o.gop), "-sc_threshold", "0",
			"-bf", strconv.Itoa(o.bframes))
	}
	if o.audio {
		args = append(args, "-c:a", "aac", "-b:a", "64k", "-ac", "2")
	}
	mediatest.FFmpeg(t, append(args, "-f", "mp4", path)...)
	return path
}

// demux reads a progressive MP4 with mp4ff and converts it to the media model: tracks, and
// frames interleaved by DTS and rebased so the earliest frame is at 0 (as the recorder does).
// Edit lists are applied, so the frames carry the source's presentation timing.
func demux(t testing.TB, path string) ([]media.Track, []media.Frame) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := mp4ff.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	var tracks []media.Track
	var frames []media.Frame
	for _, trak := range file.Moov.Traks {
		stbl := trak.Mdia.Minf.Stbl
		ts := int64(trak.Mdia.Mdhd.Timescale)
		var tr media.Track
		switch trak.Mdia.Hdlr.HandlerType {
		case "vide":
			avcx := stbl.Stsd.AvcX
			if avcx == nil || avcx.AvcC == nil {
				t.Fatal("no avcC")
			}
			tr = media.Track{Kind: media.Video, Codec: media.H264, SPS: avcx.AvcC.SPSnalus, PPS: avcx.AvcC.PPSnalus}
		case "soun":
			mp4a := stbl.Stsd.Mp4a
			if mp4a == nil || mp4a.Esds == nil {
				t.Fatal("no esds")
			}
			tr = media.Track{Kind: media.Audio, Codec: media.AAC, SampleRate: int(ts),
				Channels: int(mp4a.ChannelCount), Config: mp4a.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig}
		default:
			continue
		}
		var shift int64 // media time presented at the track's start
		if trak.Edts != nil && len(trak.Edts.Elst) > 0 {
			for _, e := range trak.Edts.Elst[0].Entries {
				if e.MediaTime >= 0 {
					shift = e.MediaTime
					break
				}
			}
		}
		n := stbl.Stsz.GetNrSamples()
		samples, err := trak.GetSampleData(1, n)
		if err != nil {
			t.Fatal(err)
		}
		idx := len(tracks)
		tracks = append(tracks, tr)
		var dts int64
		for i, s := range samples {
			rngs, err := trak.GetRangesForSampleInterval(uint32(i+1), uint32(i+1))
			if err != nil || len(rngs) != 1 {
				t.Fatalf("sample %d ranges: %v", i+1, err)
			}
			data := raw[rngs[0].Offset : rngs[0].Offset+rngs[0].Size]
			toDur := func(v int64) time.Duration {
				v -= shift
				return time.Duration(v) * time.Second / time.Duration(ts)
			}
			frames = append(frames, media.Frame{
				Track: idx,
				DTS:   toDur(dts),
				PTS:   toDur(dts + int64(s.CompositionTimeOffset)),
				Key:   tr.Kind == media.Audio || s.IsSync(),
				Data:  data,
			})
			dts += int64(s.Dur)
		}
	}
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].DTS < frames[j].DTS })
	origin := frames[0].DTS
	for i := range frames {
		frames[i].DTS -= origin
		frames[i].PTS -= origin
	}
	return tracks, frames
}

// synthAV hands out synthetic 30 fps video (a keyframe every 2 s) and 44.1 kHz AAC frames
// carrying the given payloads, interleaved in DTS order as a publisher sends them.
type synthAV struct {
	video, audio []byte
	vi, ai       int // frames handed out
}

// next returns the frame due next: the video frame unless it is later than the audio one.
func (s *synthAV) next() media.Frame {
	vd := time.Duration(s.vi) * time.Second / 30
	ad := time.Duration(s.ai) * 1024 * time.Second / 44100
	if vd <= ad {
		s.vi++
		return media.Frame{Track: 0, DTS: vd, PTS: vd, Key: (s.vi-1)%60 == 0, Data: s.video}
	}
	s.ai++
	return media.Frame{Track: 1, DTS: ad, PTS: ad, Key: true, Data: s.audio}
}

// createWriter creates the file at path and a Writer of tracks on it; the file is closed when
// the test ends.
func createWriter(t testing.TB, path string, tracks []media.Track) (*Writer, *os.File) {
	t.Helper()
	return containertest.Create(t, path, tracks, Create)
}

// writeFile writes frames through a Writer into a new file and closes it.
func writeFile(t testing.TB, path string, tracks []media.Track, frames []media.Frame) {
	t.Helper()
	w, f := createWriter(t, path, tracks)
	for _, fr := range frames {
		if err := w.WriteFrame(fr); err != nil {
			t.Fatalf("WriteFrame(track %d, dts %v): %v", fr.Track, fr.DTS, err)
		}
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != w.Size() {
		t.Errorf("Size() = %d, file has %d bytes", w.Size(), st.Size())
	}
}

// countFrames returns ffprobe's decoded frame count per codec type.
func countFrames(t testing.TB, path string) (map[string]int, mediatest.Probe) {
	t.Helper()
	p := mediatest.CountFrames(t, path)
	counts := map[string]int{}
	for _, s := range p.Streams {
		counts[s.CodecType] = mediatest.Count(s.Frames)
	}
	return counts, p
}

func readMP4(t testing.TB, path string) *mp4ff.File {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mp4ff.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("mp4ff decode %s: %v", path, err)
	}
	return f
}

// outSample is one sample read back from a written file.
type outSample struct {
	frag        int // index of the fragment holding it
	firstInTraf bool
	decode      uint64
	pres        int64
	dur         uint32
	sync        bool
	data        []byte
}

// readBack parses a written file with mp4ff and returns its samples per track ID.
func readBack(t testing.TB, path string) (*mp4ff.File, map[uint32][]outSample, int) {
	t.Helper()
	file := readMP4(t, path)
	if file.Init == nil || file.Moov == nil || file.Moov.Mvex == nil {
		t.Fatal("no fragmented init segment")
	}
	out := map[uint32][]outSample{}
	nFrag := 0
	for _, seg := range file.Segments {
		for _, frag := range seg.Fragments {
			for _, trex := range file.Moov.Mvex.Trexs {
				fs, err := frag.GetFullSamples(trex)
				if err != nil {
					t.Fatalf("fragment %d track %d: %v", nFrag, trex.TrackID, err)
				}
				for i, s := range fs {
					out[trex.TrackID] = append(out[trex.TrackID], outSample{
						frag: nFrag, firstInTraf: i == 0, decode: s.DecodeTime, pres: s.PresentationTime(),
						dur: s.Dur, sync: s.IsSync(), data: s.Data,
					})
				}
			}
			nFrag++
		}
	}
	return file, out, nFrag
}
