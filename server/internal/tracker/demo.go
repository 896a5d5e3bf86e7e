package tracker

import (
	"bytes"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/model"
)

// DemoSite finds the site the demo pages report to.
type DemoSite func() (*model.Site, bool)

// MountDemo serves the demo pages of fsys (a folder "demo") at /demo/, with
// {{SITE}} replaced by the demo site's ID and {{VERSION}} by the script's.
func (s *Script) MountDemo(app *fiber.App, fsys fs.FS, site DemoSite) {
	app.Get("/demo/*", func(c *fiber.Ctx) error {
		if c.Path() == "/demo" {
			return c.Redirect("/demo/", fiber.StatusMovedPermanently)
		}
		name := strings.TrimPrefix(path.Clean("/"+c.Params("*")), "/")
		if name == "" || strings.HasSuffix(c.Path(), "/") {
			name = path.Join(name, "index.html")
		}
		data, err := fs.ReadFile(fsys, path.Join("demo", name))
		if err != nil {
			return fiber.NewError(fiber.StatusNotFound, "no such demo page")
		}
		if strings.HasSuffix(name, ".html") {
			d, ok := site()
			if !ok {
				return fiber.NewError(fiber.StatusNotFound, "no demo site: run crumb serve --demo")
			}
			data = bytes.ReplaceAll(data, []byte("{{SITE}}"), []byte(d.ID))
			data = bytes.ReplaceAll(data, []byte("{{VERSION}}"), []byte(s.Version))
			c.Set(fiber.HeaderCacheControl, "no-cache")
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			c.Set(fiber.HeaderContentType, ct)
		}
		return c.Send(data)
	})
}
