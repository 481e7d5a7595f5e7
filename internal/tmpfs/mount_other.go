//go:build !linux

package tmpfs

import (
	"errors"
	"testing"
)

// Mount skips the test: a tmpfs is only mounted on Linux.
func Mount(t testing.TB, dir string, size int64) string {
	t.Helper()
	t.Skip("a small tmpfs to fill up is only mounted on Linux")
	return ""
}

// Free returns the bytes free in the file system holding dir.
func Free(dir string) (int64, error) {
	return 0, errors.New("free space is not known on this system")
}

// Mountable says that no tmpfs is mounted on this system.
func Mountable() error { return errors.New("a tmpfs is only mounted on Linux") }
