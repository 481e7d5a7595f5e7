package recorder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamrec/streamrec/recorder/media"
	"github.com/streamrec/streamrec/recorder/naming"
)

// errNothingRecorded ends a recording stopped before its first keyframe: no file is left behind.
var errNothingRecorded = errors.New("nothing recorded: the stream sent no keyframe before the recording stopped")

// writer is the recorder goroutine's state: the file being written and the timeline.
// Only that goroutine touches it.
type writer struct {
	r        *Recorder
	p        *plan
	policy   naming.Policy
	rotation Rotation
	numbered bool // rotated parts carry a number (the template has no time element)

	part       int    // current part number (0 without rotation)
	base       string // the policy's name for the current part
	usedBase   string // base as created: with a clash suffix, kept for the following parts
	file       *os.File
	c          container
	name       string
	partStart  time.Time
	started    bool          // origin is set
	origin     time.Duration // stream time of the recording's first frame
	partOrigin time.Duration // recording time at which the current part begins
	written    bool          // the current part holds at least one frame
	waitKey    bool          // frames were dropped: resume at the next keyframe
	err        error
}

func newWriter(r *Recorder) *writer {
	o := r.opts
	s := o.Settings
	w := &writer{
		r:      r,
		p:      &r.plan,
		policy: naming.Policy{Mode: s.Policy, Template: s.Template, Encode: s.Encode, Exclude: s.Exclude},
	}
	switch {
	case o.FileName != "":
		// An explicit name is used as given, only made safe.
		w.policy = naming.Policy{Mode: "streamName"}
	case o.Template != "":
		w.policy.Mode, w.policy.Template = "template", o.Template
	}
	w.rotation = Rotation{Seconds: s.RotationSeconds, Bytes: s.RotationBytes}
	if o.Rotation != nil {
		w.rotation = *o.Rotation
	}
	if o.NoRotation {
		if w.rotation.on() {
			o.Log.Info("rotation is off for this stream: it is published in a room")
		}
		w.rotation = Rotation{}
	}
	w.numbered = w.rotation.on() && !(w.policy.Mode == "template" && naming.HasTime(w.policy.Template))
	return w
}

// values are the naming values of the current part.
func (w *writer) values(end time.Time) naming.Values {
	v := w.r.opts.Values
	if w.r.opts.FileName != "" {
		v = naming.Values{StreamName: strings.TrimSuffix(w.r.opts.FileName, "."+w.p.ext)}
	}
	v.Start, v.End = w.partStart, end
	return v
}

// partNumber is the number the current part's file name carries, 0 for none.
func (w *writer) partNumber() int {
	if w.numbered {
		return w.part
	}
	return 0
}

// openPart creates the next file. part 0 starts the recording.
func (w *writer) openPart(prev int) error {
	w.part = 0
	if w.rotation.on() {
		w.part = prev + 1
	}
	w.partStart = time.Now()
	base := w.policy.Base(w.values(time.Time{}))
	if base != w.base {
		w.base, w.usedBase = base, base
	}
	f, name, used, err := naming.CreatePart(w.r.opts.Dir, w.usedBase, w.partNumber(), w.p.ext)
	if err != nil {
		return fmt.Errorf("create recording file: %w", err)
	}
	w.usedBase = used
	c, err := w.p.create(f, w.p.tracks)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("start %s %s: %w", name, describe(w.p.tracks), err)
	}
	w.file, w.c, w.name, w.written = f, c, name, false
	w.r.opts.Files.open(name)
	w.r.setCurrent(name)
	return nil
}

// frame takes one frame of the stream.
func (w *writer) frame(f media.Frame) {
	if w.err != nil || f.Track < 0 || f.Track >= len(w.p.index) || w.p.index[f.Track] < 0 {
		return
	}
	kind := w.p.kinds[f.Track]
	startPoint := !w.p.hasVideo || (kind == media.Video && f.Key)
	if !w.started {
		if !startPoint {
			return // a recording begins on a keyframe
		}
		w.started, w.origin = true, f.DTS
	}
	if w.waitKey {
		if !startPoint {
			return
		}
		w.waitKey = false
	}
	f.DTS -= w.origin
	f.PTS -= w.origin
	if f.DTS < 0 {
		return // audio from before the first keyframe
	}
	if startPoint && w.rotateDue(f.DTS) {
		w.rotate(f.DTS)
		if w.err != nil {
			return
		}
	}
	f.Track = w.p.index[f.Track]
	if kind == media.Audio && w.p.transcode != nil {
		w.transcode(f)
		return
	}
	w.write(f)
}

