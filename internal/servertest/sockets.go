package servertest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HeldConnections counts the TCP connections the server (running in the test process) holds
// open on its local port: file descriptors of this process that are connected sockets whose
// local end is that port. The test's own client sockets have another local port, so they are
// not counted. Linux only (/proc).
func HeldConnections(t testing.TB, port int) int {
	t.Helper()
	inodes := connectedInodes(t, port)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list file descriptors: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed since ReadDir
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			n++
		}
	}
	return n
}

// connectedInodes are the inodes of the TCP sockets, IPv4 and IPv6, that are not listening and
// whose local port is port (from /proc/net/tcp: "sl local rem st ... uid timeout inode").
func connectedInodes(t testing.TB, port int) map[string]bool {
	t.Helper()
	const listening = "0A"
	suffix := fmt.Sprintf(":%04X", port)
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			t.Fatalf("read sockets: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !strings.HasSuffix(fields[1], suffix) || fields[3] == listening {
				continue
			}
			out[fields[9]] = true
		}
		f.Close()
	}
	return out
}
