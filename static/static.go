// Package static holds the web pages streamrec serves, embedded into the binary: demo/ is the
// Stream Recording demo page (with the Web SDK's prebuilt bundle) and admin/ the dashboard. Both
// are built from ui/ by `make ui` (Vite) and committed, so `go build` alone gives the whole
// product; `make ui-check` rebuilds them and fails when the committed files differ.
package static

import (
	"embed"
	"io/fs"
)

//go:embed all:demo all:admin
var files embed.FS

// Demo is the demo page: index.html and its assets/.
func Demo() fs.FS { return sub("demo") }

// Admin is the dashboard: index.html and its assets/.
func Admin() fs.FS { return sub("admin") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return f
}
