// Package webm writes VP8 + Vorbis recordings as crash-safe WebM files.
//
// The file is laid out so that whatever is on disk is always readable:
//
//	EBML header
//	Segment (size unknown while recording, patched by Close)
//	  SeekHead  68 bytes reserved up front: Info and Tracks at first, Cues added by Close
//	  Info      TimecodeScale 1 ms, Duration (8-byte float, patched by Flush and Close)
//	  Tracks    one VP8 and/or one Vorbis track
//	  Cluster…  each of known size, written whole with one write when it closes
//	  Cues      written by Close
//
// Only the cluster being filled lives in memory. A cluster closes at a video keyframe (unless it
// holds no video yet), when a frame lies 1 s or more past the cluster's start, and at every
// Flush, so a killed process loses at most what arrived since the last Flush or cluster boundary.
// The Cues hold one CuePoint per cluster whose first video block is a keyframe, and one per
// cluster while no video has come (so audio-only files get one a cluster). Close appends the Cues and
// patches a few bytes near the start of the file; it never rewrites the file, whatever its length.
//
// A write error (a full disk, an I/O error) ends the file where its last complete cluster ends:
// Close cuts the torn cluster off (truncating needs no space), patches Duration, SeekHead and
// the Segment size in place (overwriting needs none either) and appends the Cues only when they
// fit. The file is complete and plays; Close still returns the write error, so that nobody takes
// the recording for a clean finish.
package webm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

const (
	clusterSpan     = 1000     // ms: a frame this far past the cluster's start opens a new cluster
	maxClusterBytes = 32 << 20 // a cluster this large closes at the next frame that may start one
	clusterRoom     = 12       // spare bytes in front of the pending cluster for its ID and size
	seekHeadLen     = 68       // a SeekHead of three Seeks with 8-byte positions
	appName         = "streamrec"
	// maxCues bounds the seek index (24 bytes a cue; one a cluster at most): over 12 days of
	// one-second clusters. Clusters past it play, only without a cue.
	maxCues = 1 << 20
)

// ErrClosed is returned by calls on a Writer after Close.
var ErrClosed = errors.New("webm: writer closed")

// Errors with which WriteFrame refuses one frame: nothing is written and the Writer stays
// usable. All wrap media.ErrFrameRefused.
//
// A timestamp stepping back is refused, as the MP4 writer refuses it, rather than clamped to
// the track's previous one: both containers then follow one rule, the frame never lands at a
// time it does not have, and the ingest stage in front of the recorder hands over frames in
// timestamp order, so a refusal means a fault upstream, which the recorder logs.
var (
	// ErrEmptyFrame rejects a frame without data.
	ErrEmptyFrame = fmt.Errorf("webm: %w: empty frame", media.ErrFrameRefused)
	// ErrUnknownTrack rejects a frame whose Track index has no track.
	ErrUnknownTrack = fmt.Errorf("webm: %w: unknown track", media.ErrFrameRefused)
	// ErrTimestampBackwards rejects a frame whose PTS is below its track's previous one.
	// WebM blocks carry presentation times; VP8 and Vorbis frames have PTS = DTS.
	ErrTimestampBackwards = fmt.Errorf("webm: %w: timestamp went backwards", media.ErrFrameRefused)
	// ErrNegativeTimestamp rejects a frame whose PTS is below the origin.
	ErrNegativeTimestamp = fmt.Errorf("webm: %w: negative timestamp", media.ErrFrameRefused)
)

// Writer writes one WebM file. Its methods are safe for concurrent use.
type Writer struct {
	mu sync.Mutex

	f    *os.File
	base int64  // file offset of the EBML header
	pos  int64  // bytes written, from base
	good int64  // end of the last complete cluster (or of the head), from base
	done int64  // end of the media in complete clusters, ms
	head []byte // everything before the first cluster, as on disk (patched in place)

	segSizeOff int64 // offset of the Segment's 8-byte size
	segData    int64 // offset of the Segment's data: Segment positions count from here
	durOff     int64 // offset of the Duration float
	infoPos    int64 // Segment position of Info
	tracksPos  int64 // Segment position of Tracks
	dimsOff    int64 // offset of the video's 2-byte PixelWidth value while the size is unknown; 0 otherwise

	tracks    []track
	videoSeen bool // some video frame has been written

	// The pending cluster: clusterRoom spare bytes, then its Timecode and SimpleBlocks.
	buf          []byte
	open         bool
	clusterTC    int64  // ms
	clusterFirst uint64 // track number of the cluster's first block; 0 for the empty cluster
	clusterVideo bool   // the cluster holds a video block
	cueTrack     uint64 // nonzero: the cluster's first video block is a keyframe on this track...
	cueTime      int64  // ...at this time (ms)

	cues []cue

	syncedEnd int64 // the Duration value in the file, ms
	err       error // sticky I/O error
	closed    bool
}

