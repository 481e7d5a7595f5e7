package control

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/stream"
)

// Every error a call can end with has one status, whoever (REST, dashboard) answers it, and
// however deep it is wrapped.
func TestHTTPStatus(t *testing.T) {
	for err, want := range map[error]int{
		Invalid(errors.New("malformed JSON")):                        http.StatusBadRequest,
		fmt.Errorf("%w: no such id", stream.ErrNotFound):             http.StatusNotFound,
		fmt.Errorf("%w (it is PENDING)", recording.ErrNotPublishing): http.StatusConflict,
		fmt.Errorf("%w to a.mp4", recording.ErrRecording):            http.StatusConflict,
		recording.ErrNotRecording:                                    http.StatusConflict,
		fmt.Errorf("start recording a: %w", recorder.ErrNoSpace):     http.StatusInsufficientStorage,
		errors.New("disk on fire"):                                   http.StatusInternalServerError,
	} {
		if got := HTTPStatus(err); got != want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestFind(t *testing.T) {
	reg := stream.New(stream.Config{})
	defer reg.Close()
	ctl := New(reg)
	st, err := reg.Create(stream.Identity{Name: "cam", Provider: stream.ProviderRTMP})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ctl.Find(st.ID().MediaSessionID); got != st || err != nil {
		t.Errorf("Find: %v %v", got, err)
	}
	if _, err := ctl.Find(""); !errors.Is(err, ErrInvalid) || err.Error() != `"mediaSessionId" is required` {
		t.Errorf("Find without an id: %v", err)
	}
	if _, err := ctl.Find("nope"); HTTPStatus(err) != http.StatusNotFound {
		t.Errorf("Find of an unknown id: %v", err)
	}
	// A registry without recording has nothing to stop, and says so as a conflict.
	if names, err := ctl.StopRecording(st); HTTPStatus(err) != http.StatusConflict || names == nil {
		t.Errorf("StopRecording without recording: %v %v", names, err)
	}
}
