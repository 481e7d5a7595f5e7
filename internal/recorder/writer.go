package recorder

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
)

// errNothingRecorded ends a recording stopped before its first keyframe: no file is left behind.
var errNothingRecorded = errors.New("nothing recorded: the stream sent no keyframe before the recording stopped")

// Audio at a rotation cut.
//
// A part begins on a video keyframe: its time 0 is the keyframe's DTS (the cut). Audio frames
// are not aligned with video frames, so each audio frame is routed by its own DTS: an audio
// frame older than the cut belongs to the part before it, one at or after the cut to the new
// part. That gives every part exact timestamps (no frame shifted, none written twice) and makes
// the parts tile: joined in order, the audio runs on continuously across each cut.
//
// Frames arrive in DTS order across tracks (the ingest stage releases them so, see package
// ingest), so copied audio older than a cut arrives before the keyframe that makes it, and
// newer audio after it: each frame goes to the part being written when it arrives.
//
// Transcoded audio is the exception: the encoder's output lags its input (an AAC frame of 1024
// samples plus the encoder's delay), so audio older than the cut still comes out of the encoder
// after the keyframe. For it the previous part stays open after the cut (w.prev) and receives
// that audio. It is finished as soon as an audio frame at or after the cut shows that audio has
// passed the cut, or when video is maxAudioLag past the cut (an audio track that went quiet
// must not hold a file open), or when the recording ends. Audio still older than the cut after
// that is dropped, loudly. A cut comes from rotation or from a change of the video's
// parameters (see changeParams), which can happen with rotation off too.
const maxAudioLag = 2 * time.Second

// minParamsPart bounds how often a change of video parameters cuts a new file: a publisher
// changing them at every keyframe would otherwise make a file (and a hook run) per keyframe.
// A change within a part's first second waits for a keyframe past it; the frames in between
// are written under the old description, as before changes cut files at all.
const minParamsPart = time.Second

// writer is the recorder goroutine's state: the files being written and the timeline.
// Only that goroutine touches it.
type writer struct {
	r        *Recorder
	p        *plan
	policy   naming.Policy
	rotation Rotation
	numbered bool // rotated parts carry a number (the template has no time element)
	keepPrev bool // video and transcoded audio: the previous part stays open at cuts (see above)

	base     string // the policy's name for the current part
	usedBase string // base as created: with a clash suffix, kept for the following parts
	cur      *part  // the part being written
	prev     *part  // the part before the last cut, open for transcoded audio older than the cut

	params    *media.Track // the video's latest description (a keyframe's Params), nil before any
	lateAudio bool         // audio older than the current part was dropped (logged once)
	rejected  bool         // a container refused a frame (logged once)

	started bool          // origin is set
	origin  time.Duration // stream time of the recording's first frame
	waitKey bool          // frames were dropped: resume at the next keyframe
	err     error

	tally   tally         // counted for Options.Stats since the last batch
	cpuSeen time.Duration // the audio encoder's CPU time already in the tally
}

// part is one file of the recording.
type part struct {
	num     int // part number (0 without rotation)
	file    *os.File
	c       container
	name    string
	start   time.Time     // wall clock when it was opened
	origin  time.Duration // recording time of the part's time 0: the keyframe it begins on
	end     time.Duration // recording time of the cut that ended it, 0 while it is the current part
	payload int64         // media bytes handed to the container
	counted int64         // bytes of the file added to Options.Stats so far
	written bool          // the part holds at least one frame
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
		w.policy = naming.Policy{Mode: naming.ModeStreamName}
	case o.Template != "":
		w.policy.Mode, w.policy.Template = naming.ModeTemplate, o.Template
	}
	w.rotation = Rotation{Seconds: s.RotationSeconds, Bytes: s.RotationBytes}
	if o.Rotation != nil {
		w.rotation = *o.Rotation
	}
	if o.NoRotation {
		if w.rotation.on() {
			o.Log.Info("rotation is off for this stream: it is published in a room", "record_rotation", w.rotation.String())
		}
		w.rotation = Rotation{}
	}
	w.numbered = w.rotation.on() && !w.policy.HasTime()
	w.keepPrev = w.p.hasVideo && w.p.audioIn >= 0 && w.p.transcode != nil
	return w
}

// values are the naming values of a part that began at start.
func (w *writer) values(start, end time.Time) naming.Values {
	v := w.r.opts.Values
	if w.r.opts.FileName != "" {
		v = naming.Values{StreamName: strings.TrimSuffix(w.r.opts.FileName, "."+w.p.ext)}
	}
	v.Start, v.End = start, end
	return v
}

// nameNumber is the number a part's file name carries, 0 for none. Without rotation only the
// parts after a parameter change carry one (NAME.mp4, NAME-2.mp4, ...).
func (w *writer) nameNumber(p *part) int {
	if w.numbered || !w.rotation.on() {
		return p.num
	}
	return 0
}

