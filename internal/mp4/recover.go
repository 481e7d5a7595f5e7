package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/streamrec/streamrec/internal/media"
)

// Bounds on what Recover reads of a file it did not see being written (it may be cut anywhere,
// or not ours at all): memory stays below maxInitSize + maxMoofSize + the seek index.
const (
	maxInitSize = 4 << 20 // ftyp+moov: a few hundred bytes for our files; parameter sets are small
	// maxMoofSize exceeds the largest moof the writer makes (maxFragmentSamples video samples
	// of 16 bytes, plus the audio track's).
	maxMoofSize = 4 << 20
	// maxRecoverTfra bounds the seek index rebuilt per track (24 bytes an entry): one entry a
	// fragment, so over 12 days of a stream at one fragment a second. Fragments past it are
	// kept, only not indexed.
	maxRecoverTfra = 1 << 20
)

// Recover finishes a file that a Writer was writing when the process died (kill -9, a power
// cut): it reads the init segment and walks the fragments to find the last complete one, then
// repairs the file exactly as Close does after a write error: the torn rest is cut off, the
// durations are patched in place and the mfra is appended. A file already finished is
// finished again, identically.
//
// The file is read, never trusted: boxes are checked against the file's length and the bounds
// above, and reading stops at the first box that is not a complete fragment. Time is linear in
// the number of fragments (one small read each); the media is never read.
func Recover(f *os.File) (media.Recovered, error) {
	st, err := f.Stat()
	if err != nil {
		return media.Recovered{}, fmt.Errorf("mp4: recover: %w", err)
	}
	w, err := readInit(f, st.Size())
	if err != nil {
		return media.Recovered{}, fmt.Errorf("mp4: recover %s: %w", f.Name(), err)
	}
	if err := w.readFragments(); err != nil {
		return media.Recovered{}, fmt.Errorf("mp4: recover %s: %w", f.Name(), err)
	}
	cut := w.size - w.good
	if w.size-w.good >= 16 {
		// A file finished before the crash (the journal was not updated yet) ends with its mfra.
		var hdr [8]byte
		if _, err := f.ReadAt(hdr[:], w.good); err == nil && string(hdr[4:]) == "mfra" &&
			int64(binary.BigEndian.Uint32(hdr[:])) == w.size-w.good {
			cut = 0
		}
	}
	w.closed = true
	if err := w.cut(); err != nil {
		return media.Recovered{}, fmt.Errorf("mp4: recover %s: %w", f.Name(), err)
	}
	r := media.Recovered{Size: w.size, Cut: cut}
	for i := range w.tracks {
		t := &w.tracks[i]
		r.Duration = max(r.Duration, fromTicks(t.doneEnd, t.timescale))
	}
	return r, nil
}

// readInit reads ftyp+moov and returns a closed-for-writing Writer that knows the tracks and
// where the header's duration fields are.
func readInit(f *os.File, size int64) (*Writer, error) {
	ftyp, err := boxAt(f, 0, size)
	if err != nil || ftyp.typ != "ftyp" {
		return nil, errors.New("not a recording: no ftyp box first")
	}
	moov, err := boxAt(f, ftyp.size, size)
	if err != nil || moov.typ != "moov" {
		return nil, errors.New("no moov box after the ftyp: the file was cut before its header")
	}
	n := ftyp.size + moov.size
	if n > maxInitSize {
		return nil, fmt.Errorf("header of %d bytes, more than %d", n, maxInitSize)
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, err
	}
	cfgs, err := parseTracks(data, int(ftyp.size))
	if err != nil {
		return nil, err
	}
	seg := &initSegment{data: data}
	if err := seg.locateDurations(len(cfgs)); err != nil {
		return nil, err
	}
	w := &Writer{f: f, size: size, good: n, init: seg, tracks: make([]track, len(cfgs))}
	for i, c := range cfgs {
		w.tracks[i].trackConfig = c
		w.hasVideo = w.hasVideo || c.video
	}
	return w, nil
}

