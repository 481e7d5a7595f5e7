package chunk

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// handshakeSize is the size of C1, C2, S1 and S2.
const handshakeSize = 1536

// Handshake answers a client's handshake (RTMP specification, 5.2): it reads C0 and C1, sends
// S0, S1 and S2 (S2 echoes C1), and reads C2. This is the plain handshake, which ffmpeg, OBS,
// GStreamer and librtmp publishers accept: S1 carries a zero version, so clients skip the
// Flash Player digest check. Version 6 (RTMPE, encrypted) is refused.
func Handshake(r *bufio.Reader, w io.Writer) error {
	c0c1 := make([]byte, 1+handshakeSize)
	if _, err := io.ReadFull(r, c0c1); err != nil {
		return fmt.Errorf("handshake: read C0+C1: %w", err)
	}
	if c0c1[0] != 3 {
		return fmt.Errorf("handshake: RTMP version %d (only 3, plain RTMP, is served)", c0c1[0])
	}
	s := make([]byte, 1+2*handshakeSize)
	s[0] = 3
	// S1: time and zero (4 bytes each), then random bytes.
	fill(s[9 : 1+handshakeSize])
	copy(s[1+handshakeSize:], c0c1[1:])
	if _, err := w.Write(s); err != nil {
		return fmt.Errorf("handshake: write S0+S1+S2: %w", err)
	}
	if _, err := io.ReadFull(r, c0c1[1:]); err != nil {
		return fmt.Errorf("handshake: read C2: %w", err)
	}
	return nil
}

func fill(b []byte) {
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
}
