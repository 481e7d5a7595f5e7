// Package mp4 writes crash-safe fragmented MP4 recordings of one H.264 video track and/or one
// AAC audio track.
//
// Layout on disk:
//
//	ftyp
//	moov  (mvhd v1, trak per track with tkhd v1, mvex with mehd v1 + trex)
//	moof+mdat, moof+mdat, ...   (one writev call each, at least every ~1-2.5 s of media)
//	mfra  (tfra per track + mfro; appended by Close)
//
// Everything a player needs is written before the first fragment, so a killed process leaves a
// playable file that lacks at most its last (torn) fragment. Close appends the mfra seek index
// and patches the duration fields of mvhd, tkhd and mehd in place; it never rewrites media.
//
// A write error (a full disk, an I/O error) ends the file where its last complete fragment
// ends: Close cuts the torn fragment off (truncating needs no space), patches the durations of
// what is left in place (overwriting needs none either) and appends the mfra only when it fits.
// The file is complete and plays; Close still returns the write error, so that nobody takes
// the recording for a clean finish.
//
// Timing: video uses a 90 kHz timescale, audio its sample rate. Every fragment carries a tfdt
// with the absolute decode time of its first sample, and there is no edit list: a track that
// starts later than the recording origin starts at its own tfdt, and B-frame composition offsets
// are written as signed trun (version 1) offsets so each frame is presented at exactly its PTS.
package mp4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/streamrec/streamrec/internal/media"
)

// Fragmenting policy.
const (
	// minFragment is the media span after which a fragment is cut (before a video keyframe
	// when there is video, at the next frame when there is none).
	minFragment = time.Second
	// maxFragment cuts a fragment regardless of keyframes, so long GOPs or a video track that
	// never delivers still land on disk regularly. It exceeds 2 s so that a 2 s GOP, plus the
	// audio that precedes its keyframe, still gives keyframe-aligned fragments.
	maxFragment = 2500 * time.Millisecond
	// maxFragmentBytes and maxFragmentSamples bound memory when timestamps do not advance.
	maxFragmentBytes   = 64 << 20
	maxFragmentSamples = 1 << 16
)

// Sample flags (ISO/IEC 14496-12 8.8.3.1).
const (
	flagsSync    = 0x02000000 // sample_depends_on=2 (I-frame)
	flagsNonSync = 0x01010000 // sample_depends_on=1, sample_is_non_sync_sample=1
)

// Errors with which WriteFrame refuses one frame; all wrap media.ErrFrameRefused.
var (
	// ErrUnknownTrack is returned for a frame whose Track index has no track.
	ErrUnknownTrack = fmt.Errorf("mp4: %w: unknown track", media.ErrFrameRefused)
	// ErrDTSBackwards is returned (and the frame dropped) when a track's DTS decreases.
	ErrDTSBackwards = fmt.Errorf("mp4: %w: DTS went backwards", media.ErrFrameRefused)
	// ErrNegativeTimestamp is returned (and the frame dropped) for a DTS below the origin.
	ErrNegativeTimestamp = fmt.Errorf("mp4: %w: negative timestamp", media.ErrFrameRefused)
	// ErrFrameTooLarge is returned for a frame that cannot be a single MP4 sample.
	ErrFrameTooLarge = fmt.Errorf("mp4: %w: frame too large", media.ErrFrameRefused)
)

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("mp4: writer closed")

// Writer writes one fragmented MP4 file. Its methods are safe for concurrent use (a recorder
// may call Flush from a ticker goroutine while another goroutine calls WriteFrame).
type Writer struct {
	mu sync.Mutex

	f    *os.File
	vw   *vecWriter
	base int64 // file offset of the ftyp box
	size int64 // bytes written so far, from base
	good int64 // end of the last complete fragment (or of the init segment), from base
	init *initSegment

	tracks   []track
	hasVideo bool

	seq          uint32        // next mfhd sequence number
	pending      int           // complete samples waiting for the next fragment
	pendingBytes int           // their payload bytes
	fragStart    time.Duration // earliest input DTS among them

	out    []byte   // reused moof + mdat header buffer
	iov    [][]byte // reused: the fragment's pieces, for writev
	err    error    // sticky write error: once a fragment is torn nothing more is appended
	closed bool
}

