package recorder

import (
	"errors"
	"fmt"
)

// MinFreeSpace is the free space the records file system must have for a recording to start:
// below it a new recording would fill the disk within seconds and leave a file cut short, so it
// is refused up front with ErrNoSpace. A recording already running goes on below it; when the
// disk is really full its file ends at its last complete fragment, with the write error.
const MinFreeSpace = 64 << 20

// ErrNoSpace refuses a recording when the records file system has less than MinFreeSpace free.
var ErrNoSpace = errors.New("not enough free space on the records disk")

// CheckSpace tells whether a recording may start in dir: nil, or an error wrapping ErrNoSpace
// that says how much is free. A file system whose free space is unknown is not refused.
func CheckSpace(dir string) error {
	free, _, err := DiskSpace(dir)
	if err != nil || free >= MinFreeSpace {
		return nil
	}
	return fmt.Errorf("%w: %d MB free in %s, a recording needs %d MB to start", ErrNoSpace, free>>20, dir, MinFreeSpace>>20)
}

// admit runs CheckSpace, then the recording's own Admit.
func admit(o Options) error {
	if err := CheckSpace(o.Files.Dir()); err != nil {
		return err
	}
	if o.Admit != nil {
		return o.Admit()
	}
	return nil
}
