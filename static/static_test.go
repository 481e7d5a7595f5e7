package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// assetRef finds the files a built page or script refers to.
var assetRef = regexp.MustCompile(`(?:/admin/|/client/demo/)(assets/[A-Za-z0-9._-]+)`)

// TestBuiltPagesAreComplete checks the committed build: each page, every asset it refers to
// (the Web SDK bundle included), and gzip twins equal to their originals. `make ui-check`
// checks that the build matches the sources.
func TestBuiltPagesAreComplete(t *testing.T) {
	for name, fsys := range map[string]fs.FS{"demo": Demo(), "admin": Admin()} {
		index, err := fs.ReadFile(fsys, "index.html")
		if err != nil {
			t.Fatalf("%s: %v (run make ui)", name, err)
		}
		refs := assetRef.FindAllStringSubmatch(string(index), -1)
		if len(refs) < 2 {
			t.Errorf("%s/index.html refers to %d assets, want its script and its style sheet", name, len(refs))
		}
		err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			if strings.HasSuffix(path, ".js") {
				refs = append(refs, assetRef.FindAllStringSubmatch(string(data), -1)...)
			}
			if orig, ok := strings.CutSuffix(path, ".gz"); ok {
				want, err := fs.ReadFile(fsys, orig)
				if err != nil {
					t.Errorf("%s/%s has no original", name, path)
					return nil
				}
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return err
				}
				got, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s/%s does not unzip to %s", name, path, orig)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			if _, err := fs.Stat(fsys, r[1]); err != nil {
				t.Errorf("%s refers to %s, which is not built", name, r[1])
			}
		}
	}
	sdk, _ := fs.Glob(Demo(), "assets/flashphoner-webrtc-only.min-*.js")
	if len(sdk) != 1 {
		t.Errorf("the demo page's Web SDK bundle: %v", sdk)
	}
}
