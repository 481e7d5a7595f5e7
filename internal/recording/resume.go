package recording

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/streamrec/streamrec/internal/recorder"
)

// watch notices a recorder that ended on its own (a write error) and detaches it.
func (r *Recording) watch(rec *recorder.Recorder) {
	<-rec.Done()
	r.mu.Lock()
	if r.rec != rec {
		r.mu.Unlock()
		return // stopped normally
	}
	r.rec = nil
	r.name = rec.Name()
	err := rec.Err()
	if err != nil {
		r.err = err.Error()
	}
	o := r.opts
	r.mu.Unlock()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) { // a full disk or quota
		r.resumeLater(o)
	}
	r.st.Changed()
}

// resumeEvery is how often a stream whose recording stopped for lack of space looks again.
const resumeEvery = 2 * time.Second

// resumeLater starts recording the stream again, into a new file, once the records disk has
// recorder.MinFreeSpace free (and what Config.Admit asks for: record_min_free_space): its
// recording stopped, or could not start, for lack of space. It gives up when the stream ends
// or is recorded again meanwhile (a REST startRecording).
func (r *Recording) resumeLater(o Options) {
	need := r.needFree()
	r.mu.Lock()
	r.err += " (recording resumes, in a new file, once " + need + " are free)"
	r.mu.Unlock()
	log := r.st.Log()
	log.Warn("recording stopped for lack of space: it resumes by itself once the records disk has room",
		"needFree", need)
	go func() {
		tick := time.NewTicker(resumeEvery)
		defer tick.Stop()
		for range tick.C {
			r.mu.Lock()
			over := !r.live || r.rec != nil
			r.mu.Unlock()
			if over {
				return
			}
			if recorder.CheckSpace(r.cfg.Files.Dir()) != nil {
				continue
			}
			err := r.start(o)
			if err == nil {
				log.Info("recording resumed: the records disk has room again", "file", r.State().Name)
				r.st.Changed()
				return
			}
			if !errors.Is(err, recorder.ErrNoSpace) {
				log.Error("recording did not resume", "err", err)
				return
			}
		}
	}()
}

// needFree says what free space a recording needs to start: the recorder's floor, and
// record_min_free_space when it is set (retention refuses below it once nothing is left to delete).
func (r *Recording) needFree() string {
	need := fmt.Sprintf("%d MB", recorder.MinFreeSpace>>20)
	if sp := r.cfg.Settings().RecordMinFreeSpace; !sp.IsZero() {
		need += " and record_min_free_space=" + sp.String()
	}
	return need
}
