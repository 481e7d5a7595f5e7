package webm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	ebmlwebm "github.com/at-wat/ebml-go/webm"

	"github.com/streamrec/streamrec/internal/containertest"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// The source recording every test feeds through the Writer: 10 s of VP8 (30 fps, keyframe every
// 2 s) and mono 48 kHz Vorbis, made by ffmpeg.
var source struct {
	once   sync.Once
	dir    string
	path   string
	tracks []media.Track // video, audio
	frames []media.Frame // in presentation order
	probe  mediatest.Probe
	err    error
	ok     bool // made, demuxed and probed; false when the first test to try failed
}

// loadSource makes and demuxes the source recording once per test binary.
func loadSource(t testing.TB) ([]media.Track, []media.Frame) {
	t.Helper()
	mediatest.NeedFFmpeg(t)
	source.once.Do(func() {
		source.dir, source.err = os.MkdirTemp("", "webm-test-")
		if source.err != nil {
			return
		}
		source.path = filepath.Join(source.dir, "in.webm")
		mediatest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
			"-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
			"-t", "10", "-c:v", "libvpx", "-g", "60", "-c:a", "libvorbis", "-f", "webm", source.path)
		source.tracks, source.frames, source.err = demux(source.path)
		if source.err == nil {
			source.probe = mediatest.CountFrames(t, source.path)
			source.ok = true
		}
	})
	if source.err != nil {
		t.Fatal(source.err)
	}
	if !source.ok {
		t.Fatal("the source recording could not be made: see the first test that tried")
	}
	return source.tracks, source.frames
}

// createWriter creates the file at path and a Writer of tracks on it; the file is closed when
// the test ends.
func createWriter(t testing.TB, path string, tracks []media.Track) (*Writer, *os.File) {
	t.Helper()
	return containertest.Create(t, path, tracks, Create)
}

// demux reads a WebM file into tracks (video first, then audio) and frames sorted by PTS.
func demux(path string) ([]media.Track, []media.Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var doc struct {
		Header  ebmlwebm.EBMLHeader `ebml:"EBML"`
		Segment ebmlwebm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(f, &doc); err != nil {
		return nil, nil, fmt.Errorf("unmarshal %s: %w", path, err)
	}
	scale := doc.Segment.Info.TimecodeScale
	if scale == 0 {
		scale = uint64(time.Millisecond)
	}
	var tracks []media.Track
	index := map[uint64]int{}
	for _, kind := range []uint64{1, 2} {
		for _, e := range doc.Segment.Tracks.TrackEntry {
			if e.TrackType != kind {
				continue
			}
			index[e.TrackNumber] = len(tracks)
			if kind == 1 {
				tracks = append(tracks, media.Track{Kind: media.Video, Codec: media.VP8,
					Width: int(e.Video.PixelWidth), Height: int(e.Video.PixelHeight)})
			} else {
				tracks = append(tracks, media.Track{Kind: media.Audio, Codec: media.Vorbis,
					SampleRate: int(e.Audio.SamplingFrequency), Channels: int(e.Audio.Channels), Config: e.CodecPrivate})
			}
		}
	}
	var frames []media.Frame
	add := func(cluster uint64, b ebml.Block) {
		i, ok := index[b.TrackNumber]
		if !ok {
			return
		}
		pts := time.Duration((int64(cluster) + int64(b.Timecode)) * int64(scale))
		for _, d := range b.Data {
			frames = append(frames, media.Frame{Track: i, DTS: pts, PTS: pts,
				Key: b.Keyframe || tracks[i].Kind == media.Audio, Data: d})
		}
	}
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			add(c.Timecode, b)
		}
		for _, g := range c.BlockGroup {
			add(c.Timecode, g.Block)
		}
	}
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].PTS < frames[j].PTS })
	return tracks, frames, nil
}

// duration is the container's duration ffprobe read (see mediatest.Seconds).
func duration(p mediatest.Probe) time.Duration {
	return time.Duration(p.Duration() * float64(time.Second))
}

// segmentChild is a child of the Segment as found by walking the file.
type segmentChild struct {
	id   uint32
	pos  int64 // Segment position (from the start of the Segment's data)
	size int64 // data size; -1 unknown
	end  int64 // Segment position of its end
}

// walkSegment parses the file's element structure down to the Segment's children.
// segData is the file offset of the Segment's data, segSize its declared size (-1 unknown).
func walkSegment(t testing.TB, b []byte) (children []segmentChild, segData, segSize int64) {
	t.Helper()
	readID := func(p []byte) (uint32, int) {
		if len(p) == 0 {
			return 0, 0
		}
		n := 1
		for m := byte(0x80); n <= 4 && p[0]&m == 0; m >>= 1 {
			n++
		}
		if n > 4 || len(p) < n {
			return 0, 0
		}
		var id uint32
		for _, c := range p[:n] {
			id = id<<8 | uint32(c)
		}
		return id, n
	}
	readSize := func(p []byte) (int64, int) {
		if len(p) == 0 {
			return 0, 0
		}
		n := 1
		for m := byte(0x80); n <= 8 && p[0]&m == 0; m >>= 1 {
			n++
		}
		if n > 8 || len(p) < n {
			return 0, 0
		}
		v := uint64(p[0]) & (0xFF >> n)
		all := v == 0xFF>>n
		for _, c := range p[1:n] {
			v = v<<8 | uint64(c)
			all = all && c == 0xFF
		}
		if all {
			return -1, n
		}
		return int64(v), n
	}
	off := int64(0)
	for off < int64(len(b)) {
		id, n := readID(b[off:])
		size, m := readSize(b[off+int64(n):])
		if n == 0 || m == 0 {
			t.Fatalf("bad element header at %d", off)
		}
		off += int64(n + m)
		if id != idSegment {
			off += size
			continue
		}
		segData, segSize = off, size
		end := int64(len(b))
		if size >= 0 && off+size < end {
			end = off + size
		}
		for off < end {
			id, n := readID(b[off:])
			if n == 0 {
				break
			}
			size, m := readSize(b[off+int64(n):])
			if m == 0 {
				break
			}
			children = append(children, segmentChild{id: id, pos: off - segData, size: size,
				end: off - segData + int64(n+m) + size})
			if size < 0 || off+int64(n+m)+size > end {
				break // truncated
			}
			off += int64(n+m) + size
		}
		return children, segData, segSize
	}
	t.Fatal("no Segment")
	return
}

// readOutput unmarshals a finished file written by the Writer.
func readOutput(t testing.TB, path string) (ebmlwebm.Segment, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Header  ebmlwebm.EBMLHeader `ebml:"EBML"`
		Segment ebmlwebm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(b), &doc); err != nil {
		t.Fatalf("ebml-go cannot read %s: %v", path, err)
	}
	if doc.Header.DocType != "webm" {
		t.Errorf("DocType %q", doc.Header.DocType)
	}
	return doc.Segment, b
}