// openPart creates the file of the part after prev (nil: the recording's first) beginning at
// recording time origin, and makes it current.
func (w *writer) openPart(prev *part, origin time.Duration) error {
	p := &part{start: time.Now(), origin: origin}
	switch {
	case prev != nil:
		p.num = max(prev.num, 1) + 1 // without rotation the first part is 0, the next 2
	case w.rotation.on():
		p.num = 1
	}
	base := w.policy.Base(w.values(p.start, time.Time{}))
	if base != w.base {
		w.base, w.usedBase = base, base
	}
	f, name, used, err := w.r.opts.Files.Create(w.usedBase, w.nameNumber(p), w.p.ext)
	if err != nil {
		return fmt.Errorf("create recording file: %w", err)
	}
	w.usedBase = used
	c, err := w.p.create(f, w.p.tracks)
	if err != nil {
		f.Close()
		w.r.opts.Files.Remove(name)
		return fmt.Errorf("start %s %s: %w", name, describe(w.p.tracks), err)
	}
	p.file, p.c, p.name = f, c, name
	w.cur = p
	if err := w.r.opts.Files.Begin(records.Writing{Name: name, StreamName: w.r.opts.Values.StreamName,
		MediaSessionID: w.r.opts.Values.MediaSessionID, Part: p.num, Container: w.p.ext, Start: p.start,
		Codecs: media.CodecNames(w.p.tracks)}); err != nil {
		w.r.opts.Log.Warn("a crash now would leave this file unfinished at the next start", "file", name, "err", err)
	}
	w.r.setCurrent(name)
	return nil
}

// frame takes one frame of the stream. Frames come in DTS order across tracks.
func (w *writer) frame(f media.Frame) {
	if w.err != nil || f.Track < 0 || f.Track >= len(w.p.index) || w.p.index[f.Track] < 0 {
		return
	}
	kind := w.p.kinds[f.Track]
	startPoint := !w.p.hasVideo || (kind == media.Video && f.Key)
	switch {
	case !w.started:
		if !startPoint {
			return // a recording begins on a keyframe
		}
		w.started, w.origin = true, f.DTS
	case w.waitKey:
		if !startPoint {
			return
		}
		w.waitKey = false
	}
	w.take(f, kind, startPoint)
}

// take writes a frame of the recording (stream time) to its part.
func (w *writer) take(f media.Frame, kind media.Kind, startPoint bool) {
	f.DTS -= w.origin
	f.PTS -= w.origin
	if f.DTS < 0 {
		return // audio from before the first keyframe
	}
	f.Track = w.p.index[f.Track]
	if kind == media.Audio {
		if w.p.transcode == nil {
			w.audio(f)
			return
		}
		out, err := w.p.transcode.Transcode(f)
		if err != nil {
			// One bad audio packet is not worth a recording: skip it, loudly.
			w.r.opts.Log.Warn("audio packet skipped", "file", w.cur.name, "err", err)
		}
		for _, o := range out {
			o.Track = f.Track
			w.audio(o)
		}
		return
	}
	w.video(f, startPoint)
}

// video writes a video frame to the current part, cutting a new part first when it is a
// keyframe and the part is full.
func (w *writer) video(f media.Frame, key bool) {
	if f.Params != nil {
		w.params = f.Params
	}
	switch {
	case key && w.paramsDue(f):
		w.changeParams(f)
	case key && w.rotateDue(f.DTS):
		w.rotate(f.DTS)
	}
	if w.prev != nil && f.DTS-w.cur.origin >= maxAudioLag {
		w.finishPrev() // audio never caught up with the cut
	}
	w.write(w.cur, f)
}

// audio routes an audio frame (already transcoded, in recording time) to its part.
func (w *writer) audio(f media.Frame) {
	if !w.p.hasVideo {
		// Audio-only: every frame is a start point, rotation cuts right here.
		if w.rotateDue(f.DTS) {
			w.rotate(f.DTS)
		}
		if f.DTS < w.cur.origin {
			w.dropLate(f) // the encoder's priming, before the recording's origin
			return
		}
		w.write(w.cur, f)
		return
	}
	w.route(f)
}

// route writes an audio frame to the part its DTS falls in: the previous part while it is open
// and the frame is older than the cut, else the current part.
func (w *writer) route(f media.Frame) {
	p := w.cur
	if f.DTS < w.cur.origin {
		p = w.prev
	} else if w.prev != nil {
		w.finishPrev() // audio has passed the cut: the previous part is complete
	}
	if p == nil || f.DTS < p.origin {
		w.dropLate(f)
		return
	}
	w.write(p, f)
}