type track struct {
	trackConfig

	// Current fragment: complete samples. A pooled payload (media.Buffer) is referenced, not
	// copied; other payloads are copied into data, the complete samples' first (arena bytes),
	// then the held sample's.
	samples  []sample
	data     []byte
	arena    int // bytes of data that belong to complete samples
	dataLen  int // payload bytes of samples
	ctoCount int // samples with a non-zero composition offset

	// The newest sample is held back until the next one gives its duration.
	held    sample
	hasHeld bool

	started bool          // a sample was accepted (video: after the first keyframe)
	lastDTS time.Duration // input DTS of the newest sample
	lastDur uint32        // duration of the newest complete sample
	presEnd int64         // max composition end over complete samples, in timescale units
	doneEnd int64         // presEnd of the samples in complete fragments on disk

	tfra []tfraEntry
}

type sample struct {
	dt   int64         // decode time, track timescale
	dts  time.Duration // input DTS
	dur  uint32
	size uint32
	cto  int32
	sync bool
	// The payload: ref, a pooled buffer's bytes the writer holds a reference to (buf), or,
	// when buf is nil, the track's data from off.
	ref []byte
	buf *media.Buffer
	off int
}

// payload returns the sample's bytes; t is its track.
func (s *sample) payload(t *track) []byte {
	if s.buf != nil {
		return s.ref
	}
	return t.data[s.off : s.off+int(s.size)]
}

type tfraEntry struct {
	time       uint64
	moofOffset uint64
	traf       uint32
	sample     uint32
}

// Create writes the init segment (ftyp + moov with mvex/trex, and mehd) to f and returns a writer.
//
// tracks holds zero or one H.264 video track (SPS/PPS required; Width/Height derived from the
// SPS when zero) and zero or one AAC audio track (Config = AudioSpecificConfig, SampleRate,
// Channels; missing values are derived from one another). Frame.Track indexes this slice; the
// MP4 track ID is index+1.
//
// f must be writable, positioned where the file starts (normally a new empty file) and not
// opened with O_APPEND, because Close patches the header with WriteAt. The Writer does not close f.
func Create(f *os.File, tracks []media.Track) (*Writer, error) {
	if f == nil {
		return nil, errors.New("mp4: nil file")
	}
	seg, cfgs, err := buildInit(tracks, time.Now())
	if err != nil {
		return nil, err
	}
	base, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("mp4: %w", err)
	}
	vw, err := newVecWriter(f)
	if err != nil {
		return nil, fmt.Errorf("mp4: %w", err)
	}
	n, err := f.Write(seg.data)
	if err != nil {
		return nil, fmt.Errorf("mp4: write init segment: %w", err)
	}
	w := &Writer{
		f:      f,
		vw:     vw,
		base:   base,
		size:   int64(n),
		good:   int64(n),
		init:   seg,
		tracks: make([]track, len(cfgs)),
		seq:    1,
	}
	for i, c := range cfgs {
		w.tracks[i].trackConfig = c
		w.hasVideo = w.hasVideo || c.video
	}
	return w, nil
}