type track struct {
	number  uint64 // TrackNumber: index+1
	video   bool
	started bool
	last    int64         // timecode of the track's latest block, ms
	lastPTS time.Duration // PTS of the track's latest frame (Recover leaves it 0: it writes no frame)
	step    int64         // latest positive gap between the track's timecodes, ms
}

type cue struct {
	time  int64 // ms
	pos   int64 // Segment position of the cluster
	track uint64
}

// Create writes the EBML header, a Segment of unknown size, a SeekHead, Info (TimecodeScale 1 ms,
// Duration to be patched) and Tracks at f's current offset (normally 0). tracks holds at most one
// VP8 video track and at most one Vorbis audio track, at least one in all; frames name them by
// index. A video track with Width or Height 0 takes its size from the first keyframe written.
// A Vorbis track's Config is its CodecPrivate: the three header packets in Xiph lacing; its
// SampleRate and Channels may be 0 (then they come from the identification header) but must
// otherwise agree with it.
//
// f must be seekable and not opened with O_APPEND: the Writer writes at explicit offsets. The
// Writer never closes f.
func Create(f *os.File, tracks []media.Track) (*Writer, error) {
	if f == nil {
		return nil, errors.New("webm: nil file")
	}
	if len(tracks) == 0 || len(tracks) > 2 {
		return nil, fmt.Errorf("webm: need one video and/or one audio track, got %d tracks", len(tracks))
	}
	w := &Writer{f: f, tracks: make([]track, len(tracks))}
	var kinds [2]int
	for i, t := range tracks {
		if t.Kind != media.Video && t.Kind != media.Audio {
			return nil, fmt.Errorf("webm: track %d: unknown kind %d", i, t.Kind)
		}
		if kinds[t.Kind]++; kinds[t.Kind] > 1 {
			return nil, fmt.Errorf("webm: track %d: a second %s track", i, t.Kind)
		}
		w.tracks[i] = track{number: uint64(i + 1), video: t.Kind == media.Video}
	}

	entries := make([]byte, 0, 256)
	dimsRel := -1 // position of the PixelWidth value within entries
	for i := range tracks {
		var err error
		var rel int
		if entries, rel, err = appendTrackEntry(entries, i, tracks[i]); err != nil {
			return nil, err
		}
		if rel >= 0 {
			dimsRel = rel
		}
	}

	h := make([]byte, 0, 256+len(entries))
	var c []byte
	c = appendUint(c, idEBMLVersion, 1)
	c = appendUint(c, idEBMLReadVersion, 1)
	c = appendUint(c, idEBMLMaxIDLength, 4)
	c = appendUint(c, idEBMLMaxSizeLength, 8)
	c = appendBytes(c, idDocType, []byte("webm"))
	c = appendUint(c, idDocTypeVersion, 4)
	c = appendUint(c, idDocTypeReadVersion, 2)
	h = appendMaster(h, idEBML, c)
	h = appendID(h, idSegment)
	w.segSizeOff = int64(len(h))
	h = append(h, unknownSize8...)
	w.segData = int64(len(h))
	h = append(h, make([]byte, seekHeadLen)...) // filled below, once Info and Tracks are placed

	w.infoPos = int64(len(h)) - w.segData
	c = c[:0]
	c = appendUint(c, idTimecodeScale, uint64(time.Millisecond))
	c = appendBytes(c, idMuxingApp, []byte(appName))
	c = appendBytes(c, idWritingApp, []byte(appName))
	durRel := len(c) + 3 // after the Duration's 2-byte ID and 1-byte size
	c = appendFloat(c, idDuration, 0)
	h = appendMaster(h, idInfo, c)
	w.durOff = int64(len(h) - len(c) + durRel)

	w.tracksPos = int64(len(h)) - w.segData
	h = appendMaster(h, idTracks, entries)
	if dimsRel >= 0 {
		w.dimsOff = int64(len(h) - len(entries) + dimsRel)
	}
	putSeekHead(h[w.segData:w.segData+seekHeadLen], w.infoPos, w.tracksPos, -1)
	w.head = h
	w.buf = make([]byte, clusterRoom, 256<<10)

	base, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("webm: %w", err)
	}
	w.base = base
	if err := w.write(h); err != nil {
		return nil, err
	}
	w.good = w.pos
	return w, nil
}

