package stream

import "testing"

func TestNameFromPath(t *testing.T) {
	for in, want := range map[string]string{
		"stream_ffmpeg":        "stream_ffmpeg",
		"cam1?token=abc":       "cam1",
		"a/b/cam2":             "cam2",
		"/live/cam1":           "cam1",
		"/cam3/":               "cam3",
		"/":                    "",
		"":                     "",
		"?key=1":               "",
		"../../etc/passwd":     "passwd",
		"name with space?x=/y": "name with space",
	} {
		if got := NameFromPath(in); got != want {
			t.Errorf("NameFromPath(%q) = %q, want %q", in, got, want)
		}
	}
}