// WriteFrame appends one access unit of tracks[fr.Track]. Timestamps are relative to the
// recording's origin (a track may start later than 0). A pooled payload (fr.Buf) is retained
// until its fragment is written; any other fr.Data is copied, and the caller may reuse it.
//
// Frames that cannot be written are refused with an error and dropped, leaving the writer
// usable: unknown track (ErrUnknownTrack), DTS below the track's previous DTS (ErrDTSBackwards)
// or below 0 (ErrNegativeTimestamp). Frames with empty Data, and video frames before the first
// keyframe (undecodable), are dropped silently. After a write error every call returns it.
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
		return ErrUnknownTrack
	}
	t := &w.tracks[fr.Track]
	if fr.DTS < 0 {
		return ErrNegativeTimestamp
	}
	if t.started && fr.DTS < t.lastDTS {
		return ErrDTSBackwards
	}
	if len(fr.Data) == 0 {
		return nil
	}
	if uint64(len(fr.Data)) > math.MaxUint32-16 {
		return ErrFrameTooLarge
	}
	if t.video && !t.started && !fr.Key {
		return nil
	}

	var dt int64
	var cto int32
	if t.video {
		dt = toTicks(fr.DTS, t.timescale)
		if t.hasHeld && dt <= t.held.dt {
			dt = t.held.dt + 1 // keep decode times strictly increasing
		}
		pts := max(fr.PTS, 0)
		cto = clampInt32(toTicks(pts, t.timescale) - dt)
		if t.hasHeld {
			t.held.dur = clampUint32(dt - t.held.dt)
		}
	} else {
		want := toTicks(fr.DTS, t.timescale)
		if t.hasHeld {
			// Audio advances by whole frames; only a real gap (dropped audio) stretches the
			// previous frame so audio stays in sync with video.
			dur := int64(t.frameDur)
			if gap := want - t.held.dt; gap > dur*3/2 {
				dur = gap
			}
			t.held.dur = clampUint32(dur)
			dt = t.held.dt + int64(t.held.dur)
		} else {
			dt = want
		}
	}
	if t.hasHeld {
		w.complete(t)
	}

	if w.pending > 0 {
		span := fr.DTS - w.fragStart
		cut := span >= maxFragment ||
			w.pendingBytes+len(fr.Data) > maxFragmentBytes ||
			w.pending >= maxFragmentSamples ||
			(span >= minFragment && (!w.hasVideo || (t.video && fr.Key)))
		if cut {
			if err := w.writeFragment(); err != nil {
				return err
			}
		}
	}

	t.held = sample{
		dt:   dt,
		dts:  fr.DTS,
		size: uint32(len(fr.Data)),
		cto:  cto,
		sync: fr.Key || !t.video,
	}
	if fr.Buf != nil {
		fr.Retain()
		t.held.ref, t.held.buf = fr.Data, fr.Buf
	} else {
		t.held.off = len(t.data)
		t.data = append(t.data, fr.Data...)
	}
	t.hasHeld = true
	t.started = true
	t.lastDTS = fr.DTS
	return nil
}

// complete moves t's held sample (its duration now set) into the pending fragment.
func (w *Writer) complete(t *track) {
	s := t.held
	t.hasHeld = false
	t.held = sample{}
	t.samples = append(t.samples, s)
	t.dataLen += int(s.size)
	if s.buf == nil {
		t.arena = s.off + int(s.size)
	}
	if s.cto != 0 {
		t.ctoCount++
	}
	t.lastDur = s.dur
	t.presEnd = max(t.presEnd, s.dt+int64(s.cto)+int64(s.dur))
	if w.pending == 0 || s.dts < w.fragStart {
		w.fragStart = s.dts
	}
	w.pending++
	w.pendingBytes += int(s.size)
}

// Flush writes the pending fragment now: every sample whose duration is known, i.e. all but
// the newest sample of each track, which waits for its successor. Calling Flush while frames
// are flowing cuts the fragment wherever the stream happens to be (not necessarily before a
// keyframe); WriteFrame already cuts at least every 2.5 s of media, so a ticker only needs to
// call Flush to push out data of a stream that went idle.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	return w.writeFragment()
}

// Close finishes the file: the newest sample of each track is written with the previous
// duration (audio: one frame), then the mfra seek index is appended, the mvhd/tkhd/mehd
// durations are patched in place and the file is fsynced. Its cost does not depend on the
// file's length. Close does not close f. Calling Close again returns nil.
//
// After a write error (now or earlier) Close repairs the file instead (see the package
// comment) and returns the write error, joined with any error of the repair.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.releaseBuffers()
	if w.err == nil {
		for i := range w.tracks {
			t := &w.tracks[i]
			if !t.hasHeld {
				continue
			}
			t.held.dur = t.defaultDur()
			w.complete(t)
		}
		w.writeFragment()
	}
	if w.err == nil {
		w.err = w.writeMfra()
	}
	if w.err != nil {
		return w.repair()
	}
	if err := w.patchDurations(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("mp4: fsync: %w", err)
	}
	return nil
}

