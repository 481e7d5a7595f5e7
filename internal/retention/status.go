package retention

import (
	"time"

	"github.com/streamrec/streamrec/internal/conf"
)

// Status is what the dashboard shows of retention.
type Status struct {
	DeleteAfter  string     `json:"deleteAfter"`  // record_delete_after in effect, "" = keep
	MinFreeSpace string     `json:"minFreeSpace"` // record_min_free_space, "" = not set
	MaxTotalSize string     `json:"maxTotalSize"` // record_max_total_size, "" = no bound
	Refused      string     `json:"refused"`      // why new recordings are refused; "" = accepted
	LastPass     time.Time  `json:"lastPass,omitzero"`
	Deletions    []Deletion `json:"deletions"` // newest first
}

// Status returns the settings in effect, the verdict of the last pass and the last deletions.
func (c *Cleaner) Status() Status {
	st := c.cfg.Settings()
	s := Status{DeleteAfter: conf.FormatAge(st.RecordDeleteAfter), MinFreeSpace: st.RecordMinFreeSpace.String(),
		Deletions: c.Deletions(), Refused: c.Refused()}
	if st.RecordMaxTotalSize > 0 {
		s.MaxTotalSize = conf.FormatSize(st.RecordMaxTotalSize)
	}
	c.mu.Lock()
	s.LastPass = c.last
	c.mu.Unlock()
	return s
}
