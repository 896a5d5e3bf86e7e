package httpapi

import (
	"bytes"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// script serves t.js, revalidated every 5 minutes.
func (h *handlers) script(c *fiber.Ctx) error { return h.serveScript(c, "public, max-age=300") }

// pinnedScript serves t.js at /t/<version>.js, cached for a year, for
// pinning.
func (h *handlers) pinnedScript(c *fiber.Ctx) error {
	if c.Params("file") != h.Script.Version+".js" {
		return fiber.NewError(fiber.StatusNotFound, "no such script version; the current one is /t/"+h.Script.Version+".js")
	}
	return h.serveScript(c, "public, max-age=31536000, immutable")
}

func (h *handlers) serveScript(c *fiber.Ctx, cache string) error {
	s := h.Script
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, cache)
	c.Set(fiber.HeaderETag, s.ETag())
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	c.Set("X-Crumb-Version", s.Version)
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, s.ETag()) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(s.Gzipped)
	}
	return c.Send(s.JS)
}

// demo serves the demo pages of Demo at /demo/, with {{SITE}} replaced by
// the demo site's ID and {{VERSION}} by the script's.
func (h *handlers) demo(c *fiber.Ctx) error {
	if c.Path() == "/demo" {
		return c.Redirect("/demo/", fiber.StatusMovedPermanently)
	}
	name := strings.TrimPrefix(path.Clean("/"+c.Params("*")), "/")
	if name == "" || strings.HasSuffix(c.Path(), "/") {
		name = path.Join(name, "index.html")
	}
	data, err := fs.ReadFile(h.Demo, path.Join("demo", name))
	if err != nil {
		return fiber.NewError(fiber.StatusNotFound, "no such demo page")
	}
	if strings.HasSuffix(name, ".html") {
		d, ok := h.Sites.Demo()
		if !ok {
			return fiber.NewError(fiber.StatusNotFound, "no demo site: run crumb serve --demo")
		}
		data = bytes.ReplaceAll(data, []byte("{{SITE}}"), []byte(d.ID))
		data = bytes.ReplaceAll(data, []byte("{{VERSION}}"), []byte(h.Script.Version))
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		c.Set(fiber.HeaderContentType, ct)
	}
	return c.Send(data)
}
