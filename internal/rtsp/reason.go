package rtsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
)

// reason says in a few words why a camera session failed or ended, for status texts and logs.
// It never contains the camera's credentials.
func reason(err error, uri string) string {
	user, pass := credentials(uri)
	var bad liberrors.ErrClientBadStatusCode
	var dnsErr *net.DNSError
	var refusal *Refusal
	var netErr net.Error
	switch {
	case err == nil:
		return "the camera ended the session"
	case errors.As(err, &refusal):
		return refusal.Reason
	case errors.As(err, &bad) && bad.Code == base.StatusUnauthorized:
		if user == "" {
			return "the camera asks for a user name and password (401 Unauthorized): put them in the URI, rtsp://user:password@host/path"
		}
		return "authentication failed: wrong user name or password (401 Unauthorized)"
	case errors.As(err, &bad) && bad.Code == base.StatusNotFound:
		return "the camera has no stream at this path (404 Not Found)"
	case errors.As(err, &bad):
		return fmt.Sprintf("the camera answered %d %s", bad.Code, scrub(bad.Message, user, pass))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return "the camera closed the connection"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.As(err, new(liberrors.ErrClientTCPTimeout)), errors.As(err, new(liberrors.ErrClientUDPTimeout)):
		return "the camera stopped sending media"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "the camera did not answer in time"
	}
	return scrub(err.Error(), user, pass)
}