// appendTrackEntry appends the TrackEntry of tracks[i]. dimsRel is the position in the result
// of the 2-byte PixelWidth value when the video size is still unknown, else -1.
func appendTrackEntry(b []byte, i int, t media.Track) (_ []byte, dimsRel int, _ error) {
	dimsRel = -1
	var c []byte
	c = appendUint(c, idTrackNumber, uint64(i+1))
	c = appendUint(c, idTrackUID, uint64(i+1))
	c = appendUint(c, idFlagLacing, 0)
	var sub []byte
	subRel := -1
	if t.Kind == media.Video {
		if t.Codec != media.VP8 {
			return nil, 0, fmt.Errorf("webm: track %d: video codec %s, want %s", i, t.Codec, media.VP8)
		}
		if t.Width < 0 || t.Height < 0 || t.Width > 0xFFFF || t.Height > 0xFFFF {
			return nil, 0, fmt.Errorf("webm: track %d: bad video size %dx%d", i, t.Width, t.Height)
		}
		c = appendUint(c, idTrackType, 1)
		c = appendBytes(c, idCodecID, []byte("V_VP8"))
		// Two bytes each, so a size learnt from the first keyframe can be patched in.
		sub = appendUintFixed(sub, idPixelWidth, uint64(t.Width), 2)
		sub = appendUintFixed(sub, idPixelHeight, uint64(t.Height), 2)
		if t.Width == 0 || t.Height == 0 {
			subRel = 2 // after PixelWidth's ID and size
		}
		c = appendMaster(c, idVideo, sub)
	} else {
		if t.Codec != media.Vorbis {
			return nil, 0, fmt.Errorf("webm: track %d: audio codec %s, want %s", i, t.Codec, media.Vorbis)
		}
		channels, rate, err := vorbisInfo(t.Config)
		if err != nil {
			return nil, 0, fmt.Errorf("webm: track %d: %w", i, err)
		}
		if t.SampleRate != 0 && t.SampleRate != rate || t.Channels != 0 && t.Channels != channels {
			return nil, 0, fmt.Errorf("webm: track %d: %d Hz %d ch, but the Vorbis header says %d Hz %d ch",
				i, t.SampleRate, t.Channels, rate, channels)
		}
		c = appendUint(c, idTrackType, 2)
		c = appendBytes(c, idCodecID, []byte("A_VORBIS"))
		c = appendBytes(c, idCodecPrivate, t.Config)
		sub = appendFloat(sub, idSamplingFrequency, float64(rate))
		sub = appendUint(sub, idChannels, uint64(channels))
		c = appendMaster(c, idAudio, sub)
	}
	if subRel >= 0 {
		subRel += len(c) - len(sub) // sub is the tail of c
	}
	b = appendMaster(b, idTrackEntry, c)
	if subRel >= 0 {
		dimsRel = len(b) - len(c) + subRel
	}
	return b, dimsRel, nil
}

// vorbisInfo checks that cp holds the three Vorbis header packets in Xiph lacing and returns the
// channel count and sample rate from the identification header.
func vorbisInfo(cp []byte) (channels, rate int, err error) {
	bad := errors.New("config is not the three Vorbis header packets in Xiph lacing")
	if len(cp) == 0 || cp[0] != 2 {
		return 0, 0, bad
	}
	i := 1
	var sizes [2]int
	for k := range sizes {
		for {
			if i >= len(cp) {
				return 0, 0, bad
			}
			b := cp[i]
			i++
			sizes[k] += int(b)
			if b < 255 {
				break
			}
		}
	}
	if len(cp)-i <= sizes[0]+sizes[1] {
		return 0, 0, bad
	}
	id, comment, setup := cp[i:i+sizes[0]], cp[i+sizes[0]:i+sizes[0]+sizes[1]], cp[i+sizes[0]+sizes[1]:]
	if len(id) < 30 || id[0] != 1 || string(id[1:7]) != "vorbis" ||
		len(comment) < 7 || comment[0] != 3 || setup[0] != 5 {
		return 0, 0, bad
	}
	channels, rate = int(id[11]), int(binary.LittleEndian.Uint32(id[12:16]))
	if channels == 0 || rate == 0 {
		return 0, 0, bad
	}
	return channels, rate, nil
}

