//go:build !linux

package recorder

import "errors"

// DiskSpace gives the bytes available to the server and the size of the file system holding dir.
func DiskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("disk space is not known on this system")
}
