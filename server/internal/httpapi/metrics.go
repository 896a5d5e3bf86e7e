package httpapi

import (
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crumbhq/crumb/server/internal/metrics"
)

// errMetricsToken refuses a scrape without the metrics token.
var errMetricsToken = fiber.NewError(fiber.StatusUnauthorized, "send the metrics token (Authorization: Bearer TOKEN)")

// NewMetrics returns the app of the metrics listener, apart from the public
// one: GET /metrics in Prometheus text format, and nothing else. With a
// token, a scrape must send it as a bearer token.
func NewMetrics(m *metrics.Metrics, token string, log *slog.Logger) *fiber.App {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	app := fiber.New(fiber.Config{
		AppName:               "crumb metrics",
		BodyLimit:             4 << 10,
		DisableStartupMessage: true,
		ErrorHandler:          metricsError(log),
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	app.Use(recover.New())
	app.Get("/metrics", bearer(token), adaptor.HTTPHandler(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})))
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app
}

// bearer refuses requests without token as their bearer token; an empty
// token lets every request through.
func bearer(token string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if token == "" {
			return c.Next()
		}
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
			return errMetricsToken
		}
		return c.Next()
	}
}

// metricsError answers errors as JSON {"error": "..."}, as the public app
// does.
func metricsError(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		a := statusOf(err)
		if a.code == 0 {
			log.Error("metrics request failed", "path", c.Path(), "err", err)
			a = answer{code: fiber.StatusInternalServerError, msg: "internal error"}
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(a.code).JSON(fiber.Map{"error": a.msg})
	}
}
