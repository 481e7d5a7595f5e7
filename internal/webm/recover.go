package webm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// maxHeadSize bounds what Recover reads before the first cluster (the Vorbis CodecPrivate is
// the only sizeable part: a few kilobytes).
const maxHeadSize = 1 << 20

// Recover finishes a file that a Writer was writing when the process died: it reads the head
// (Segment, Info, Tracks) and walks the clusters to the last complete one, replaying each
// block's track, timecode and keyframe flag as WriteFrame saw them, then finishes the file as
// Close does after a write error: the torn rest is cut off, the Cues appended, and Duration,
// SeekHead and Segment size patched in place. A file already finished is finished again.
//
// The file is read, never trusted: every element is checked against the file's length and the
// head against maxHeadSize; reading stops at the first element that is not a whole cluster of
// well-formed blocks. Only element headers are read (one small read each), never the media.
func Recover(f *os.File) (media.Recovered, error) {
	st, err := f.Stat()
	if err != nil {
		return media.Recovered{}, fmt.Errorf("webm: recover: %w", err)
	}
	w, err := readHead(f, st.Size())
	if err != nil {
		return media.Recovered{}, fmt.Errorf("webm: recover %s: %w", f.Name(), err)
	}
	w.readClusters()
	cut := st.Size() - w.good
	if e, err := elementAt(f, w.good, st.Size()); err == nil && e.id == idCues && e.end == st.Size() {
		cut = 0 // a file finished before the crash ends with its Cues
	}
	w.closed = true
	if err := w.finish(true, nil); err != nil {
		return media.Recovered{}, fmt.Errorf("webm: recover %s: %w", f.Name(), err)
	}
	return media.Recovered{Duration: time.Duration(w.done) * time.Millisecond, Size: w.pos, Cut: cut}, nil
}

// element is an EBML element's header, as found in the file.
type element struct {
	id         uint32
	data, end  int64 // file offsets of its data and of its end
	unknownLen bool
}

// elementAt reads the header of the element at off in a file of size bytes; a known size must
// end inside the file.
func elementAt(f io.ReaderAt, off, size int64) (element, error) {
	var b [12]byte
	n, _ := f.ReadAt(b[:min(12, max(size-off, 0))], off)
	p := b[:n]
	idLen := vintLen(p)
	if idLen == 0 || idLen > 4 || len(p) < idLen {
		return element{}, io.ErrUnexpectedEOF
	}
	var id uint32
	for _, c := range p[:idLen] {
		id = id<<8 | uint32(c)
	}
	p = p[idLen:]
	sl := vintLen(p)
	if sl == 0 || len(p) < sl {
		return element{}, io.ErrUnexpectedEOF
	}
	v := uint64(p[0]) & (0xFF >> sl)
	all := v == 0xFF>>sl
	for _, c := range p[1:sl] {
		v = v<<8 | uint64(c)
		all = all && c == 0xFF
	}
	e := element{id: id, data: off + int64(idLen+sl), unknownLen: all}
	if all {
		return e, nil
	}
	if v > uint64(size-e.data) {
		return element{}, fmt.Errorf("element %x of %d bytes at %d: past the end of the file", id, v, off)
	}
	e.end = e.data + int64(v)
	return e, nil
}

// vintLen is the length of the EBML variable-length integer starting p (0: none).
func vintLen(p []byte) int {
	if len(p) == 0 || p[0] == 0 {
		return 0
	}
	n := 1
	for m := byte(0x80); p[0]&m == 0; m >>= 1 {
		n++
	}
	return n
}

// readHead reads the EBML header, the Segment's start, Info and Tracks as Create lays them out,
// and returns a Writer that knows where to patch them and the tracks.
func readHead(f *os.File, size int64) (*Writer, error) {
	ebml, err := elementAt(f, 0, size)
	if err != nil || ebml.id != idEBML {
		return nil, errors.New("not a recording: no EBML header")
	}
	seg, err := elementAt(f, ebml.end, size)
	if err != nil || seg.id != idSegment || seg.data-ebml.end != 12 {
		return nil, errors.New("no Segment with an 8-byte size after the EBML header")
	}
	w := &Writer{f: f, segSizeOff: ebml.end + 4, segData: seg.data}
	info, err := elementAt(f, seg.data+seekHeadLen, size)
	if err != nil || info.id != idInfo {
		return nil, errors.New("no Info after the SeekHead")
	}
	tracks, err := elementAt(f, info.end, size)
	if err != nil || tracks.id != idTracks || tracks.end > maxHeadSize {
		return nil, errors.New("no Tracks after Info, or too large a head")
	}
	w.infoPos, w.tracksPos = seekHeadLen, info.end-seg.data // Segment positions of Info and Tracks
	w.head = make([]byte, tracks.end)
	if _, err := f.ReadAt(w.head, 0); err != nil {
		return nil, err
	}
	if w.durOff, err = findDuration(w.head, info); err != nil {
		return nil, err
	}
	if w.tracks, err = parseTrackEntries(w.head, tracks); err != nil {
		return nil, err
	}
	w.pos, w.good = tracks.end, tracks.end
	return w, nil
}