// putSeekHead fills p (seekHeadLen bytes) with a SeekHead pointing at Info, Tracks and, when
// cuesPos >= 0, Cues, padded with a Void.
func putSeekHead(p []byte, infoPos, tracksPos, cuesPos int64) {
	var c []byte
	seek := func(id uint32, pos int64) {
		var s []byte
		s = appendBytes(s, idSeekID, binary.BigEndian.AppendUint32(nil, id))
		s = appendUintFixed(s, idSeekPosition, uint64(pos), 8)
		c = appendMaster(c, idSeek, s)
	}
	seek(idInfo, infoPos)
	seek(idTracks, tracksPos)
	if cuesPos >= 0 {
		seek(idCues, cuesPos)
	}
	b := appendMaster(p[:0], idSeekHead, c)
	if n := seekHeadLen - len(b); n > 0 {
		appendVoid(b, n)
	}
}

// WriteFrame adds fr as a SimpleBlock to the pending cluster, first writing that cluster out
// when fr starts a new one. The block's timecode is fr.PTS in ms. Video keyframes and all
// audio blocks are flagged as keyframes. A frame for an unknown track, without data, or whose
// PTS is negative or below its track's previous one is refused with an error (see
// ErrFrameRefused) and the Writer stays usable; a write error is returned by this and every
// later call.
func (w *Writer) WriteFrame(fr media.Frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if fr.Track < 0 || fr.Track >= len(w.tracks) {
		return fmt.Errorf("%w %d (have %d)", ErrUnknownTrack, fr.Track, len(w.tracks))
	}
	if len(fr.Data) == 0 {
		return ErrEmptyFrame
	}
	t := &w.tracks[fr.Track]
	if fr.PTS < 0 {
		return ErrNegativeTimestamp
	}
	if t.started && fr.PTS < t.lastPTS {
		return fmt.Errorf("%w: %v after %v", ErrTimestampBackwards, fr.PTS, t.lastPTS)
	}
	key := fr.Key || !t.video
	tc := int64((fr.PTS + time.Millisecond/2) / time.Millisecond)
	if t.video && key && w.dimsOff != 0 {
		if err := w.learnSize(fr.Data); err != nil {
			return err
		}
	}

	if !w.open || tc-w.clusterTC >= clusterSpan ||
		tc >= w.clusterTC && (t.video && key && w.clusterVideo || len(w.buf) >= maxClusterBytes) {
		if err := w.writeCluster(); err != nil {
			return err
		}
		// Cluster timecodes never go back: after a Flush, a frame of a lagging track may open
		// the next cluster and sit before its start.
		w.clusterTC = max(tc, w.clusterTC)
		w.buf = appendUint(w.buf[:clusterRoom], idTimecode, uint64(w.clusterTC))
		w.open = true
		w.clusterFirst = t.number
		w.clusterVideo = false
		w.cueTrack = 0
	}
	rel := tc - w.clusterTC
	if rel < math.MinInt16 { // far behind the cluster (a track lagging by over 32 s): pin it
		rel = math.MinInt16
		tc = w.clusterTC + rel
	}

	w.noteBlock(t, tc, key)
	t.lastPTS = fr.PTS

	var flags byte
	if key {
		flags = 0x80
	}
	w.buf = appendID(w.buf, idSimpleBlock)
	w.buf = appendSize(w.buf, uint64(4+len(fr.Data)))
	w.buf = append(w.buf, 0x80|byte(t.number), byte(uint16(rel)>>8), byte(rel), flags)
	w.buf = append(w.buf, fr.Data...)
	return nil
}

// noteBlock keeps the track and cluster state of a block written at tc: the track's frame step
// (for its last frame's duration) and the cluster's cue point, at its first video keyframe.
// Recover replays it for each block of a crashed file.
func (w *Writer) noteBlock(t *track, tc int64, key bool) {
	if t.started && tc > t.last {
		t.step = tc - t.last
	}
	t.started, t.last = true, tc
	if t.video {
		if !w.clusterVideo && key {
			w.cueTrack, w.cueTime = t.number, tc
		}
		w.clusterVideo = true
		w.videoSeen = true
	}
}

