package webm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	ebmlwebm "github.com/at-wat/ebml-go/webm"

	"github.com/streamrec/streamrec/internal/media"
)

// The source recording every test feeds through the Writer: 10 s of VP8 (30 fps, keyframe every
// 2 s) and mono 48 kHz Vorbis, made by ffmpeg.
var source struct {
	once   sync.Once
	dir    string
	path   string
	tracks []media.Track // video, audio
	frames []media.Frame // in presentation order
	probe  probe
	err    error
}

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// loadSource makes and demuxes the source recording once per test binary.
func loadSource(t testing.TB) ([]media.Track, []media.Frame) {
	t.Helper()
	needFFmpeg(t)
	source.once.Do(func() {
		source.dir, source.err = os.MkdirTemp("", "webm-test-")
		if source.err != nil {
			return
		}
		source.path = filepath.Join(source.dir, "in.webm")
		cmd := exec.Command("ffmpeg", "-v", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
			"-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
			"-t", "10", "-c:v", "libvpx", "-g", "60", "-c:a", "libvorbis", "-f", "webm", source.path)
		if out, err := cmd.CombinedOutput(); err != nil {
			source.err = fmt.Errorf("ffmpeg: %v: %s", err, out)
			return
		}
		source.tracks, source.frames, source.err = demux(source.path)
		if source.err == nil {
			source.probe, source.err = runProbe(source.path)
		}
	})
	if source.err != nil {
		t.Fatal(source.err)
	}
	return source.tracks, source.frames
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

type probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		CodecType    string `json:"codec_type"`
		SampleRate   string `json:"sample_rate"`
		Channels     int    `json:"channels"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		NbReadFrames string `json:"nb_read_frames"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func (p probe) duration() time.Duration {
	s, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return time.Duration(s * float64(time.Second))
}

// stream returns the stream of codec type typ ("video", "audio"), or fails.
func (p probe) stream(t testing.TB, typ string) (codec string, frames int, rate string, w, h int) {
	t.Helper()
	for _, s := range p.Streams {
		if s.CodecType == typ {
			n, _ := strconv.Atoi(s.NbReadFrames)
			return s.CodecName, n, s.SampleRate, s.Width, s.Height
		}
	}
	t.Fatalf("ffprobe found no %s stream", typ)
	return
}

func runProbe(path string) (probe, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames",
		"-show_entries", "stream=codec_name,codec_type,sample_rate,channels,width,height,nb_read_frames:format=duration",
		"-of", "json", path).Output()
	if err != nil {
		return probe{}, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	var p probe
	return p, json.Unmarshal(out, &p)
}

func mustProbe(t testing.TB, path string) probe {
	t.Helper()
	p, err := runProbe(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decodeErrors decodes the whole file with ffmpeg and returns what it reports at level error.
func decodeErrors(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v: %s", path, err, out)
	}
	return string(bytes.TrimSpace(out))
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
