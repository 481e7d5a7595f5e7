package mp4

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mediatest"
)

// presentationSpan returns max(pts+duration) - min(pts) over all packets, per ffprobe.
func presentationSpan(t testing.TB, path string) float64 {
	t.Helper()
	p := mediatest.ProbeFile(t, path, "-show_entries", "packet=pts_time,duration_time")
	start, end := math.Inf(1), math.Inf(-1)
	for _, pk := range p.Packets {
		pts, dur := mediatest.Seconds(pk.PtsTime), mediatest.Seconds(pk.DurationTime)
		start, end = math.Min(start, pts), math.Max(end, pts+dur)
	}
	return end - start
}

func TestRemuxJudgedByFFprobe(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	cases := []struct {
		name string
		src  sourceOpts
	}{
		{"av", sourceOpts{video: true, audio: true, seconds: 10}},
		{"av-bframes", sourceOpts{video: true, audio: true, seconds: 10, bframes: 2}},
		{"video-only", sourceOpts{video: true, seconds: 10, bframes: 2}},
		{"high-4:4:4", sourceOpts{video: true, seconds: 10, pixFmt: "yuv444p"}},
		{"audio-only", sourceOpts{audio: true, seconds: 10, sampleRate: 48000}},
	}
	for _, tc := range cases {
		if tc.src.audio && tc.src.sampleRate == 0 {
			tc.src.sampleRate = 44100
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := makeSource(t, tc.src)
			tracks, frames := demux(t, src)
			out := filepath.Join(t.TempDir(), "out.mp4")
			writeFile(t, out, tracks, frames)

			fed := map[media.Kind]int{}
			for _, fr := range frames {
				fed[tracks[fr.Track].Kind]++
			}

			// Codecs, parameters and decoded frame counts.
			srcCounts, _ := countFrames(t, src)
			counts, probe := countFrames(t, out)
			if len(probe.Streams) != len(tracks) {
				t.Fatalf("ffprobe sees %d streams, want %d", len(probe.Streams), len(tracks))
			}
			for _, s := range probe.Streams {
				switch s.CodecType {
				case "video":
					if s.CodecName != "h264" || s.Width != 320 || s.Height != 240 {
						t.Errorf("video stream %+v", s)
					}
				case "audio":
					if s.CodecName != "aac" || s.SampleRate != strconv.Itoa(tc.src.sampleRate) || s.Channels != 2 {
						t.Errorf("audio stream %+v", s)
					}
				}
			}
			if tc.src.video {
				if counts["video"] != srcCounts["video"] || counts["video"] != fed[media.Video] {
					t.Errorf("video frames: got %d, source %d, fed %d", counts["video"], srcCounts["video"], fed[media.Video])
				}
			}
			if tc.src.audio {
				// The source's edit list hides the AAC encoder's priming frame, which the media
				// model does not carry, so ours decodes every frame that was fed: one more.
				if counts["audio"] != fed[media.Audio] || counts["audio"] < srcCounts["audio"] || counts["audio"] > srcCounts["audio"]+1 {
					t.Errorf("audio frames: got %d, source %d, fed %d", counts["audio"], srcCounts["audio"], fed[media.Audio])
				}
			}

			// Duration within one frame of the source.
			frameDur := 1.0 / 30
			if !tc.src.video {
				frameDur = 1024.0 / float64(tc.src.sampleRate)
			}
			if got, want := presentationSpan(t, out), presentationSpan(t, src); math.Abs(got-want) > frameDur+0.001 {
				t.Errorf("presentation span %.4f s, source %.4f s", got, want)
			}

			// Clean decode.
			if msg := mediatest.DecodeErrors(t, out); msg != "" {
				t.Errorf("ffmpeg decode printed:\n%s", msg)
			}

			// Seeking.
			if tc.src.video {
				if msg := mediatest.DecodeErrors(t, out, "-ss", "7"); msg != "" {
					t.Errorf("ffmpeg -ss 7 printed:\n%s", msg)
				}
				cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-ss", "7", "-i", out, "-frames:v", "1", "-f", "null", "-")
				if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
					t.Errorf("ffmpeg -ss 7 -frames:v 1: %v %s", err, b)
				}
			}
			r := mediatest.ProbeFile(t, out, "-read_intervals", "7%+1", "-show_entries", "frame=media_type,pts_time,key_frame")
			if len(r.Frames) == 0 {
				t.Fatal("read_intervals 7%+1 returned no frames")
			}
			first, near7 := mediatest.Seconds(r.Frames[0].PtsTime), false
			for _, f := range r.Frames {
				if p := mediatest.Seconds(f.PtsTime); p >= 6.95 && p <= 7.1 {
					near7 = true
				}
			}
			if first < 5.9 || first > 7.1 || !near7 {
				t.Errorf("read_intervals 7%%+1: first frame at %.3f s, frame near 7 s: %v", first, near7)
			}

			checkStructure(t, out, tracks, frames)
		})
	}
}

