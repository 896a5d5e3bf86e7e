package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/banner"
	"github.com/crumbhq/crumb/server/internal/ingest"
)

// request copies what the pipeline needs out of Fiber's reused buffers.
func (h *handlers) request(c *fiber.Ctx) *ingest.Request {
	return &ingest.Request{
		Body:      append([]byte(nil), c.Body()...),
		Origin:    c.Get(fiber.HeaderOrigin),
		UserAgent: string(c.Request().Header.UserAgent()),
		IP:        h.clientIP(c),
	}
}

func (h *handlers) events(c *fiber.Ctx) error {
	res, err := h.Pipeline.Events(c.UserContext(), h.request(c))
	if err != nil {
		return err
	}
	if res.Dropped != "" {
		c.Set("X-Crumb-Dropped", res.Dropped)
	}
	return c.Status(fiber.StatusAccepted).JSON(res)
}

func (h *handlers) consent(c *fiber.Ctx) error {
	res, err := h.Pipeline.Consent(c.UserContext(), h.request(c))
	if err != nil {
		return err
	}
	if res.Dropped != "" {
		c.Set("X-Crumb-Dropped", res.Dropped)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(res)
}

func (h *handlers) impression(c *fiber.Ctx) error {
	dropped, err := h.Pipeline.Impression(c.UserContext(), h.request(c))
	if err != nil {
		return err
	}
	if dropped != "" {
		c.Set("X-Crumb-Dropped", dropped)
	}
	return c.SendStatus(fiber.StatusAccepted)
}

func (h *handlers) getMe(c *fiber.Ctx) error {
	exp, err := h.Privacy.Export(c.UserContext(), c.Query("site"), c.Get("X-Crumb-Visitor"), c.Get("X-Crumb-Consent"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(exp)
}

func (h *handlers) deleteMe(c *fiber.Ctx) error {
	if err := h.Privacy.Erase(c.UserContext(), c.Query("site"), c.Get("X-Crumb-Visitor"), c.Get("X-Crumb-Consent")); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"status": "erasure scheduled"})
}

// siteConfig answers GET /api/sites/{site}/config: the banner's public
// configuration in the visitor's language (?lang=, else Accept-Language).
func (h *handlers) siteConfig(c *fiber.Ctx) error {
	site, ok := h.Sites.Get(c.UserContext(), c.Params("site"))
	if !ok {
		return fiber.NewError(fiber.StatusNotFound, "unknown site")
	}
	lang := c.Query("lang")
	if lang == "" {
		lang = c.Get(fiber.HeaderAcceptLanguage)
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	c.Set(fiber.HeaderVary, "Accept-Language, Origin")
	return c.JSON(banner.Resolve(site, lang))
}
