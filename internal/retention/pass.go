package retention

import (
	"fmt"
	"slices"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/recorder"
)

// Pass deletes what the current settings say must go, in this order: every finished file older
// than record_delete_after; then, oldest first, files until the disk has record_min_free_space
// free and the finished files take at most record_max_total_size. It then decides whether new
// recordings are refused (Admit). Files being written, and files Hold keeps, are never deleted.
func (c *Cleaner) Pass() {
	c.pass.Lock()
	defer c.pass.Unlock()
	st := c.cfg.Settings()
	list, err := c.cfg.Files.List()
	if err != nil {
		c.log.Warn("retention pass: records folder unreadable", "err", err)
		return
	}
	now := c.cfg.Now()
	var total int64
	var cands []candidate
	held := 0
	for _, r := range list {
		total += r.Size
		if c.held(r.Name) {
			held++
			continue
		}
		cands = append(cands, candidate{Recording: r, age: now.Sub(r.Modified)})
	}
	slices.SortFunc(cands, oldestFirst)
	cands = c.byAge(st, cands, &total)
	c.bySpace(st, cands, total, held)
	c.mu.Lock()
	c.last = now
	c.mu.Unlock()
}

func (c *Cleaner) held(name string) bool { return c.cfg.Hold != nil && c.cfg.Hold(name) }

// byAge deletes the files older than record_delete_after and returns the others.
func (c *Cleaner) byAge(st *conf.Settings, cands []candidate, total *int64) []candidate {
	if st.RecordDeleteAfter <= 0 {
		return cands
	}
	reason := "older than record_delete_after=" + conf.FormatAge(st.RecordDeleteAfter)
	return slices.DeleteFunc(cands, func(f candidate) bool {
		if f.age <= st.RecordDeleteAfter || !c.delete(f, reason) {
			return false
		}
		*total -= f.Size
		return true
	})
}

// need is the free space record_min_free_space asks for on a disk of total bytes, never below
// the recorder's own floor (a target under it would leave new recordings refused while files
// could still be deleted); 0 when the setting is empty.
func need(st *conf.Settings, total uint64) uint64 {
	if st.RecordMinFreeSpace.IsZero() {
		return 0
	}
	return max(st.RecordMinFreeSpace.Of(total), recorder.MinFreeSpace)
}

// bySpace deletes files oldest first while the disk has less free than record_min_free_space
// or the folder holds more than record_max_total_size, then records whether new recordings
// must be refused. The free space is measured once and counted down with each file deleted: a
// file a reader still holds open frees its blocks later, and deleting more for it would be wrong.
func (c *Cleaner) bySpace(st *conf.Settings, cands []candidate, total int64, held int) {
	free, disk, err := c.cfg.Space(c.cfg.Files.Dir())
	want := need(st, disk)
	if err != nil {
		want = 0 // unknown free space: only the size bound applies, nothing is refused
	}
	maxTotal := st.RecordMaxTotalSize
	for _, f := range cands {
		low, over := free < want, maxTotal > 0 && total > maxTotal
		if !low && !over {
			break
		}
		var reason string
		if low {
			reason = fmt.Sprintf("free space %s below record_min_free_space=%s", fmtBytes(free), st.RecordMinFreeSpace)
		} else {
			reason = fmt.Sprintf("records folder %s over record_max_total_size=%s", fmtBytes(uint64(total)), conf.FormatSize(maxTotal))
		}
		if c.delete(f, reason) {
			free += uint64(f.Size)
			total -= f.Size
		}
	}
	refused := ""
	if free < want {
		refused = fmt.Sprintf("%s free in %s, record_min_free_space=%s asks for %s and no finished recording is left to delete",
			fmtBytes(free), c.cfg.Files.Dir(), st.RecordMinFreeSpace, fmtBytes(want))
		if held > 0 {
			refused += fmt.Sprintf(" (%d held until uploaded)", held)
		}
	}
	c.setRefused(refused)
}

// delete removes one file through the store, after asking Hold again (an upload may have begun
// to matter meanwhile); the store refuses a file being written. Once finished, a name is never
// written again (files are created exclusively), so that check cannot go stale.
func (c *Cleaner) delete(f candidate, reason string) bool {
	if c.held(f.Name) {
		return false
	}
	if err := c.cfg.Files.Delete(f.Name); err != nil {
		c.log.Warn("retention: recording not deleted", "file", f.Name, "reason", reason, "err", err)
		return false
	}
	age := f.age.Round(time.Second)
	c.log.Info("recording deleted", "file", f.Name, "age", age, "bytes", f.Size, "reason", reason)
	c.remember(Deletion{Time: c.cfg.Now(), Name: f.Name, Size: f.Size, Age: age, AgeSeconds: age.Seconds(), Reason: reason})
	return true
}
