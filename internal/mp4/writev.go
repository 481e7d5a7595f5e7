package mp4

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// iovMax is the most pieces one writev call takes (Linux's IOV_MAX).
const iovMax = 1024

// vecWriter writes several pieces of memory to a file with one writev call.
type vecWriter struct {
	f   *os.File
	rc  syscall.RawConn
	vec []syscall.Iovec // reused
}

func newVecWriter(f *os.File) (*vecWriter, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &vecWriter{f: f, rc: rc}, nil
}

// write writes the pieces at the file's offset, in order, with as few writev calls as it can:
// one for up to iovMax pieces (more after a short write). The pieces' slices may be advanced.
// It returns the bytes written.
func (w *vecWriter) write(pieces [][]byte) (int64, error) {
	var total int64
	for len(pieces) > 0 {
		vec := w.vec[:0]
		for _, p := range pieces[:min(len(pieces), iovMax)] {
			if len(p) == 0 {
				continue
			}
			v := syscall.Iovec{Base: &p[0]}
			v.SetLen(len(p))
			vec = append(vec, v)
		}
		w.vec = vec
		if len(vec) == 0 {
			break
		}
		var n int
		var errno syscall.Errno
		err := w.rc.Write(func(fd uintptr) bool {
			for {
				r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&vec[0])), uintptr(len(vec)))
				if e != syscall.EINTR {
					n, errno = int(r), e
					return true
				}
			}
		})
		clear(vec) // do not pin the payloads
		if err != nil {
			return total, err
		}
		if errno != 0 {
			return total, &os.PathError{Op: "writev", Path: w.f.Name(), Err: errno}
		}
		total += int64(n)
		if n == 0 {
			return total, io.ErrShortWrite
		}
		// Skip what was written; a short write leaves the rest of a piece to the next call.
		for n > 0 {
			if n < len(pieces[0]) {
				pieces[0] = pieces[0][n:]
				break
			}
			n -= len(pieces[0])
			pieces = pieces[1:]
		}
		for len(pieces) > 0 && len(pieces[0]) == 0 {
			pieces = pieces[1:]
		}
	}
	return total, nil
}
