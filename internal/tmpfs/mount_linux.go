//go:build linux

package tmpfs

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on dir (a new temporary folder when dir is "") and
// unmounts it when the test ends. It skips the test, saying why, when mounting is not allowed
// (not root, or no CAP_SYS_ADMIN in a container).
func Mount(t testing.TB, dir string, size int64) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount a %d-byte tmpfs on %s to fill up (needs root): %v", size, dir, err)
	}
	t.Cleanup(func() {
		// Lazy: a file still open (a server closing late) must not leave the mount behind.
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Free returns the bytes free in the file system holding dir.
func Free(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// Mountable tells whether this process may mount a tmpfs (Mount skips the test otherwise):
// nil, or the error a mount gets. A test that CI must run fails on it instead of skipping.
func Mountable() error {
	dir, err := os.MkdirTemp("", "tmpfs-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	return syscall.Unmount(dir, syscall.MNT_DETACH)
}