// children walks the elements of the master element m in head.
func children(head []byte, m element, fn func(e element) error) error {
	r := bytesReaderAt(head)
	for pos := m.data; pos < m.end; {
		e, err := elementAt(r, pos, m.end)
		if err != nil || e.unknownLen {
			return fmt.Errorf("bad element at %d", pos)
		}
		if err := fn(e); err != nil {
			return err
		}
		pos = e.end
	}
	return nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	return copy(p, b[off:]), nil
}

// findDuration returns the offset of Info's 8-byte Duration float.
func findDuration(head []byte, info element) (int64, error) {
	off := int64(-1)
	err := children(head, info, func(e element) error {
		if e.id == idDuration && e.end-e.data == 8 {
			off = e.data
		}
		return nil
	})
	if err == nil && off < 0 {
		err = errors.New("Info without an 8-byte Duration")
	}
	return off, err
}

// parseTrackEntries reads each TrackEntry's number and type; numbers must be 1..n as Create
// writes them.
func parseTrackEntries(head []byte, tracks element) ([]track, error) {
	var out []track
	err := children(head, tracks, func(te element) error {
		if te.id != idTrackEntry || len(out) >= 2 {
			return errors.New("unexpected element in Tracks")
		}
		var t track
		err := children(head, te, func(e element) error {
			v := uintValue(head[e.data:e.end])
			switch e.id {
			case idTrackNumber:
				t.number = v
			case idTrackType:
				t.video = v == 1
			}
			return nil
		})
		if err != nil {
			return err
		}
		if t.number != uint64(len(out)+1) {
			return fmt.Errorf("track number %d, want %d", t.number, len(out)+1)
		}
		out = append(out, t)
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("no tracks")
	}
	return out, err
}

// readClusters takes in each whole cluster after the head, as writeCluster did when it wrote it.
func (w *Writer) readClusters() {
	size := w.stat()
	for {
		c, err := elementAt(w.f, w.pos, size)
		if err != nil || c.id != idCluster || c.unknownLen || !w.replayCluster(c) {
			return
		}
		pos := w.pos - w.segData
		w.pos = c.end
		w.clusterDone(pos)
	}
}

func (w *Writer) stat() int64 {
	st, err := w.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// replayCluster reads cluster c's Timecode and its blocks' headers into the state WriteFrame
// kept while filling it; false when c is not a cluster this package writes.
func (w *Writer) replayCluster(c element) bool {
	w.clusterFirst, w.clusterVideo, w.cueTrack = 0, false, 0
	haveTC := false
	for pos := c.data; pos < c.end; {
		e, err := elementAt(w.f, pos, c.end)
		if err != nil || e.unknownLen {
			return false
		}
		switch {
		case e.id == idTimecode && !haveTC && e.end-e.data <= 8:
			b := make([]byte, e.end-e.data)
			if _, err := w.f.ReadAt(b, e.data); err != nil {
				return false
			}
			var v uint64
			for _, x := range b {
				v = v<<8 | uint64(x)
			}
			w.clusterTC, haveTC = int64(v&(1<<53-1)), true
		case e.id == idSimpleBlock && haveTC && e.end-e.data > 4:
			var b [4]byte
			if _, err := w.f.ReadAt(b[:], e.data); err != nil || !w.replayBlock(b) {
				return false
			}
		default:
			return false
		}
		pos = e.end
	}
	return haveTC
}

// replayBlock updates the track and cluster state for one SimpleBlock header (track number as
// a 1-byte vint, 16-bit relative timecode, flags), as WriteFrame does.
func (w *Writer) replayBlock(b [4]byte) bool {
	num := int(b[0] &^ 0x80)
	if b[0]&0x80 == 0 || num < 1 || num > len(w.tracks) {
		return false
	}
	t := &w.tracks[num-1]
	tc := w.clusterTC + int64(int16(binary.BigEndian.Uint16(b[1:3])))
	key := b[3]&0x80 != 0
	if w.clusterFirst == 0 {
		w.clusterFirst = t.number
	}
	w.noteBlock(t, tc, key)
	return true
}
