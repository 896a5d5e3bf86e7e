package httpapi

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/privacy"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

// The refusals of the dashboards' and the stats API's middleware.
var (
	errUnauthenticated = errors.New("log in, or send an API token (Authorization: Bearer crumb_…)")
	errNoSiteAccess    = errors.New("no access to this site")
	errCSRF            = errors.New("missing or wrong CSRF token (X-CSRF-Token)")
	errShareNoProof    = errors.New("share links do not open the proof of consent")
)

// answer is how an error is answered: a status, a message, and a
// Retry-After in seconds when the client should retry.
type answer struct {
	code  int
	msg   string
	retry string
}

// statusOf maps an error to its answer; code 0 means the error is not the
// client's.
func statusOf(err error) answer {
	var (
		ie *ingest.Error
		qe *query.QueryError
		fe *fiber.Error
		te *auth.Throttled
	)
	switch {
	// Ingest and the visitor's own data.
	case errors.As(err, &ie):
		switch ie.Code {
		case ingest.Invalid:
			return answer{code: fiber.StatusBadRequest, msg: err.Error()}
		case ingest.Forbidden:
			return answer{code: fiber.StatusForbidden, msg: err.Error()}
		case ingest.Unavailable:
			return answer{code: fiber.StatusServiceUnavailable, msg: err.Error(), retry: "5"}
		}
	case errors.Is(err, privacy.ErrBadRequest):
		return answer{code: fiber.StatusBadRequest, msg: err.Error()}
	case errors.Is(err, privacy.ErrUnknownSite), errors.Is(err, privacy.ErrNotHeld):
		return answer{code: fiber.StatusForbidden, msg: err.Error()}
	case errors.Is(err, buffer.ErrFull), errors.Is(err, buffer.ErrClosed):
		return answer{code: fiber.StatusServiceUnavailable, msg: "busy, retry shortly", retry: "5"}

	// Statistics.
	case errors.As(err, &qe):
		return answer{code: fiber.StatusBadRequest, msg: qe.Error()}
	case errors.Is(err, report.ErrUnknownSite):
		return answer{code: fiber.StatusNotFound, msg: "unknown site"}
	case errors.Is(err, report.ErrNotFound):
		return answer{code: fiber.StatusNotFound, msg: "no decisions recorded under this consent ID"}
	case errors.Is(err, report.ErrUnknownBanner):
		return answer{code: fiber.StatusNotFound, msg: "no banner kept under this texts hash"}
	case errors.Is(err, report.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return answer{code: fiber.StatusServiceUnavailable, msg: report.ErrTimeout.Error(), retry: "10"}
	case errors.Is(err, report.ErrBusy):
		return answer{code: fiber.StatusServiceUnavailable, msg: report.ErrBusy.Error(), retry: "5"}
	case errors.Is(err, context.Canceled):
		return answer{code: 499, msg: "request canceled"}

	// Logins, sessions, tokens and share links.
	case errors.Is(err, errUnauthenticated), errors.Is(err, auth.ErrWrongLogin):
		return answer{code: fiber.StatusUnauthorized, msg: err.Error()}
	case errors.Is(err, errNoSiteAccess), errors.Is(err, errCSRF), errors.Is(err, errShareNoProof), errors.Is(err, errForeignOrigin),
		errors.Is(err, errCannotEdit), errors.Is(err, errDigestLogins):
		return answer{code: fiber.StatusForbidden, msg: err.Error()}
	case errors.As(err, &te):
		return answer{code: fiber.StatusTooManyRequests, msg: err.Error(), retry: strconv.Itoa(te.RetryAfter())}

	// Fiber's own: unknown routes, body limit, and the handlers' direct refusals.
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusNotFound:
			return answer{code: fe.Code, msg: "not found"}
		case fiber.StatusRequestEntityTooLarge:
			return answer{code: fe.Code, msg: "request body over the 64 KiB limit"}
		}
		return answer{code: fe.Code, msg: fe.Message}
	}
	return answer{}
}

// errorHandler answers every error as JSON {"error": "..."}; errors that are
// not the client's are logged and answered as "internal error" only.
func (h *handlers) errorHandler(c *fiber.Ctx, err error) error {
	a := statusOf(err)
	switch {
	case a.code == 0:
		h.Log.Error("request failed", "route", c.Route().Path, "method", c.Method(), "path", c.Path(), "err", err)
		a = answer{code: fiber.StatusInternalServerError, msg: "internal error"}
	case a.code == fiber.StatusRequestEntityTooLarge:
		h.Metrics.Drop("too_large", 1)
	}
	if a.retry != "" {
		c.Set(fiber.HeaderRetryAfter, a.retry)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(a.code).JSON(fiber.Map{"error": a.msg})
}
