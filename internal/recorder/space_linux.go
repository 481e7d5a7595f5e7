//go:build linux

package recorder

import "golang.org/x/sys/unix"

// DiskSpace gives the bytes available to the server and the size of the file system holding dir.
func DiskSpace(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