// repair ends the file after the write error w.err at its last complete fragment: the torn
// rest is cut off, the durations of what is left are patched in place, and the mfra is appended
// when there is room for it (else cut off again: the file plays without a seek index). None of
// it needs free space except the mfra. It returns w.err, joined with whatever the repair hit.
//
// On a copy-on-write file system (btrfs, ZFS) even an overwrite may need space: when the patch
// fails the file still plays, as after a crash (no durations in the header).
func (w *Writer) repair() error {
	return errors.Join(w.err, w.cut())
}

// cut is the repair itself, shared with Recover: it ends the file at w.good (the end of its
// last complete fragment) with patched durations and, when it fits, the mfra.
func (w *Writer) cut() error {
	if err := w.truncate(); err != nil {
		return err
	}
	perr := w.patchDurations()
	var terr error
	if w.writeMfra() != nil {
		terr = w.truncate()
	}
	var serr error
	if err := w.f.Sync(); err != nil {
		serr = fmt.Errorf("mp4: fsync: %w", err)
	}
	return errors.Join(perr, terr, serr)
}

// truncate cuts the file back to the end of its last complete fragment.
func (w *Writer) truncate() error {
	if err := w.f.Truncate(w.base + w.good); err != nil {
		return fmt.Errorf("mp4: cut the torn fragment off: %w", err)
	}
	w.size = w.good
	return nil
}

// releaseBuffers drops the fragment buffers, and the references to pooled payloads never
// written (after a write error), so a closed Writer that is still referenced does not pin a
// fragment's worth of memory.
func (w *Writer) releaseBuffers() {
	w.out, w.iov = nil, nil
	for i := range w.tracks {
		t := &w.tracks[i]
		for j := range t.samples {
			t.samples[j].release()
		}
		if t.hasHeld {
			t.held.release()
			t.hasHeld = false
		}
		t.data = nil
		t.samples = nil
	}
}

// release drops the sample's reference to its pooled payload, if any.
func (s *sample) release() {
	if s.buf != nil {
		media.Frame{Buf: s.buf}.Release()
		s.buf, s.ref = nil, nil
	}
}

// Size returns the number of bytes written to the file so far.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Duration returns the media duration so far: the latest presentation end over all tracks,
// measured from the recording's origin, including samples not yet flushed. After Close or a
// write error it is the duration of what the file holds.
func (w *Writer) Duration() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var d time.Duration
	for i := range w.tracks {
		t := &w.tracks[i]
		end := t.end()
		if w.closed || w.err != nil {
			end = t.doneEnd
		}
		d = max(d, fromTicks(end, t.timescale))
	}
	return d
}

// defaultDur is the duration given to a track's last sample, whose successor never came.
func (t *track) defaultDur() uint32 {
	if !t.video {
		return t.frameDur
	}
	if t.lastDur > 0 {
		return t.lastDur
	}
	return videoTimescale / 30
}

// end is the track's presentation end in timescale units, counting the held sample with its
// provisional duration.
func (t *track) end() int64 {
	e := t.presEnd
	if t.hasHeld {
		e = max(e, t.held.dt+int64(t.held.cto)+int64(t.defaultDur()))
	}
	return e
}

