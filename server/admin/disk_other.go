//go:build !linux

package admin

import "errors"

func diskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("disk space is not known on this system")
}
