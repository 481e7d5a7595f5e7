package recorder

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/tmpfs"
)

// TestStartRefusedWithoutSpace: a records file system with less than MinFreeSpace free refuses
// a new recording with ErrNoSpace, saying how much is free, and leaves no file behind.
func TestStartRefusedWithoutSpace(t *testing.T) {
	dir := tmpfs.Mount(t, "", 8<<20)
	_, err := Start(Options{
		Settings: &conf.Settings{Policy: "streamName"},
		Values:   naming.Values{StreamName: "s"},
		Tracks:   []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2}},
		Files:    records.New(dir, nil),
	}, nil)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "8 MB free") {
		t.Fatalf("Start on an 8 MB file system: %v, want ErrNoSpace saying 8 MB free", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

// TestStartRefusedByAdmit: Options.Admit is asked before any file is made, and its refusal is
// Start's error as it is.
func TestStartRefusedByAdmit(t *testing.T) {
	dir := t.TempDir()
	refusal := fmt.Errorf("%w: record_min_free_space=10G asks for 10240 MB", ErrNoSpace)
	asked := 0
	_, err := Start(Options{
		Settings: &conf.Settings{Policy: "streamName"},
		Values:   naming.Values{StreamName: "s"},
		Tracks:   []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2}},
		Files:    records.New(dir, nil),
		Admit:    func() error { asked++; return refusal },
	}, nil)
	if err != refusal || asked != 1 {
		t.Fatalf("Start: %v (Admit asked %d times), want Admit's refusal", err, asked)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

// failingContainer is a container whose file hit a write error: Close returns it, and Duration
// is what the repaired file holds.
type failingContainer struct {
	fakeContainer
	held time.Duration
}

var errFull = &os.PathError{Op: "writev", Path: "x", Err: syscall.ENOSPC}

func (c *failingContainer) Close() error                 { c.fakeContainer.Close(); return errFull }
func (c *failingContainer) CloseAt(time.Duration) error  { return c.Close() }
func (c *failingContainer) Duration() time.Duration      { return c.held }
func (c *failingContainer) WriteFrame(media.Frame) error { return nil }

// TestWriteErrorAnnouncedWithIt: a file whose container failed is announced with the error
// (File.Err, the recorder's Err), never as a clean finish; one that holds no media at all is
// removed and not announced.
func TestWriteErrorAnnouncedWithIt(t *testing.T) {
	for name, held := range map[string]time.Duration{"cut short": 3 * time.Second, "empty": 0} {
		t.Run(name, func(t *testing.T) {
			var got []File
			o := Options{
				Settings: &conf.Settings{Policy: "streamName", SampleRate: 44100},
				Values:   naming.Values{StreamName: "u"},
				Tracks:   []media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2}},
				Files:    records.New(t.TempDir(), nil),
				Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
				OnFile:   func(f File) { got = append(got, f) },
			}
			p, err := newPlan(o)
			if err != nil {
				t.Fatal(err)
			}
			p.create = func(*os.File, []media.Track) (container, error) { return &failingContainer{held: held}, nil }
			r := &Recorder{opts: o, plan: p}
			w := newWriter(r)
			if err := w.openPart(nil, 0); err != nil {
				t.Fatal(err)
			}
			w.frame(media.Frame{Track: 0, Key: true, Data: []byte{1}})
			w.finish()
			if !errors.Is(w.err, syscall.ENOSPC) {
				t.Errorf("recording error %v, want the write error", w.err)
			}
			ents, _ := os.ReadDir(o.Files.Dir())
			if held == 0 {
				if len(got) != 0 || len(ents) != 0 {
					t.Errorf("an empty file was announced (%+v) or left (%d files)", got, len(ents))
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0].Err, "no space left on device") || got[0].Duration != held {
				t.Fatalf("announced %+v, want one file of %v with the write error", got, held)
			}
			if f := r.Finished(); len(f) != 1 || f[0].Err == "" {
				t.Errorf("Finished() = %+v, want the file with its error", f)
			}
		})
	}
}

// TestRotationFailureMarksLastPart: when the next part cannot be created (a full disk), the
// part before it is whole, but the recording ends with it: it is announced with the error.
func TestRotationFailureMarksLastPart(t *testing.T) {
	w, parts := rotatingWriter(t)
	var got []File
	w.r.opts.OnFile = func(f File) { got = append(got, f) }
	create := w.p.create
	w.p.create = func(f *os.File, tracks []media.Track) (container, error) {
		if len(*parts) == 1 {
			return nil, errFull
		}
		return create(f, tracks)
	}
	for i := range 90 {
		ts := time.Duration(i) * time.Second / 30
		w.frame(media.Frame{Track: 0, DTS: ts, PTS: ts, Key: i%30 == 0, Data: []byte{1}})
	}
	w.finish()
	if len(got) != 1 || !strings.Contains(got[0].Err, "no space left on device") {
		t.Fatalf("announced %+v, want the first part with the error that kept the second from starting", got)
	}
}
