package retention

import (
	"fmt"

	"github.com/streamrec/streamrec/internal/recorder"
)

// Admit tells whether a new recording may start: nil, or an error wrapping recorder.ErrNoSpace
// when record_min_free_space cannot be met even after deleting every finished file that may go.
// Below that free space it runs a pass first, so a file that can be deleted is, and the start
// goes on. A recording already running is never stopped. (recorder.Options.Admit)
func (c *Cleaner) Admit() error {
	st := c.cfg.Settings()
	free, disk, err := c.cfg.Space(c.cfg.Files.Dir())
	if err != nil || free >= need(st, disk) {
		return nil
	}
	c.Pass()
	if why := c.Refused(); why != "" {
		return fmt.Errorf("%w: %s", recorder.ErrNoSpace, why)
	}
	return nil
}

// Refused says why new recordings are refused, as of the last pass; "" when they are not.
func (c *Cleaner) Refused() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// setRefused records the verdict of a pass, logging only its changes: one line when new
// recordings begin to be refused, one when they are accepted again, none per attempt.
func (c *Cleaner) setRefused(why string) {
	c.mu.Lock()
	was := c.refused
	c.refused = why
	c.mu.Unlock()
	switch {
	case why != "" && was == "":
		c.log.Warn("new recordings refused: the records disk is short of space and nothing is left to delete", "why", why)
	case why == "" && was != "":
		c.log.Info("new recordings accepted again: the records disk has room")
	}
}
