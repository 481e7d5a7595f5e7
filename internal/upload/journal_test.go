package upload_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/upload"
)

// The journal stays bounded: of the uploaded files whose local copy is gone only the newest 200
// are kept; an uploaded file still on disk and a file not yet uploaded are kept whatever their age.
func TestJournalPruned(t *testing.T) {
	files := records.New(t.TempDir(), nil)
	type ent struct {
		Name       string    `json:"name"`
		Queued     time.Time `json:"queued"`
		UploadedAt time.Time `json:"uploadedAt,omitzero"`
	}
	var j struct {
		Uploads []ent `json:"uploads"`
	}
	old := time.Now().Add(-time.Hour)
	for i := range 250 {
		j.Uploads = append(j.Uploads, ent{Name: fmt.Sprintf("gone-%03d.mp4", i), Queued: old, UploadedAt: old.Add(time.Duration(i) * time.Second)})
	}
	j.Uploads = append(j.Uploads, ent{Name: "here.mp4", Queued: old, UploadedAt: old}, ent{Name: "pending.mp4", Queued: old})
	os.WriteFile(files.Path("here.mp4"), []byte("x"), 0o644)
	os.WriteFile(files.Path("pending.mp4"), []byte("x"), 0o644)
	b, _ := json.Marshal(j)
	if err := os.WriteFile(files.Path(upload.JournalName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A store nobody answers at: pending.mp4 just fails meanwhile.
	store, err := objstore.New(objstore.Config{Endpoint: "http://127.0.0.1:1", Bucket: "none", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	q, err := upload.Open(upload.Config{Store: store, Files: files, Node: "n", MinBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for name, want := range map[string]string{"gone-249.mp4": upload.Uploaded, "gone-050.mp4": upload.Uploaded,
		"gone-049.mp4": upload.Local, "gone-000.mp4": upload.Local, "here.mp4": upload.Uploaded} {
		if st := q.Status(name); st.State != want {
			t.Errorf("%s: %s, want %s", name, st.State, want)
		}
	}
	if !q.Held("pending.mp4") || q.Held("here.mp4") {
		t.Error("pending.mp4 must be held, here.mp4 not")
	}
	b, _ = os.ReadFile(files.Path(upload.JournalName))
	json.Unmarshal(b, &j)
	if len(j.Uploads) != 202 {
		t.Errorf("the journal holds %d entries, want 200 gone + here + pending", len(j.Uploads))
	}
}