// parseTracks reads each trak's track ID (tkhd), timescale (mdhd) and kind (hdlr) from the moov
// at data[moov:]. Track IDs must be 1..n, as Create writes them.
func parseTracks(data []byte, moov int) ([]trackConfig, error) {
	var cfgs []trackConfig
	cur := -1
	err := walkBoxes(data, moov, len(data), func(typ string, start, end int) error {
		b := data[start:end]
		switch typ {
		case "moov", "mdia":
			return errDescend
		case "trak":
			if len(cfgs) >= 2 {
				return errors.New("more than two tracks")
			}
			cfgs = append(cfgs, trackConfig{})
			cur = len(cfgs) - 1
			return errDescend
		case "tkhd":
			if cur < 0 || len(b) < 32 {
				return errors.New("bad tkhd")
			}
			cfgs[cur].id = binary.BigEndian.Uint32(b[28:]) // version 1: ... creation 8, modification 8
		case "mdhd":
			off := 20
			if len(b) > 8 && b[8] == 1 {
				off = 28
			}
			if cur < 0 || len(b) < off+4 {
				return errors.New("bad mdhd")
			}
			cfgs[cur].timescale = binary.BigEndian.Uint32(b[off:])
		case "hdlr":
			if cur < 0 || len(b) < 20 {
				return errors.New("bad hdlr")
			}
			cfgs[cur].video = string(b[16:20]) == "vide"
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(cfgs) == 0 {
		return nil, errors.New("no tracks")
	}
	for i, c := range cfgs {
		if c.id != uint32(i+1) || c.timescale == 0 {
			return nil, fmt.Errorf("track %d: id %d, timescale %d", i+1, c.id, c.timescale)
		}
	}
	return cfgs, nil
}

type boxHeader struct {
	typ  string
	size int64 // whole box, header included
	hdr  int64 // header length: 8, or 16 with a 64-bit size
}

// boxAt reads the header of the box at off, which must lie wholly inside a file of size bytes.
func boxAt(f io.ReaderAt, off, size int64) (boxHeader, error) {
	var b [16]byte
	n, err := f.ReadAt(b[:min(16, max(size-off, 0))], off)
	if n < 8 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return boxHeader{}, err
	}
	h := boxHeader{typ: string(b[4:8]), size: int64(binary.BigEndian.Uint32(b[:])), hdr: 8}
	if h.size == 1 {
		if n < 16 {
			return boxHeader{}, io.ErrUnexpectedEOF
		}
		h.size, h.hdr = int64(binary.BigEndian.Uint64(b[8:])), 16
	}
	if h.size < h.hdr || h.size > size-off {
		return boxHeader{}, fmt.Errorf("box %q of %d bytes at %d: past the end of the file", h.typ, h.size, off)
	}
	return h, nil
}

// readFragments walks the moof+mdat pairs after the init segment and takes in each complete
// one as writeFragment would have: w.good moves to its end, each track's doneEnd to the end of
// its samples, and its first sync sample joins the seek index.
func (w *Writer) readFragments() error {
	var moof []byte
	for pos := w.good; ; {
		h, err := boxAt(w.f, pos, w.size)
		if err != nil || h.typ != "moof" || h.hdr != 8 || h.size > maxMoofSize {
			return nil // the torn fragment, or the end
		}
		if int64(cap(moof)) < h.size {
			moof = make([]byte, h.size)
		}
		moof = moof[:h.size]
		if _, err := w.f.ReadAt(moof, pos); err != nil {
			return err
		}
		frag, err := parseMoof(moof, len(w.tracks))
		if err != nil {
			return nil // a moof the writer cannot have written whole: torn
		}
		mdat, err := boxAt(w.f, pos+h.size, w.size)
		if err != nil || mdat.typ != "mdat" || mdat.size-mdat.hdr != frag.payload {
			return nil
		}
		w.takeFragment(frag, uint64(pos))
		pos += h.size + mdat.size
		w.good = pos
	}
}

// fragment is what a moof says about its media.
type fragment struct {
	trafs   []trafInfo
	payload int64 // bytes of media in the mdat that follows
}

type trafInfo struct {
	track   int    // index into the tracks
	end     int64  // presentation end of its samples, track timescale
	syncDT  int64  // presentation time of its first sync sample...
	syncNum uint32 // ...and its number (1-based); 0: none
}

// parseMoof reads the trafs of a moof (as writeFragment lays them out: tfhd, tfdt v1, trun with
// sample durations and sizes) into a fragment.
func parseMoof(moof []byte, nTracks int) (fragment, error) {
	var fr fragment
	err := walkBoxes(moof, 8, len(moof), func(typ string, start, end int) error {
		if typ != "traf" {
			return nil
		}
		ti, payload, err := parseTraf(moof[start+8:end], nTracks)
		if err != nil {
			return err
		}
		fr.trafs = append(fr.trafs, ti)
		fr.payload += payload
		return nil
	})
	if err == nil && len(fr.trafs) == 0 {
		err = errors.New("moof without traf")
	}
	return fr, err
}

// parseTraf reads one traf's content; it returns the traf and its payload bytes.
func parseTraf(b []byte, nTracks int) (trafInfo, int64, error) {
	be := binary.BigEndian
	ti := trafInfo{track: -1}
	var dt int64
	var payload int64
	haveDT := false
	defaultSync := false
	err := walkBoxes(b, 0, len(b), func(typ string, start, end int) error {
		box := b[start:end]
		switch typ {
		case "tfhd":
			if len(box) < 16 {
				return errors.New("short tfhd")
			}
			id := int(be.Uint32(box[12:]))
			if id < 1 || id > nTracks {
				return fmt.Errorf("tfhd for track %d", id)
			}
			ti.track = id - 1
			flags := be.Uint32(box[8:]) & 0xffffff
			defaultSync = flags&0x20 != 0 && len(box) >= 20 && be.Uint32(box[16:])&0x00010000 == 0
		case "tfdt":
			if len(box) < 20 || box[8] != 1 {
				return errors.New("tfdt is not version 1")
			}
			dt, haveDT = int64(be.Uint64(box[12:])&(1<<62-1)), true
		case "trun":
			if ti.track < 0 || !haveDT {
				return errors.New("trun before tfhd or tfdt")
			}
			var err error
			payload, err = ti.readTrun(box, dt, defaultSync)
			return err
		}
		return nil
	})
	if err == nil && payload == 0 {
		err = errors.New("traf without samples")
	}
	return ti, payload, err
}

// readTrun walks a trun's samples from decode time dt, noting the traf's presentation end and
// first sync sample; it returns their payload bytes.
func (ti *trafInfo) readTrun(box []byte, dt int64, defaultSync bool) (int64, error) {
	be := binary.BigEndian
	if len(box) < 20 {
		return 0, errors.New("short trun")
	}
	flags := be.Uint32(box[8:]) & 0xffffff
	if flags&0x300 != 0x300 {
		return 0, errors.New("trun without sample durations and sizes")
	}
	count := int64(be.Uint32(box[12:]))
	p := 16
	if flags&0x1 != 0 {
		p += 4 // data offset
	}
	if flags&0x4 != 0 {
		p += 4 // first sample flags
	}
	entry := 8
	if flags&0x400 != 0 {
		entry += 4
	}
	if flags&0x800 != 0 {
		entry += 4
	}
	if count == 0 || int64(len(box)-p) < count*int64(entry) {
		return 0, errors.New("trun entries past the box")
	}
	var payload int64
	for i := range count {
		e := box[p+int(i)*entry:]
		dur, size := int64(be.Uint32(e)), int64(be.Uint32(e[4:]))
		sync := defaultSync
		var cto int64
		if flags&0x400 != 0 {
			sync = be.Uint32(e[8:])&0x00010000 == 0
		}
		if flags&0x800 != 0 {
			cto = int64(int32(be.Uint32(e[entry-4:])))
		}
		if sync && ti.syncNum == 0 {
			ti.syncDT, ti.syncNum = max(dt+cto, 0), uint32(i+1)
		}
		ti.end = max(ti.end, dt+cto+dur)
		dt += dur
		payload += size
	}
	return payload, nil
}

// takeFragment records a complete fragment found at moofOffset, as writeFragment does for the
// ones it writes.
func (w *Writer) takeFragment(fr fragment, moofOffset uint64) {
	for i, ti := range fr.trafs {
		t := &w.tracks[ti.track]
		t.doneEnd = max(t.doneEnd, ti.end)
		t.presEnd = t.doneEnd
		if ti.syncNum > 0 && len(t.tfra) < maxRecoverTfra {
			t.tfra = append(t.tfra, tfraEntry{time: uint64(ti.syncDT), moofOffset: moofOffset, traf: uint32(i + 1), sample: ti.syncNum})
		}
	}
	w.seq++
}