func (w *writer) transcode(f media.Frame) {
	out, err := w.p.transcode.Transcode(f)
	if err != nil {
		// One bad audio packet is not worth a recording: skip it, loudly.
		w.r.opts.Log.Warn("audio packet skipped", "file", w.name, "err", err)
		return
	}
	for _, o := range out {
		o.Track = f.Track
		w.write(o)
	}
}

// write hands a frame, in recording time, to the current part.
func (w *writer) write(f media.Frame) {
	f.DTS -= w.partOrigin
	f.PTS -= w.partOrigin
	if f.DTS < 0 {
		// Audio a few milliseconds older than the keyframe a new part starts on.
		f.PTS -= f.DTS
		f.DTS = 0
	}
	if err := w.c.WriteFrame(f); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.name, err)
		return
	}
	w.written = true
}

func (w *writer) rotateDue(dts time.Duration) bool {
	if w.part == 0 || !w.written {
		return false
	}
	r := w.rotation
	return (r.Seconds > 0 && dts-w.partOrigin >= time.Duration(r.Seconds)*time.Second) ||
		(r.Bytes > 0 && w.c.Size() >= r.Bytes)
}

func (w *writer) rotate(at time.Duration) {
	w.finishPart()
	if w.err != nil {
		return
	}
	w.partOrigin = at
	if err := w.openPart(w.part); err != nil {
		w.err = err
	}
}

func (w *writer) flush() {
	if w.c != nil && w.err == nil {
		if err := w.c.Flush(); err != nil {
			w.err = fmt.Errorf("write %s: %w", w.name, err)
		}
	}
}

// gap notes that frames were dropped before the next one.
func (w *writer) gap() {
	if w.p.hasVideo {
		w.waitKey = true
	}
}

// finish ends the recording: drains the audio encoder and finishes the current part.
func (w *writer) finish() {
	if w.c == nil {
		return
	}
	if w.p.transcode != nil && w.err == nil && w.written {
		out, err := w.p.transcode.Flush()
		if err == nil {
			for _, o := range out {
				o.Track = w.p.index[w.p.audioIn]
				w.write(o)
			}
		}
	}
	if !w.written {
		w.discard()
		return
	}
	w.finishPart()
}

// discard removes a file that received no frame.
func (w *writer) discard() {
	w.c.Close()
	w.file.Close()
	os.Remove(filepath.Join(w.r.opts.Dir, w.name))
	w.r.opts.Files.done(w.name)
	w.c = nil
	if len(w.r.Finished()) == 0 {
		w.r.setErr(errNothingRecorded)
	}
}

// finishPart closes the current file, gives it its final name, and announces it.
func (w *writer) finishPart() {
	name := w.name
	cerr := w.c.Close()
	duration := w.c.Duration()
	ferr := w.file.Close()
	w.c = nil
	end := time.Now()
	if w.policy.Mode == "template" && naming.HasEndTime(w.policy.Template) {
		name = w.rename(name, end)
	}
	w.r.opts.Files.done(w.name)
	if err := errors.Join(cerr, ferr); err != nil && w.err == nil {
		w.err = fmt.Errorf("finish %s: %w", name, err)
	}
	path := filepath.Join(w.r.opts.Dir, name)
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	f := File{
		Name: name, Path: path, Part: w.part, Size: size, Duration: duration,
		Start: w.partStart, End: end,
		StreamName: w.r.opts.Values.StreamName, MediaSessionID: w.r.opts.Values.MediaSessionID,
	}
	w.r.addFinished(f)
	w.r.opts.Log.Info("recording file finished", "file", name, "duration", duration.Round(time.Millisecond), "bytes", size)
	if w.r.opts.OnFile != nil {
		w.r.opts.OnFile(f)
	}
}

// rename gives a finished file the name its {endTime} element asks for, never overwriting another.
func (w *writer) rename(old string, end time.Time) string {
	want := naming.FileName(w.policy.Base(w.values(end)), w.partNumber(), w.p.ext)
	name, err := naming.Rename(w.r.opts.Dir, old, want)
	if err != nil {
		w.r.opts.Log.Warn("cannot give the finished file its final name; keeping the first", "file", old, "err", err)
		return old
	}
	return name
}
