// Package recorder turns the frames of one published stream into finished recording files:
// it waits for a keyframe, picks the container from the codecs, transcodes audio where the
// source does not match, names files, rotates them and finishes them so they are complete
// before anyone is told about them. One Recorder per recorded stream, on its own goroutine,
// so a slow disk or a failing file never blocks the ingest or other recordings.
package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
)

// queueFrames bounds the frames waiting for a recorder's goroutine: several seconds of a
// high-rate stream. Past it frames are dropped (and the file resumes at the next keyframe)
// rather than stalling the ingest that feeds every recorder of the stream. The queue only takes
// the memory of what waits in it: normally a frame or two.
const queueFrames = 4096

// queueBytes bounds the media bytes waiting likewise: 4096 frames of a hostile publisher could
// be 4096 maximal RTMP messages (16 GB); a real stream queues a few hundred kilobytes.
const queueBytes = 64 << 20

// bigBatch: a batch slice that grew past this (a recorder that fell behind) is not kept for reuse.
const bigBatch = 1024

// The recorder's goroutine writes what was queued every batchEvery, or as soon as wakeFrames
// frames wait: one wake-up per batch of frames rather than one per frame (with hundreds of
// streams, waking goroutines costs more than writing). Frames wait at most batchEvery, far
// below what a crash may cost anyway (flushEvery).
const (
	batchEvery = 100 * time.Millisecond
	wakeFrames = 64
)

// flushEvery is how often pending media is written out even when the container's own
// fragmenting has not triggered, at a batch tick, after that tick's batch is written: a crash
// (kill -9) loses what arrived since the last flush. An MP4 track's newest frame also waits for
// its successor (it gives the frame its duration), so a crash may also cost the frame before
// the flush: at most flushEvery plus one frame interval of media. 900 ms keeps that within 1 s
// for any track of 10 frames a second or more (30 fps video: 933 ms; AAC audio: 923 ms).
const flushEvery = 900 * time.Millisecond

// Options describe one recording.
type Options struct {
	Settings *conf.Settings // snapshot taken when the recording starts
	Values   naming.Values  // what file name templates refer to
	Tracks   []media.Track  // the stream's tracks; media.Frame.Track indexes this
	Files    *records.Store // the records folder, where the parts are created; shared by all recorders
	Log      *slog.Logger

	// FileName, when set, replaces the naming policy's output (the REST "fileName" parameter).
	FileName string
	// Template, when set, replaces the settings' template for this recording (REST "config.fileTemplate").
	Template string
	// Rotation overrides the settings' record_rotation for this recording when non-nil.
	Rotation *Rotation
	// NoRotation turns rotation off whatever the settings say (streams published in a room).
	NoRotation bool

	// OnFile is called, on the recorder's goroutine, after each file is closed and complete.
	OnFile func(File)
	// Stats, when set, gets this recording's frames, bytes and drops (shared by the server's recorders).
	Stats *Stats
	// Admit, when set, is asked after CheckSpace whether the recording may start: the
	// retention settings may want more free space than MinFreeSpace (retention.Cleaner.Admit).
	// Its error refuses the start; it wraps ErrNoSpace when the disk is short of space.
	Admit func() error
}

// Rotation says when a recording moves on to its next part; zero fields are off.
type Rotation struct {
	Seconds int
	Bytes   int64
}

func (r Rotation) on() bool { return r.Seconds > 0 || r.Bytes > 0 }

// String spells r as record_rotation does: "20" (seconds), "10M" (megabytes) or "off".
func (r Rotation) String() string {
	switch {
	case r.Seconds > 0:
		return strconv.Itoa(r.Seconds)
	case r.Bytes > 0 && r.Bytes%(1<<20) == 0:
		return strconv.FormatInt(r.Bytes>>20, 10) + "M"
	case r.Bytes > 0:
		return strconv.FormatInt(r.Bytes, 10) + " bytes"
	}
	return "off"
}

// File is a finished recording file: the records store's, which every finished file reaches.
type File = records.File

// Recorder records one stream. Its methods are safe for concurrent use.
type Recorder struct {
	opts    Options
	plan    plan
	stop    chan struct{}
	done    chan struct{}
	wake    chan struct{} // holds a token when wakeFrames frames are waiting
	drops   atomic.Uint64
	pending atomic.Int64 // frames pushed and not yet written

	qmu   sync.Mutex
	queue []queued // frames waiting for the goroutine, oldest first
	qsize int      // bytes of media in queue
	spare []queued // the goroutine's last batch, emptied, for reuse
	seq   uint64   // frames offered to Push, to notice drops
	// lostParams are the Params of a dropped keyframe: the next video keyframe queued carries
	// them, so a change of video parameters is not lost with the frame.
	lostParams *media.Track

	mu       sync.Mutex
	current  string // name of the file being written
	finished []File
	err      error
}

type queued struct {
	f   media.Frame
	seq uint64
}

// ErrStopped is returned by Stop when the recorder was already stopped.
var ErrStopped = errors.New("recording already stopped")

// Start validates the options, checks the free space (CheckSpace, then Options.Admit), creates
// the first file and starts recording. gop holds frames cached by the stream (from its last keyframe), written
// before anything pushed later; the recorder takes over the caller's reference to each pooled
// one, even when Start fails.
func Start(o Options, gop []media.Frame) (*Recorder, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := admit(o); err != nil {
		ReleaseFrames(gop)
		return nil, err
	}
	p, err := newPlan(o)
	if err != nil {
		ReleaseFrames(gop)
		return nil, err
	}
	r := &Recorder{
		opts: o,
		plan: p,
		stop: make(chan struct{}),
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),
	}
	w := newWriter(r)
	if err := w.openPart(nil, 0); err != nil {
		p.close()
		ReleaseFrames(gop)
		return nil, err
	}
	go r.run(w, gop)
	return r, nil
}

