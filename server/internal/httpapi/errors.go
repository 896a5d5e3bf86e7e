package httpapi

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/privacy"
)

// statusOf maps an error from the layers below to an HTTP status; 0 means
// it is not a client error.
func statusOf(err error) int {
	var ie *ingest.Error
	switch {
	case errors.As(err, &ie):
		switch ie.Code {
		case ingest.Invalid:
			return fiber.StatusBadRequest
		case ingest.Forbidden:
			return fiber.StatusForbidden
		case ingest.Unavailable:
			return fiber.StatusServiceUnavailable
		}
	case errors.Is(err, privacy.ErrBadRequest):
		return fiber.StatusBadRequest
	case errors.Is(err, privacy.ErrUnknownSite):
		return fiber.StatusForbidden
	}
	return 0
}

// errorHandler answers every error as JSON {"error": "..."}; errors that are
// not the client's are logged and answered as "internal error" only.
func (h *handlers) errorHandler(c *fiber.Ctx, err error) error {
	code := statusOf(err)
	msg := err.Error()
	var fe *fiber.Error
	switch {
	case code != 0:
		if code == fiber.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "5")
		}
	case errors.As(err, &fe):
		code = fe.Code
		switch code {
		case fiber.StatusRequestEntityTooLarge:
			msg = "request body over the 64 KiB limit"
			h.Metrics.Drop("too_large", 1)
		case fiber.StatusNotFound:
			msg = "not found"
		}
	default:
		code = fiber.StatusInternalServerError
		h.Log.Error("request failed", "route", c.Route().Path, "method", c.Method(), "err", err)
		msg = "internal error"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(fiber.Map{"error": msg})
}