// dropLate drops an audio frame older than every open part: the encoder's priming before the
// recording's first keyframe (silently), transcoded audio lagging more than maxAudioLag behind
// a cut, or copied audio that came after its cut (its track stalled longer than the ingest
// stage waits for it).
func (w *writer) dropLate(f media.Frame) {
	if w.cur.origin > 0 && !w.lateAudio {
		w.lateAudio = true
		w.r.opts.Log.Warn("audio frame older than the part it would belong to dropped: audio lags video too much",
			"file", w.cur.name, "lag", (w.cur.origin - f.DTS).String(), "limit", maxAudioLag.String())
	}
}

// write hands a frame, in recording time, to part p.
func (w *writer) write(p *part, f media.Frame) {
	if w.err != nil {
		return
	}
	f.DTS -= p.origin
	f.PTS -= p.origin
	if err := p.c.WriteFrame(f); err != nil {
		if frameRejected(err) {
			// One odd frame (a publisher's timestamp stepping back) is not worth the recording.
			if !w.rejected {
				w.rejected = true
				w.r.opts.Log.Warn("frame skipped: the file goes on without it", "file", p.name, "err", err)
			}
			return
		}
		w.err = fmt.Errorf("write %s: %w", p.name, err)
		return
	}
	p.payload += int64(len(f.Data))
	p.written = true
	w.tally.frames++
}

// count adds to the tally what the open parts' files grew by since they were last counted.
func (w *writer) count() {
	for _, p := range []*part{w.prev, w.cur} {
		if p != nil && p.c != nil {
			w.countSize(p, p.c.Size())
		}
	}
}

// countSize counts part p's file as size bytes long. A file cut back (a write error) was
// counted before the cut: the total of bytes written only grows.
func (w *writer) countSize(p *part, size int64) {
	if size > p.counted {
		w.tally.bytes += uint64(size - p.counted)
		p.counted = size
	}
}

// report adds the tally to the server's totals.
func (w *writer) report() {
	w.count()
	if w.p.transcode != nil {
		cpu := w.p.transcode.CPU()
		w.tally.transcode += cpu - w.cpuSeen
		w.cpuSeen = cpu
	}
	w.tally.flushTo(w.r.opts.Stats)
}

// frameRejected tells the errors with which a container refuses one frame and stays usable;
// any other write error ends the recording.
func frameRejected(err error) bool { return errors.Is(err, media.ErrFrameRefused) }

// rotateDue tells whether a part that would begin at recording time dts is due.
func (w *writer) rotateDue(dts time.Duration) bool {
	p := w.cur
	if !w.rotation.on() || !p.written {
		return false
	}
	r := w.rotation
	return (r.Seconds > 0 && dts-p.origin >= time.Duration(r.Seconds)*time.Second) ||
		(r.Bytes > 0 && max(p.c.Size(), p.payload) >= r.Bytes)
}

// rotate begins a new part at recording time at. With transcoded audio the current part stays
// open as prev for audio older than the cut; otherwise it is finished now.
func (w *writer) rotate(at time.Duration) {
	if w.prev != nil {
		w.finishPrev()
	}
	old := w.cur
	if err := w.openPart(old, at); err != nil {
		w.err = err // old stays current and is finished by finish
		return
	}
	old.end = at
	if w.keepPrev {
		w.prev = old
		return
	}
	w.finishPart(old)
}

// paramsDue tells whether keyframe f is to begin a part under new video parameters: the latest
// ones differ from the current part's, and the part is empty or at least minParamsPart long.
func (w *writer) paramsDue(f media.Frame) bool {
	return w.params != nil && !media.SameVideo(*w.params, w.p.tracks[f.Track]) &&
		(!w.cur.written || f.DTS-w.cur.origin >= minParamsPart)
}

// changeParams begins a new part at keyframe f under the video's latest parameters: frames
// from here on do not decode under the old parameter sets, and an MP4 or WebM file has one
// description per track. A part that holds no frame yet is started over with the new
// description instead.
func (w *writer) changeParams(f media.Frame) {
	old := w.p.tracks[f.Track]
	tracks := append([]media.Track(nil), w.p.tracks...) // the finished parts' plan stays intact
	tracks[f.Track] = *w.params
	w.p.tracks = tracks
	if !w.cur.written {
		w.restart(w.cur)
		return
	}
	w.r.opts.Log.Info("video parameters changed: new part", "file", w.cur.name,
		"old", fmt.Sprintf("%dx%d", old.Width, old.Height), "new", fmt.Sprintf("%dx%d", w.params.Width, w.params.Height))
	w.rotate(f.DTS)
}