// Push offers a frame. It never blocks: when the recorder cannot keep up the frame is dropped,
// counted, and the recording resumes cleanly at the next keyframe. A queued pooled frame is
// retained until it is written.
func (r *Recorder) Push(f media.Frame) {
	r.qmu.Lock()
	r.seq++
	if len(r.queue) >= queueFrames || r.qsize+len(f.Data) > queueBytes {
		if f.Params != nil {
			r.lostParams = f.Params
		}
		r.qmu.Unlock()
		r.opts.Stats.drop()
		if r.drops.Add(1) == 1 {
			r.opts.Log.Error("recorder cannot keep up (disk too slow?): dropping frames until the next keyframe")
		}
		return
	}
	if r.lostParams != nil && f.Key && f.Params == nil && f.Track >= 0 && f.Track < len(r.plan.kinds) && r.plan.kinds[f.Track] == media.Video {
		f.Params, r.lostParams = r.lostParams, nil
	}
	f.Retain()
	r.queue = append(r.queue, queued{f: f, seq: r.seq})
	r.qsize += len(f.Data)
	full := len(r.queue) == wakeFrames
	r.pending.Add(1)
	r.qmu.Unlock()
	if full {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// take returns every queued frame and empties the queue.
func (r *Recorder) take() []queued {
	r.qmu.Lock()
	batch := r.queue
	r.queue, r.spare, r.qsize = r.spare, nil, 0
	r.qmu.Unlock()
	return batch
}

// giveBack keeps an emptied batch for the next take.
func (r *Recorder) giveBack(batch []queued) {
	if cap(batch) > bigBatch {
		return
	}
	clear(batch)
	r.qmu.Lock()
	if r.spare == nil {
		r.spare = batch[:0]
	}
	r.qmu.Unlock()
}

// Backlog returns the frames waiting for the recorder's goroutine and the frames dropped so far
// because the queue was full (a disk too slow for the stream).
func (r *Recorder) Backlog() (queued int, dropped uint64) {
	return int(r.pending.Load()), r.drops.Load()
}

// Name returns the file currently being written, or the last one finished.
func (r *Recorder) Name() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Err returns the error that ended the recording early, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Finished returns the files finished so far.
func (r *Recorder) Finished() []File {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]File(nil), r.finished...)
}

// Stop writes what is queued, finishes the current file and returns every file of the recording.
// It returns the error that ended the recording early, if any; the files are valid either way.
func (r *Recorder) Stop() ([]File, error) {
	select {
	case <-r.stop:
		<-r.done
		return r.Finished(), ErrStopped
	default:
	}
	close(r.stop)
	<-r.done
	return r.Finished(), r.Err()
}

// Done is closed when the recorder's goroutine has finished (after Stop, or after a fatal error).
func (r *Recorder) Done() <-chan struct{} { return r.done }

func (r *Recorder) run(w *writer, gop []media.Frame) {
	defer close(r.done)
	defer r.plan.close()
	tick := time.NewTimer(untilBoundary(batchEvery))
	defer tick.Stop()
	ticks := 0
	for _, f := range gop {
		w.frame(f)
		f.Release()
	}
	var last uint64
	for w.err == nil {
		select {
		case <-r.wake:
			r.write(w, &last)
		case <-tick.C:
			tick.Reset(untilBoundary(batchEvery))
			r.write(w, &last)
			if ticks++; ticks%int(flushEvery/batchEvery) == 0 {
				w.flush()
			}
		case <-r.stop:
			r.write(w, &last) // what was queued before Stop
			w.finish()
			w.report()
			return
		}
	}
	// A write failed: finish what is on disk and tell whoever reads Err.
	w.finish()
	w.report()
	r.setErr(w.err)
	r.opts.Log.Error("recording failed", "file", r.Name(), "err", w.err)
}

// untilBoundary is the time to the next multiple of d of the clock. Every recorder's batch
// timer fires there, all at once: the process then wakes once per batch for every recording,
// not once per recording at its own phase (with many recordings, waking costs more than
// writing).
func untilBoundary(d time.Duration) time.Duration {
	return d - time.Duration(time.Now().UnixNano()%int64(d))
}

// write writes the queued frames.
func (r *Recorder) write(w *writer, last *uint64) {
	batch := r.take()
	for _, q := range batch {
		if w.err == nil {
			if q.seq != *last+1 && *last != 0 {
				w.gap()
			}
			*last = q.seq
			w.frame(q.f)
		}
		q.f.Release()
		r.pending.Add(-1)
	}
	r.giveBack(batch)
	w.report()
}

func (r *Recorder) setCurrent(name string) {
	r.mu.Lock()
	r.current = name
	r.mu.Unlock()
}

// addFinished records a finished file; was is the name it had while being written (it may have
// been renamed since), so Name follows a rename of the current file but not of an older part.
func (r *Recorder) addFinished(f File, was string) {
	r.mu.Lock()
	r.finished = append(r.finished, f)
	if r.current == was {
		r.current = f.Name
	}
	r.mu.Unlock()
}

func (r *Recorder) setErr(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

func describe(tracks []media.Track) string {
	s := ""
	for i := range tracks {
		if i > 0 {
			s += ", "
		}
		s += tracks[i].String()
	}
	return fmt.Sprintf("[%s]", s)
}