// learnSize patches the video size into Tracks from a VP8 keyframe header, once.
func (w *Writer) learnSize(frame []byte) error {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return nil
	}
	width := binary.LittleEndian.Uint16(frame[6:]) & 0x3FFF
	height := binary.LittleEndian.Uint16(frame[8:]) & 0x3FFF
	if width == 0 || height == 0 {
		return nil
	}
	// PixelWidth's 2-byte value, then PixelHeight's 2-byte ID+size and value.
	p := w.head[w.dimsOff : w.dimsOff+6]
	binary.BigEndian.PutUint16(p, width)
	binary.BigEndian.PutUint16(p[4:], height)
	off := w.dimsOff
	w.dimsOff = 0
	return w.writeAt(p, off)
}

// writeCluster writes the pending cluster, if any, with one write and records its cue.
func (w *Writer) writeCluster() error {
	if !w.open {
		return nil
	}
	w.open = false
	n := len(w.buf) - clusterRoom
	start := clusterRoom - 4 - sizeLen(uint64(n))
	// The ID and size fill the spare room in place, ending right before the Timecode.
	appendSize(appendID(w.buf[start:start], idCluster), uint64(n))
	pos := w.pos - w.segData
	if err := w.write(w.buf[start:]); err != nil {
		return err
	}
	w.clusterDone(pos)
	return nil
}

// clusterDone takes in the cluster just written (or, by Recover, read) at Segment position pos:
// the file is good up to its end, and it gets its cue.
func (w *Writer) clusterDone(pos int64) {
	w.good, w.done = w.pos, w.end() // the cluster holds every frame so far
	q := cue{time: w.cueTime, pos: pos, track: w.cueTrack}
	if q.track == 0 {
		if w.videoSeen || w.clusterFirst == 0 {
			return // no keyframe to seek to, or the empty cluster
		}
		q.time, q.track = w.clusterTC, w.clusterFirst // audio only, so far or for good
	}
	// Cue times only increase. A keyframe lagging behind clusters already cued by audio (before
	// any video) replaces their cues; of two cues at one time the earlier cluster's stays.
	for n := len(w.cues); n > 0 && w.cues[n-1].time > q.time; n-- {
		w.cues = w.cues[:n-1]
	}
	if n := len(w.cues); (n == 0 || w.cues[n-1].time < q.time) && n < maxCues {
		w.cues = append(w.cues, q)
	}
}

// write appends p to the file.
func (w *Writer) write(p []byte) error {
	n, err := w.f.WriteAt(p, w.base+w.pos)
	w.pos += int64(n)
	if err != nil {
		w.err = fmt.Errorf("webm: %w", err)
	}
	return w.err
}

// writeAt patches p at offset off (from base).
func (w *Writer) writeAt(p []byte, off int64) error {
	if _, err := w.f.WriteAt(p, w.base+off); err != nil && w.err == nil {
		w.err = fmt.Errorf("webm: patch header: %w", err)
	}
	return w.err
}

// sync fsyncs the file.
func (w *Writer) sync() error {
	if err := w.f.Sync(); err != nil && w.err == nil {
		w.err = fmt.Errorf("webm: %w", err)
	}
	return w.err
}

// end is the end of the latest frame of any track, in ms: its timecode plus the gap before it,
// which stands for its duration (capped, so that a pause in a track does not count twice).
func (w *Writer) end() int64 {
	var end int64
	for _, t := range w.tracks {
		if t.started {
			end = max(end, t.last+min(t.step, clusterSpan))
		}
	}
	return end
}

// patchDuration writes the current duration into Info.
func (w *Writer) patchDuration() error {
	end := w.end()
	if end == w.syncedEnd {
		return nil
	}
	p := w.head[w.durOff : w.durOff+8]
	binary.BigEndian.PutUint64(p, math.Float64bits(float64(end)))
	w.syncedEnd = end
	return w.writeAt(p, w.durOff)
}

