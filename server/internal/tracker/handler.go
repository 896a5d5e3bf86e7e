package tracker

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Mount serves the script at /t.js (revalidated every 5 minutes) and at
// /t/<version>.js (cached for a year, for pinning).
func (s *Script) Mount(app *fiber.App) {
	serve := func(c *fiber.Ctx, cache string) error {
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
	app.Get("/t.js", func(c *fiber.Ctx) error { return serve(c, "public, max-age=300") })
	app.Get("/t/:file", func(c *fiber.Ctx) error {
		if c.Params("file") != s.Version+".js" {
			return fiber.NewError(fiber.StatusNotFound, "no such script version; the current one is /t/"+s.Version+".js")
		}
		return serve(c, "public, max-age=31536000, immutable")
	})
}
