//go:build unix

package conf

import (
	"os"
	"syscall"
)

// inode tells a file replaced by a rename from the one before, even with the same size and
// modification time.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
