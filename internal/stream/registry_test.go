package stream

import (
	"errors"
	"testing"
)

func testRegistry(t *testing.T) *Registry {
	t.Helper()
	r := New(Config{})
	t.Cleanup(r.Close)
	return r
}

// A name enters the server once, here: what every ingest publishes under is the clean name,
// and REST lookups with the name as published find it.
func TestCreateCleansTheName(t *testing.T) {
	r := testRegistry(t)
	for raw, want := range map[string]string{
		"cam\x00one":     "camone",
		"\u202etxt.exe":  "txt.exe",
		"a\u200bb\u2066": "ab",
		"-rf":            "-rf", // a legal stream name; file names and the hook's $1 change it
		"plain":          "plain",
	} {
		st, err := r.Create(Identity{Name: raw, Provider: ProviderRTMP})
		if err != nil {
			t.Fatalf("Create(%q): %v", raw, err)
		}
		if got := st.ID().Name; got != want {
			t.Errorf("Create(%q) named the stream %q, want %q", raw, got, want)
		}
		if got := st.Snapshot().Name; got != want {
			t.Errorf("snapshot of %q is named %q, want %q", raw, got, want)
		}
		for _, n := range []string{raw, want} {
			if s, err := r.ByName(n); err != nil || s != st {
				t.Errorf("ByName(%q) = %v, %v; want the stream %q", n, s, err, want)
			}
		}
	}
	// The clean name is the one that is in use.
	if _, err := r.Create(Identity{Name: "cam\u202eone\x00"}); !errors.Is(err, ErrNameInUse) {
		t.Errorf("a second publisher of camone under another spelling: %v, want ErrNameInUse", err)
	}
	if _, err := r.Create(Identity{Name: "\x00\u202e"}); err == nil {
		t.Error("a name of only control and format characters was accepted")
	}
}