// writeFragment writes all complete samples as one moof+mdat with a single writev call: the
// header, then each track's payloads where they are (pooled buffers, the track's copies).
func (w *Writer) writeFragment() error {
	if w.pending == 0 {
		return nil
	}
	if w.err != nil {
		return w.err
	}
	moofSize := 8 + 16 // moof header + mfhd
	payload := 0
	for i := range w.tracks {
		t := &w.tracks[i]
		if len(t.samples) > 0 {
			moofSize += t.trafSize()
			payload += t.dataLen
		}
	}
	mdatHdr := 8
	if uint64(payload)+8 > math.MaxUint32 {
		mdatHdr = 16
	}

	out := w.out[:0]
	out = appendBoxHeader(out, moofSize, "moof")
	out = appendBoxHeader(out, 16, "mfhd")
	out = binary.BigEndian.AppendUint32(out, 0)
	out = binary.BigEndian.AppendUint32(out, w.seq)
	dataOff := moofSize + mdatHdr
	for i := range w.tracks {
		t := &w.tracks[i]
		if len(t.samples) > 0 {
			out = t.appendTraf(out, dataOff)
			dataOff += t.dataLen
		}
	}
	if mdatHdr == 8 {
		out = appendBoxHeader(out, 8+payload, "mdat")
	} else {
		out = appendBoxHeader(out, 1, "mdat")
		out = binary.BigEndian.AppendUint64(out, uint64(16+payload))
	}
	w.out = out
	iov := append(w.iov[:0], out)
	for i := range w.tracks {
		t := &w.tracks[i]
		for j := range t.samples {
			s := &t.samples[j]
			if s.buf == nil && j > 0 && t.samples[j-1].buf == nil {
				// The copies of consecutive samples are adjacent in data: one piece.
				k := len(iov) - 1
				iov[k] = iov[k][:len(iov[k])+int(s.size)]
				continue
			}
			iov = append(iov, s.payload(t))
		}
	}
	w.iov = iov

	moofOffset := uint64(w.base + w.size)
	n, err := w.vw.write(iov)
	clear(iov) // do not pin the payloads until the next fragment
	w.size += n
	if err != nil {
		w.err = fmt.Errorf("mp4: write fragment: %w", err)
		return w.err
	}

	w.good = w.size
	traf := uint32(0)
	for i := range w.tracks {
		t := &w.tracks[i]
		if len(t.samples) == 0 {
			continue
		}
		t.doneEnd = t.presEnd // every complete sample is in this fragment
		traf++
		for j := range t.samples {
			if s := &t.samples[j]; s.sync {
				t.tfra = append(t.tfra, tfraEntry{
					time:       uint64(max(s.dt+int64(s.cto), 0)),
					moofOffset: moofOffset,
					traf:       traf,
					sample:     uint32(j + 1),
				})
				break
			}
		}
		for j := range t.samples {
			t.samples[j].release()
		}
		// Keep the held sample's copy, which sits after the written samples'.
		t.data = t.data[:copy(t.data, t.data[t.arena:])]
		if t.hasHeld && t.held.buf == nil {
			t.held.off -= t.arena
		}
		t.arena = 0
		t.dataLen = 0
		t.samples = t.samples[:0]
		t.ctoCount = 0
	}
	w.seq++
	w.pending = 0
	w.pendingBytes = 0
	return nil
}

// trafSize is the size of the traf appendTraf writes for the pending samples.
func (t *track) trafSize() int {
	return 8 + t.tfhdSize() + 20 + 20 + len(t.samples)*t.trunEntrySize()
}

func (t *track) tfhdSize() int {
	if t.video {
		return 16
	}
	return 20 // + default_sample_flags
}

func (t *track) trunEntrySize() int {
	switch {
	case !t.video:
		return 8 // duration, size
	case t.ctoCount > 0:
		return 16 // duration, size, flags, composition offset
	default:
		return 12 // duration, size, flags
	}
}

// appendTraf encodes traf(tfhd, tfdt, trun) for the pending samples; dataOff is the offset of
// the track's first payload byte from the start of the moof.
func (t *track) appendTraf(out []byte, dataOff int) []byte {
	be := binary.BigEndian
	out = appendBoxHeader(out, t.trafSize(), "traf")

	// tfhd: default-base-is-moof; audio samples are all sync via default_sample_flags.
	out = appendBoxHeader(out, t.tfhdSize(), "tfhd")
	if t.video {
		out = be.AppendUint32(out, 0x020000)
		out = be.AppendUint32(out, t.id)
	} else {
		out = be.AppendUint32(out, 0x020020)
		out = be.AppendUint32(out, t.id)
		out = be.AppendUint32(out, flagsSync)
	}

	// tfdt v1: absolute decode time of the first sample.
	out = appendBoxHeader(out, 20, "tfdt")
	out = be.AppendUint32(out, 0x01000000)
	out = be.AppendUint64(out, uint64(t.samples[0].dt))

	// trun: data-offset, duration, size (+ flags, composition offsets for video).
	var vf uint32 = 0x000001 | 0x000100 | 0x000200
	if t.video {
		vf |= 0x000400
		if t.ctoCount > 0 {
			vf |= 0x01000800 // version 1: signed composition offsets
		}
	}
	out = appendBoxHeader(out, 20+len(t.samples)*t.trunEntrySize(), "trun")
	out = be.AppendUint32(out, vf)
	out = be.AppendUint32(out, uint32(len(t.samples)))
	out = be.AppendUint32(out, uint32(dataOff))
	for i := range t.samples {
		s := &t.samples[i]
		out = be.AppendUint32(out, s.dur)
		out = be.AppendUint32(out, s.size)
		if t.video {
			if s.sync {
				out = be.AppendUint32(out, flagsSync)
			} else {
				out = be.AppendUint32(out, flagsNonSync)
			}
			if t.ctoCount > 0 {
				out = be.AppendUint32(out, uint32(s.cto))
			}
		}
	}
	return out
}

