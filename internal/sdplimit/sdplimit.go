// Package sdplimit holds the bounds on the session descriptions publishers send: the SDP of an
// RTSP ANNOUNCE and the SDP offer of a WebRTC publisher. Both are parsed into a structure per
// media section, and a stream records at most one video and one audio track, so a description
// far larger than any real one only costs memory and time.
package sdplimit

import (
	"errors"
	"fmt"
)

const (
	// MaxBytes bounds an SDP body. A browser's offer is 3–8 KB, a camera's ANNOUNCE under 2 KB.
	MaxBytes = 64 << 10
	// MaxMedias bounds the media sections (m= lines). A publisher sends one video and one audio
	// section, a browser maybe a data channel or a spare transceiver too.
	MaxMedias = 8
)

var (
	// ErrTooLarge: the SDP is over MaxBytes.
	ErrTooLarge = errors.New("SDP too large")
	// ErrTooManyMedias: the SDP has more than MaxMedias media sections.
	ErrTooManyMedias = errors.New("SDP has too many media sections")
)

// CheckSize refuses an SDP of more than MaxBytes; call it before parsing.
func CheckSize(size int) error {
	if size > MaxBytes {
		return fmt.Errorf("%w: %d bytes, at most %d are accepted", ErrTooLarge, size, MaxBytes)
	}
	return nil
}

// CheckMedias refuses an SDP with more than MaxMedias media sections.
func CheckMedias(n int) error {
	if n > MaxMedias {
		return fmt.Errorf("%w: %d, at most %d are accepted", ErrTooManyMedias, n, MaxMedias)
	}
	return nil
}