// restart opens part p's container again, empty, with the plan's current tracks.
func (w *writer) restart(p *part) {
	p.c.Close()
	if _, err := p.file.Seek(0, 0); err != nil {
		w.err = fmt.Errorf("restart %s: %w", p.name, err)
		return
	}
	if err := p.file.Truncate(0); err != nil {
		w.err = fmt.Errorf("restart %s: %w", p.name, err)
		return
	}
	c, err := w.p.create(p.file, w.p.tracks)
	if err != nil {
		w.err = fmt.Errorf("start %s %s: %w", p.name, describe(w.p.tracks), err)
		return
	}
	p.c = c
}

func (w *writer) flush() {
	for _, p := range []*part{w.prev, w.cur} {
		if p != nil && p.c != nil && w.err == nil {
			if err := p.c.Flush(); err != nil {
				w.err = fmt.Errorf("write %s: %w", p.name, err)
			}
		}
	}
}

// gap notes that frames were dropped before the next one.
func (w *writer) gap() {
	if w.p.hasVideo {
		w.waitKey = true
	}
}

// finish ends the recording: drains the audio encoder and finishes the parts still open.
func (w *writer) finish() {
	if w.cur == nil || w.cur.c == nil {
		return
	}
	if w.p.transcode != nil && w.err == nil && w.started {
		out, err := w.p.transcode.Flush()
		if err != nil {
			w.r.opts.Log.Warn("audio encoder flush failed: the last audio frames are missing", "file", w.cur.name, "err", err)
		}
		for _, o := range out {
			o.Track = w.p.index[w.p.audioIn]
			w.audio(o)
		}
	}
	if w.prev != nil {
		w.finishPrev()
	}
	if !w.cur.written {
		w.discard(w.cur)
		return
	}
	w.finishPart(w.cur)
}

// finishPrev finishes the part before the last cut.
func (w *writer) finishPrev() {
	p := w.prev
	w.prev = nil
	w.finishPart(p)
}

// discard removes a file that received no frame.
func (w *writer) discard(p *part) {
	p.c.Close()
	p.file.Close()
	p.c = nil
	w.r.opts.Files.Remove(p.name)
	w.r.opts.Files.End(p.name)
	if len(w.r.Finished()) == 0 {
		w.r.setErr(errNothingRecorded)
	}
}

// finishPart closes a part's file, gives it its final name, and announces it.
func (w *writer) finishPart(p *part) {
	name := p.name
	var span time.Duration // 0: the part ends where its media ends
	if p.end > 0 {
		span = p.end - p.origin
	}
	cerr := closeAt(p.c, span)
	duration := p.c.Duration()
	ferr := p.file.Close()
	p.c = nil
	end := time.Now()
	if w.policy.HasEndTime() {
		name = w.rename(p, end)
	}
	w.r.opts.Files.End(p.name)
	err := errors.Join(cerr, ferr)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("finish %s: %w", name, err)
	}
	path := w.r.opts.Files.Path(name)
	if err != nil && duration == 0 {
		// The write error came before the first complete fragment: nothing worth keeping.
		w.r.opts.Files.Remove(name)
		w.r.opts.Log.Error("recording file removed: a write error left no media in it", "file", name, "err", err)
		return
	}
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	w.countSize(p, size)
	f := File{
		Name: name, Path: path, Part: p.num, Size: size, Duration: duration,
		Start: p.start, End: end,
		StreamName: w.r.opts.Values.StreamName, MediaSessionID: w.r.opts.Values.MediaSessionID,
		Codecs: media.CodecNames(w.p.tracks),
	}
	switch {
	case err != nil:
		// The container cut the file back to its last complete fragment: it plays, but is short.
		f.Err = err.Error()
	case w.err != nil:
		// The file is whole, but the recording ends with it: the next part could not be created,
		// or failed before its first fragment (and is removed).
		f.Err = w.err.Error()
	}
	w.r.addFinished(f, p.name)
	if f.Err != "" {
		w.r.opts.Log.Error("recording file ended by a write error", "file", name, "part", p.num,
			"duration", duration.Round(time.Millisecond), "bytes", size, "err", f.Err)
	} else {
		w.r.opts.Log.Info("recording file finished", "file", name, "part", p.num,
			"duration", duration.Round(time.Millisecond), "bytes", size)
	}
	if w.r.opts.OnFile != nil {
		w.r.opts.OnFile(f)
	}
}

// rename gives a finished file the name its {endTime} element asks for, never overwriting another.
func (w *writer) rename(p *part, end time.Time) string {
	want := naming.FileName(w.policy.Base(w.values(p.start, end)), w.nameNumber(p), w.p.ext)
	name, err := w.r.opts.Files.Rename(p.name, want)
	if err != nil {
		w.r.opts.Log.Warn("cannot give the finished file its final name; keeping the first", "file", p.name, "err", err)
		return p.name
	}
	return name
}