func appendBoxHeader(out []byte, size int, typ string) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(size))
	return append(out, typ...)
}

// writeMfra appends the movie fragment random access box after the last complete fragment:
// per track, the first sync sample of every fragment.
func (w *Writer) writeMfra() error {
	mfra := &mp4ff.MfraBox{}
	for i := range w.tracks {
		t := &w.tracks[i]
		tfra := &mp4ff.TfraBox{
			Version:               1,
			TrackID:               t.id,
			LengthSizeOfSampleNum: 3, // 4-byte sample numbers; traf and trun numbers fit a byte
			Entries:               make([]mp4ff.TfraEntry, len(t.tfra)),
		}
		for j, e := range t.tfra {
			tfra.Entries[j] = mp4ff.TfraEntry{
				Time:         e.time,
				MoofOffset:   e.moofOffset,
				TrafNumber:   e.traf,
				TrunNumber:   1,
				SampleNumber: e.sample,
			}
		}
		if err := mfra.AddChild(tfra); err != nil {
			return err
		}
	}
	mfro := &mp4ff.MfroBox{}
	if err := mfra.AddChild(mfro); err != nil {
		return err
	}
	mfro.ParentSize = uint32(mfra.Size())
	var buf bytes.Buffer
	buf.Grow(int(mfra.Size()))
	if err := mfra.Encode(&buf); err != nil {
		return fmt.Errorf("mp4: encode mfra: %w", err)
	}
	n, err := w.f.WriteAt(buf.Bytes(), w.base+w.good)
	w.size = w.good + int64(n)
	if err != nil {
		return fmt.Errorf("mp4: write mfra: %w", err)
	}
	return nil
}

// patchDurations fills in the mvhd, tkhd and mehd durations (movie timescale) of the complete
// fragments and rewrites the init segment in place; its size does not change.
func (w *Writer) patchDurations() error {
	var movie uint64
	data := w.init.data
	for i := range w.tracks {
		t := &w.tracks[i]
		d := uint64(toTicks(fromTicks(t.doneEnd, t.timescale), movieTimescale))
		binary.BigEndian.PutUint64(data[w.init.tkhdDurs[i]:], d)
		movie = max(movie, d)
	}
	binary.BigEndian.PutUint64(data[w.init.mvhdDur:], movie)
	binary.BigEndian.PutUint64(data[w.init.mehdDur:], movie)
	if _, err := w.f.WriteAt(data, w.base); err != nil {
		return fmt.Errorf("mp4: patch durations: %w", err)
	}
	return nil
}

// toTicks converts a non-negative duration to timescale units, rounding to nearest, without
// overflow for any representable duration.
func toTicks(d time.Duration, timescale uint32) int64 {
	ts := int64(timescale)
	sec, rem := int64(d/time.Second), int64(d%time.Second)
	return sec*ts + (rem*ts+int64(time.Second)/2)/int64(time.Second)
}

// fromTicks converts timescale units to a duration, rounding to nearest.
func fromTicks(t int64, timescale uint32) time.Duration {
	ts := int64(timescale)
	sec, rem := t/ts, t%ts
	return time.Duration(sec)*time.Second + time.Duration((rem*int64(time.Second)+ts/2)/ts)
}

func clampUint32(v int64) uint32 {
	return uint32(min(max(v, 0), math.MaxUint32))
}

func clampInt32(v int64) int32 {
	return int32(min(max(v, math.MinInt32), math.MaxInt32))
}
