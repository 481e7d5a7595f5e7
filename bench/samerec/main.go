// Command samerec compares the recordings of two runs of the same load, packet by packet: the
// check that a change of the server's code left what it records as it was.
//
//	samerec OLD_RECORDS NEW_RECORDS
//
// Files are matched by name. For each stream (video, audio) of each file it reads every packet
// with ffprobe (size, flags, MD5 of the payload, PTS and DTS) and reports whether the payloads
// are the same, packet for packet, over the span both files hold, and how far the timestamps
// (relative to the file's first packet) lie apart. A live load's runs may end a frame apart, so
// a different packet count alone is reported, not failed; a payload that differs, or a timestamp
// more than -tolerance apart, is. Exit status 1 when any file differs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

type packet struct {
	Stream int    `json:"stream_index"`
	PTS    string `json:"pts_time"`
	DTS    string `json:"dts_time"`
	Size   string `json:"size"`
	Flags  string `json:"flags"`
	Hash   string `json:"data_hash"`
}

type probe struct {
	Streams []struct {
		Index int    `json:"index"`
		Type  string `json:"codec_type"`
		Codec string `json:"codec_name"`
	} `json:"streams"`
	Packets []packet `json:"packets"`
}

// track is one stream's packets, by codec type.
type track struct {
	codec   string
	packets []packet
}

func main() {
	tolerance := flag.Float64("tolerance", 0.001, "seconds two packets' timestamps may differ, relative to the file's first packet (WebM counts in milliseconds)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: samerec [-tolerance S] OLD_RECORDS NEW_RECORDS")
		os.Exit(2)
	}
	names, err := recordings(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	differ := false
	for _, name := range names {
		a, errA := read(filepath.Join(flag.Arg(0), name))
		b, errB := read(filepath.Join(flag.Arg(1), name))
		if errA != nil || errB != nil {
			fmt.Printf("%s: %v %v\n", name, errA, errB)
			differ = true
			continue
		}
		for _, kind := range []string{"video", "audio"} {
			if !compare(name, kind, a[kind], b[kind], *tolerance) {
				differ = true
			}
		}
	}
	if differ {
		os.Exit(1)
	}
}

// recordings lists the recording files of a folder.
func recordings(dir string) ([]string, error) {
	var names []string
	for _, ext := range []string{"*.mp4", "*.webm"} {
		m, err := filepath.Glob(filepath.Join(dir, ext))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			names = append(names, filepath.Base(p))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no recordings in %s", dir)
	}
	sort.Strings(names)
	return names, nil
}

// read returns a file's packets per codec type.
func read(path string) (map[string]track, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_data_hash", "MD5",
		"-show_entries", "packet=stream_index,pts_time,dts_time,size,flags,data_hash:stream=index,codec_type,codec_name",
		"-of", "json", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, err
	}
	kinds := map[int]string{}
	tracks := map[string]track{}
	for _, s := range p.Streams {
		kinds[s.Index] = s.Type
		tracks[s.Type] = track{codec: s.Codec}
	}
	for _, pk := range p.Packets {
		t := tracks[kinds[pk.Stream]]
		t.packets = append(t.packets, pk)
		tracks[kinds[pk.Stream]] = t
	}
	return tracks, nil
}

// compare prints one line for a stream of both files and tells whether they agree.
func compare(name, kind string, a, b track, tolerance float64) bool {
	if len(a.packets) == 0 && len(b.packets) == 0 {
		return true
	}
	line := fmt.Sprintf("%-28s %-5s %-6s packets %d / %d", name, kind, a.codec+"/"+b.codec, len(a.packets), len(b.packets))
	if a.codec != b.codec || len(a.packets) == 0 || len(b.packets) == 0 {
		fmt.Println(line, " DIFFERENT streams")
		return false
	}
	n := min(len(a.packets), len(b.packets))
	first := -1
	var worst float64
	a0, b0 := seconds(a.packets[0].DTS), seconds(b.packets[0].DTS)
	for i := 0; i < n; i++ {
		pa, pb := a.packets[i], b.packets[i]
		if first < 0 && (pa.Hash != pb.Hash || pa.Size != pb.Size || pa.Flags != pb.Flags) {
			first = i
		}
		for _, d := range []float64{(seconds(pa.PTS) - a0) - (seconds(pb.PTS) - b0), (seconds(pa.DTS) - a0) - (seconds(pb.DTS) - b0)} {
			worst = math.Max(worst, math.Abs(d))
		}
	}
	ok := first < 0 && worst <= tolerance
	payload := "payloads identical"
	if first >= 0 {
		payload = fmt.Sprintf("payload differs from packet %d", first)
	}
	fmt.Printf("%s  %s over %d, timestamps within %.1f ms, starts %.3f / %.3f s%s\n",
		line, payload, n, worst*1000, a0, b0, map[bool]string{true: "", false: "  DIFFERENT"}[ok])
	return ok
}

func seconds(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