// checkStructure reads the file back with mp4ff and checks timing, data, fragmenting and the
// finished header and index.
func checkStructure(t *testing.T, path string, tracks []media.Track, frames []media.Frame) {
	t.Helper()
	file, samples, nFrag := readBack(t, path)

	// Every frame comes back with its data and exact timing.
	perTrack := make([][]media.Frame, len(tracks))
	for _, fr := range frames {
		perTrack[fr.Track] = append(perTrack[fr.Track], fr)
	}
	var endMS uint64
	for i, tr := range tracks {
		got := samples[uint32(i+1)]
		want := perTrack[i]
		if len(got) != len(want) {
			t.Fatalf("track %d: %d samples, want %d", i, len(got), len(want))
		}
		ts := uint32(videoTimescale)
		if tr.Kind == media.Audio {
			ts = uint32(tr.SampleRate)
		}
		for j := range got {
			if !bytes.Equal(got[j].data, want[j].Data) {
				t.Fatalf("track %d sample %d: data differs", i, j)
			}
			wantDec, wantPres := toTicks(want[j].DTS, ts), toTicks(want[j].PTS, ts)
			if d := int64(got[j].decode) - wantDec; d < -1 || d > 1 {
				t.Fatalf("track %d sample %d: decode time %d, want %d", i, j, got[j].decode, wantDec)
			}
			if d := got[j].pres - wantPres; d < -1 || d > 1 {
				t.Fatalf("track %d sample %d: presentation time %d, want %d", i, j, got[j].pres, wantPres)
			}
			if got[j].sync != want[j].Key {
				t.Fatalf("track %d sample %d: sync %v, want %v", i, j, got[j].sync, want[j].Key)
			}
			endMS = max(endMS, uint64(toTicks(fromTicks(got[j].pres+int64(got[j].dur), ts), movieTimescale)))
		}
	}

	// Fragments: ≥ 1 s each but the last, ≤ 2.5 s, and starting with a keyframe (GOP is 2 s).
	hasVideo := tracks[0].Kind == media.Video
	ref := samples[1]
	refTS := float64(videoTimescale)
	if !hasVideo {
		refTS = float64(tracks[0].SampleRate)
	}
	spans := make([]float64, nFrag)
	for _, s := range ref {
		spans[s.frag] += float64(s.dur) / refTS
		if hasVideo && s.firstInTraf && !s.sync {
			t.Errorf("fragment %d starts with a non-keyframe", s.frag)
		}
	}
	for i, s := range spans {
		if (s < 0.99 && i < nFrag-1) || s > 2.5 {
			t.Errorf("fragment %d spans %.3f s", i, s)
		}
	}

	// Finished header: mvhd, mehd and tkhd durations in ms.
	mvhd := file.Moov.Mvhd
	if mvhd.Timescale != movieTimescale || mvhd.Duration != endMS {
		t.Errorf("mvhd duration %d/%d, want %d ms", mvhd.Duration, mvhd.Timescale, endMS)
	}
	if mehd := file.Moov.Mvex.Mehd; mehd == nil || uint64(mehd.FragmentDuration) != endMS {
		t.Errorf("mehd %+v, want %d", mehd, endMS)
	}
	for _, trak := range file.Moov.Traks {
		if trak.Tkhd.Duration == 0 || trak.Tkhd.Duration > endMS {
			t.Errorf("track %d: tkhd duration %d (movie %d)", trak.Tkhd.TrackID, trak.Tkhd.Duration, endMS)
		}
	}

	// mfra: a tfra per track, an entry per fragment pointing at a moof and a sync sample.
	if file.Mfra == nil || file.Mfra.Mfro == nil || len(file.Mfra.Tfras) != len(tracks) {
		t.Fatalf("mfra missing or incomplete: %+v", file.Mfra)
	}
	moofs := map[uint64]bool{}
	for _, seg := range file.Segments {
		for _, frag := range seg.Fragments {
			moofs[frag.Moof.StartPos] = true
		}
	}
	for _, tfra := range file.Mfra.Tfras {
		if len(tfra.Entries) == 0 {
			t.Errorf("tfra for track %d is empty", tfra.TrackID)
		}
		if tfra.TrackID == 1 && len(tfra.Entries) != nFrag {
			t.Errorf("tfra track 1: %d entries for %d fragments", len(tfra.Entries), nFrag)
		}
		for _, e := range tfra.Entries {
			if !moofs[e.MoofOffset] {
				t.Errorf("tfra entry %+v does not point at a moof", e)
			}
		}
	}
}

// TestCrashLeavesPlayableFile abandons a writer without Close, as a killed process would.
func TestCrashLeavesPlayableFile(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	src := makeSource(t, sourceOpts{video: true, audio: true, seconds: 8})
	tracks, frames := demux(t, src)
	path := filepath.Join(t.TempDir(), "crash.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(f, tracks)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for ; i < len(frames) && frames[i].DTS < 5*time.Second; i++ {
		if err := w.WriteFrame(frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := w.Size()
	// Keep going and then get "killed" in the middle of writing a fragment.
	for ; i < len(frames); i++ {
		if err := w.WriteFrame(frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close() // no w.Close: durations unpatched, no mfra
	if err := os.Truncate(path, flushed+(w.Size()-flushed)/2); err != nil {
		t.Fatal(err)
	}

	counts, _ := countFrames(t, path)
	if counts["video"] < 4*30 || counts["audio"] < 4*44100/1024 {
		t.Errorf("crashed file: %v frames, want ≥ 4 s of each", counts)
	}
	t.Logf("after crash: %v frames decodable", counts)

	// Cleanly abandoned (no torn fragment): everything up to the Flush is there.
	path2 := filepath.Join(t.TempDir(), "crash2.mp4")
	w2, _ := createWriter(t, path2, tracks)
	var wantVideo int
	for _, fr := range frames {
		if fr.DTS >= 5*time.Second {
			break
		}
		if err := w2.WriteFrame(fr); err != nil {
			t.Fatal(err)
		}
		if fr.Track == 0 {
			wantVideo++
		}
	}
	if err := w2.Flush(); err != nil {
		t.Fatal(err)
	}
	counts, _ = countFrames(t, path2)
	if counts["video"] != wantVideo-1 { // the newest frame waits for its duration
		t.Errorf("flushed file: %d video frames, want %d", counts["video"], wantVideo-1)
	}
	if msg := mediatest.DecodeErrors(t, path2); msg != "" {
		t.Errorf("decode of flushed file printed:\n%s", msg)
	}
}
