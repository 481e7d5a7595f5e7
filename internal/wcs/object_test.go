package wcs_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/conf"
	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/recording"
	"github.com/streamrec/streamrec/internal/records"
	"github.com/streamrec/streamrec/internal/stream"
	"github.com/streamrec/streamrec/internal/wcs"
)

// keys returns the top-level keys of a JSON object, in order.
func keys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The WCS stream object keeps the WCS field names, order and spellings, with the recording's
// state from the stream's recording subscriber; fields left empty stay out as before.
func TestStreamObject(t *testing.T) {
	settings := conf.Defaults()
	settings.RecordStreams, settings.RecordFlash, settings.Policy = true, true, "streamName"
	rs := recording.New(recording.Config{Settings: func() *conf.Settings { return settings }, Files: records.New(t.TempDir(), nil)})
	reg := stream.New(stream.Config{Attach: rs.Attach})
	defer reg.Close()
	st, err := reg.Create(stream.Identity{Name: "cam", Provider: stream.ProviderRTMP, AppKey: "flashStreamingApp"})
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := json.Marshal(wcs.StreamOf(st.Snapshot()))
	want := "appKey sessionId mediaSessionId name published hasVideo hasAudio status info record mediaProvider bytes started recording"
	if got := strings.Join(keys(t, pending), " "); got != want {
		t.Errorf("PENDING stream object keys:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(string(pending), `"status":"PENDING","info":null,"record":false,"mediaProvider":"Flash"`) {
		t.Errorf("PENDING stream object: %s", pending)
	}
	st.Publish([]media.Track{{Kind: media.Audio, Codec: media.AAC, SampleRate: 44100, Channels: 2, Config: []byte{0x12, 0x10}}})
	st.Note("a warning")
	o := wcs.StreamOf(st.Snapshot())
	if o.Status != "PUBLISHING" || !o.Record || !o.Recording || o.RecordName != "cam.mp4" || time.Since(o.RecordSince) > time.Minute ||
		o.Info == nil || *o.Info != "a warning" || !o.HasAudio || o.HasVideo || o.AudioCodec != string(media.AAC) {
		t.Errorf("recorded stream object: %+v", o)
	}
	st.Fail("broken")
	o = wcs.StreamOf(st.Snapshot())
	if o.Status != "FAILED" || o.Recording || !o.Record || o.RecordName != "cam.mp4" || !o.RecordSince.IsZero() || *o.Info != "broken" {
		t.Errorf("failed stream object: %+v", o)
	}
}
