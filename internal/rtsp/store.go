package rtsp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/streamrec/streamrec/internal/atomicfile"
)

// storedCamera is one camera in the list file. The URI keeps its credentials: they are needed
// to reconnect after a restart, which is why the file is readable by its owner only.
type storedCamera struct {
	URI       string `json:"uri"`
	Name      string `json:"localStreamName"`
	Transport string `json:"transport,omitempty"`
}

type storedList struct {
	Cameras []storedCamera `json:"cameras"`
}

// loadList reads the camera list; a missing file is an empty list.
func loadList(path string) ([]storedCamera, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l storedList
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %v (fix or remove the file)", path, err)
	}
	return l.Cameras, nil
}

// saveList writes the camera list atomically: a temporary file in the same folder, synced,
// then renamed over the old one, so a crash leaves either the old list or the new one.
func saveList(path string, cams []storedCamera) error {
	if cams == nil {
		cams = []storedCamera{}
	}
	b, err := json.MarshalIndent(storedList{Cameras: cams}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}
