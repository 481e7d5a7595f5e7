package web

import (
	"io"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// DemoPath is where WCS serves its Stream Recording example; streamrec serves its demo page
// there and at "/".
const DemoPath = "/client/examples/demo/streaming/stream_recording/recording.html"

// ClientConfig is what the demo page needs to know about the server (GET /client/config.json):
// the ports its listeners really opened, so the page fills in a signalling URL that works.
type ClientConfig struct {
	WSPort    int    `json:"wsPort"`  // 0: the ws:// listener is off
	WSSPort   int    `json:"wssPort"` // 0: the wss:// listener is off
	HTTPPort  int    `json:"httpPort"`
	HTTPSPort int    `json:"httpsPort"`
	Version   string `json:"version"`
}

// Pages serves the embedded pages: the demo page and the dashboard's files.
type Pages struct {
	Demo   fs.FS // index.html + assets/ (package static)
	Admin  fs.FS // index.html + assets/
	Client ClientConfig
}

// Register mounts the pages on app. The dashboard's API is mounted by package admin.
func (p *Pages) Register(app fiber.Router) {
	demo := func(c *fiber.Ctx) error { return sendAsset(c, p.Demo, "index.html") }
	app.Get("/", demo)
	app.Get(DemoPath, demo)
	app.Get("/client/config.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.JSON(p.Client)
	})
	app.Get("/client/demo/*", func(c *fiber.Ctx) error { return sendAsset(c, p.Demo, c.Params("*")) })
	// "/admin" matches "/admin/" too (Fiber's routing is not strict); the page's URLs are absolute.
	app.Get("/admin", func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		c.Set("X-Frame-Options", "DENY")
		return sendAsset(c, p.Admin, "index.html")
	})
	app.Get("/admin/assets/*", func(c *fiber.Ctx) error { return sendAsset(c, p.Admin, "assets/"+c.Params("*")) })
	app.Get("/favicon.ico", func(c *fiber.Ctx) error { return sendAsset(c, p.Admin, "favicon.svg") })
	app.Get("/admin/favicon.svg", func(c *fiber.Ctx) error { return sendAsset(c, p.Admin, "favicon.svg") })
}

// sendAsset answers with a file of fsys: its gzipped twin (NAME.gz, made by the build) when the
// browser takes gzip; hashed files under assets/ are cached for good, the rest revalidated.
func sendAsset(c *fiber.Ctx, fsys fs.FS, name string) error {
	name = path.Clean("/" + name)[1:]
	if name == "" || strings.HasSuffix(name, ".gz") || !fs.ValidPath(name) {
		return notFound(c, name)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	open := name
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		if _, err := fs.Stat(fsys, name+".gz"); err == nil {
			open = name + ".gz"
		}
	}
	f, err := fsys.Open(open)
	if err != nil {
		return notFound(c, name)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if open != name {
		c.Set(fiber.HeaderContentEncoding, "gzip")
	}
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	c.Set(fiber.HeaderContentType, ctype)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(name, "assets/") {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return c.Send(data)
}

func notFound(c *fiber.Ctx, name string) error {
	return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"status": 404, "error": "Not Found", "message": "no page " + name})
}
