package ingest

import (
	"log/slog"
	"time"

	"github.com/streamrec/streamrec/internal/media"
)

// NTP converts a 64-bit NTP timestamp (32.32 fixed point seconds, as RTCP sender reports carry
// it) to the time since the NTP epoch.
func NTP(v uint64) time.Duration {
	sec, frac := int64(v>>32), v&0xffffffff
	return time.Duration(sec)*time.Second + time.Duration((frac*uint64(time.Second))>>32)
}

// Sync gives a track's mapping from the sender's wall clock to the ingest's timestamps, read
// from an RTCP sender report: at the sender's NTP time ntp (see NTP), the track's DTS (on the
// ingest's own clock for it, before any alignment) is dts. The ingest converts the report's RTP
// time to its DTS. With both tracks' mappings, audio is placed against video exactly, whatever
// the network and the encoders did to arrival times (Config says when: once or on drift).
func (s *Stage) Sync(kind media.Kind, ntp, dts time.Duration) {
	if kind != media.Video && kind != media.Audio {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.align.report(kind, syncPoint{ntp: ntp, dts: dts}, s.cfg, s.log)
}

// syncPoint is a sender report: the sender's wall clock (NTP) at a DTS of the track.
type syncPoint struct {
	ntp, dts time.Duration
}

// alignment is the offset that places audio against video (the reference: only audio moves).
type alignment struct {
	points  [2]syncPoint // by media.Kind
	have    [2]bool
	offset  time.Duration // added to audio's timestamps
	aligned bool          // offset comes from sender reports
	began   bool          // the output began
}

// want is the offset the latest reports ask for: equal capture instants get equal DTS.
func (a *alignment) want() time.Duration {
	v, au := a.points[media.Video], a.points[media.Audio]
	return (v.dts - v.ntp) - (au.dts - au.ntp)
}

// ready tells whether the output need not wait for sender reports any more.
func (a *alignment) ready(cfg Config) bool {
	if cfg.Resync > 0 {
		return a.aligned
	}
	return a.both()
}

// both tells whether both tracks sent a report.
func (a *alignment) both() bool { return a.have[media.Video] && a.have[media.Audio] }

// report takes a track's sender report. With Resync, audio is aligned at once and again on
// drift; without, reports are only kept for begin.
func (a *alignment) report(kind media.Kind, p syncPoint, cfg Config, log *slog.Logger) {
	if a.began && cfg.Resync <= 0 {
		return // aligned once, when the output began
	}
	a.points[kind], a.have[kind] = p, true
	if cfg.Resync <= 0 || !a.both() {
		return
	}
	want := a.want()
	diff := want - a.offset
	if a.aligned && diff < cfg.Resync && diff > -cfg.Resync {
		return
	}
	if !a.trusted(want, cfg, log) {
		return
	}
	log.Info("audio aligned with video by RTCP sender reports", "shift", diff.String(), "first", !a.aligned)
	a.offset, a.aligned = want, true
}

// begin fixes the alignment when the output begins, for a stage that aligns once.
func (a *alignment) begin(cfg Config, log *slog.Logger) {
	a.began = true
	if cfg.Resync > 0 {
		return
	}
	if !a.both() {
		log.Debug("tracks aligned by arrival: no RTCP sender report in time")
		return
	}
	if want := a.want(); a.trusted(want, cfg, log) {
		a.offset, a.aligned = want, true
		log.Debug("tracks aligned by RTCP sender reports", "offset", want)
	}
}

// trusted tells whether an offset is within cfg.MaxOffset; a larger one means a broken clock.
func (a *alignment) trusted(off time.Duration, cfg Config, log *slog.Logger) bool {
	if cfg.MaxOffset <= 0 || (off >= -cfg.MaxOffset && off <= cfg.MaxOffset) {
		return true
	}
	log.Warn("RTCP sender reports disagree with arrival times; tracks aligned by arrival", "track", "audio", "offset", off)
	return false
}