// Flush writes the pending cluster, updates Duration and fsyncs, so that everything written so
// far survives a crash.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if err := w.writeCluster(); err != nil {
		return err
	}
	if err := w.patchDuration(); err != nil {
		return err
	}
	return w.sync()
}

// Close finishes the file: it writes the pending cluster and the Cues (one CuePoint per cluster
// whose first video block is a keyframe; per cluster while there is no video), then patches
// Duration, the SeekHead (adding Cues) and the Segment size in place, and fsyncs. It does not
// close the underlying file. Calling Close again returns nil.
//
// After a write error (now or earlier) the file ends at its last complete cluster instead (see
// the package comment) and Close returns the write error, joined with any error of the repair.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err == nil {
		if !w.open && w.pos == int64(len(w.head)) {
			// Nothing recorded: an empty cluster still makes a file players open (with no frames).
			w.buf = appendUint(w.buf[:clusterRoom], idTimecode, 0)
			w.open = true
		}
		w.writeCluster()
	}
	return w.finish(w.err != nil, w.err)
}

// finish ends the file after its last cluster: cut (after a write error, or a crash) first cuts
// the torn cluster off. It appends the Cues, patches Duration, the SeekHead and the Segment size
// in place and fsyncs; it returns cause joined with whatever went wrong.
func (w *Writer) finish(cut bool, cause error) error {
	if cut {
		if err := w.truncate(); err != nil {
			return errors.Join(cause, err)
		}
	}
	cuesPos := int64(-1)
	if len(w.cues) > 0 {
		cues := w.appendCues(nil)
		_, err := w.f.WriteAt(cues, w.base+w.pos)
		if err == nil {
			// The Cues are on disk before the SeekHead and Segment size point at them.
			err = w.f.Sync()
		}
		if err == nil {
			cuesPos = w.pos - w.segData
			w.pos += int64(len(cues))
		} else {
			// No room for the Cues: the file plays without them.
			cause = errors.Join(cause, fmt.Errorf("webm: cues: %w", err))
			if err := w.truncate(); err != nil {
				return errors.Join(cause, err)
			}
		}
	}
	// Segment size, SeekHead and Info up to Duration are contiguous: patch them with one write.
	putSize8(w.head[w.segSizeOff:], uint64(w.pos-w.segData))
	putSeekHead(w.head[w.segData:w.segData+seekHeadLen], w.infoPos, w.tracksPos, cuesPos)
	w.syncedEnd = w.done
	binary.BigEndian.PutUint64(w.head[w.durOff:], math.Float64bits(float64(w.syncedEnd)))
	if _, err := w.f.WriteAt(w.head[w.segSizeOff:w.durOff+8], w.base+w.segSizeOff); err != nil {
		return errors.Join(cause, fmt.Errorf("webm: patch header: %w", err))
	}
	if err := w.f.Sync(); err != nil {
		return errors.Join(cause, fmt.Errorf("webm: %w", err))
	}
	return cause
}

// truncate cuts the file back to the end of its last complete cluster.
func (w *Writer) truncate() error {
	if err := w.f.Truncate(w.base + w.good); err != nil {
		return fmt.Errorf("webm: cut the torn cluster off: %w", err)
	}
	w.pos = w.good
	return nil
}

// appendCues appends the Cues element.
func (w *Writer) appendCues(b []byte) []byte {
	c := make([]byte, 0, 24*len(w.cues)) // a CuePoint takes 16 to 24 bytes
	var point, pos []byte
	for _, q := range w.cues {
		pos = appendUint(pos[:0], idCueTrack, q.track)
		pos = appendUint(pos, idCueClusterPosition, uint64(q.pos))
		point = appendUint(point[:0], idCueTime, uint64(q.time))
		point = appendMaster(point, idCueTrackPositions, pos)
		c = appendMaster(c, idCuePoint, point)
	}
	return appendMaster(b, idCues, c)
}

// Size is the file's length once the pending cluster is written (before Close adds the Cues),
// and its final length after Close.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.open {
		return w.pos
	}
	n := len(w.buf) - clusterRoom
	return w.pos + int64(4+sizeLen(uint64(n))+n)
}

// Duration is the end of the latest frame written: its timestamp plus the gap before it in its
// track, capped at 1 s. After Close or a write error it is the end of what the file holds.
func (w *Writer) Duration() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return time.Duration(w.done) * time.Millisecond
	}
	return time.Duration(w.end()) * time.Millisecond
}
