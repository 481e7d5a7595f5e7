// Package format is the table of recording formats: for each container of media.Containers
// (its name, which is the file extension, and the video and audio codec it holds), how a
// recording is written to it and how a finished file of it is read back.
//
// The recorder opens its files through the table, the recordings library reads them through
// it; the settings (internal/conf) and the ingests know only media.Containers, so they do not
// depend on the writers.
package format

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/mp4"
	"github.com/streamrec/streamrec/internal/webm"
)

// Writer is a container being written, as the MP4 and WebM writers are. A frame it refuses
// (and goes on without) is an error wrapping media.ErrFrameRefused; after any other error the
// file ends.
type Writer interface {
	WriteFrame(media.Frame) error
	Flush() error
	Close() error
	Size() int64
	Duration() time.Duration
}

// Format is one recording format.
type Format struct {
	media.Container
	create  func(*os.File, []media.Track) (Writer, error)
	recover func(*os.File) (media.Recovered, error)
	probe   func(r io.ReaderAt, size int64) (media.FileInfo, error)
}

// formats has one entry for each of media.Containers (a test checks it).
var formats = []Format{
	{Container: media.MP4, create: writer(mp4.Create), recover: mp4.Recover, probe: mp4.Probe},
	{Container: media.WebM, create: writer(webm.Create), recover: webm.Recover, probe: webm.Probe},
}

// writer adapts a container's constructor; a failed one gives a nil Writer, not a typed nil.
func writer[W Writer](create func(*os.File, []media.Track) (W, error)) func(*os.File, []media.Track) (Writer, error) {
	return func(f *os.File, tracks []media.Track) (Writer, error) {
		w, err := create(f, tracks)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
}

// Create starts a recording of tracks in f, which must be new and empty.
func (f Format) Create(file *os.File, tracks []media.Track) (Writer, error) {
	return f.create(file, tracks)
}

// Recover finishes a file the writer was writing when the process died: the torn end is cut
// off and the headers completed, as Close does after a write error (see mp4.Recover,
// webm.Recover).
func (f Format) Recover(file *os.File) (media.Recovered, error) {
	return f.recover(file)
}

// Probe reads the headers of a file of size bytes: its duration, creation time and tracks.
// The file may be cut or hostile: what a probe reads and allocates is bounded (a few MB), and
// it never reads the media.
func (f Format) Probe(r io.ReaderAt, size int64) (media.FileInfo, error) {
	return f.probe(r, size)
}

// ForVideo gives the format that holds the video codec c.
func ForVideo(c media.Codec) (Format, bool) {
	k, ok := media.ContainerFor(c)
	if !ok {
		return Format{}, false
	}
	return named(k.Name)
}

// ForExt gives the format of files with extension ext ("mp4", ".webm"; any case).
func ForExt(ext string) (Format, bool) {
	return named(strings.TrimPrefix(ext, "."))
}

// AudioOnly gives the format of recordings without video.
func AudioOnly() Format {
	f, _ := named(media.AudioOnly().Name)
	return f
}

func named(name string) (Format, bool) {
	for _, f := range formats {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Format{}, false
}

// ErrNotRecording is returned by ProbeFile for a file whose extension is no format's.
var ErrNotRecording = errors.New("not a recording")

// ProbeFile reads the headers of the recording file at path, by the format its extension names.
func ProbeFile(path string) (media.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return media.FileInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return media.FileInfo{}, err
	}
	format, ok := ForExt(filepath.Ext(path))
	if !ok {
		return media.FileInfo{}, ErrNotRecording
	}
	return format.Probe(f, st.Size())
}
