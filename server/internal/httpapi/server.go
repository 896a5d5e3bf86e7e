// Package httpapi is Crumb's HTTP edge: the Fiber app with the public ingest
// contract, the visitor's own-data endpoints, health, readiness and metrics.
// Errors from the layers below are mapped to status codes in one place.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/metrics"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/privacy"
)

// Sites finds configured sites.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
	// AnyAllowsHost reports whether host belongs to any site.
	AnyAllowsHost(host string) bool
}

// Deps are what the HTTP edge needs.
type Deps struct {
	Pipeline *ingest.Pipeline
	Privacy  *privacy.Service
	Sites    Sites
	Metrics  *metrics.Metrics
	// Ready reports whether the node can take traffic: ClickHouse reachable
	// and the buffer below its limit.
	Ready func(ctx context.Context) error
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is the most ingest requests one client address may make per
	// minute on this node; 0 disables the limit.
	RateLimit int
	Log       *slog.Logger
	// Mount adds further routes (the tracker script, the dashboards).
	Mount []func(app *fiber.App)
}

// New returns the Fiber app.
func New(d Deps) *fiber.App {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{Deps: d}
	app := fiber.New(fiber.Config{
		AppName:               "crumb",
		BodyLimit:             ingest.MaxBodyBytes,
		DisableStartupMessage: true,
		ErrorHandler:          h.errorHandler,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		d.Log.Error("panic in handler", "route", c.Route().Path, "panic", e)
	}}))
	app.Use(h.countRequests)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", h.readyz)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{})))

	api := app.Group("/api", h.cors)
	api.Get("/sites/:site/config", h.siteConfig)
	ingestRoutes := api.Group("", h.rateLimit())
	ingestRoutes.Post("/events", h.events)
	ingestRoutes.Post("/consent", h.consent)
	ingestRoutes.Post("/impressions", h.impression)
	ingestRoutes.Get("/me", h.getMe)
	ingestRoutes.Delete("/me", h.deleteMe)

	for _, m := range d.Mount {
		m(app)
	}
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app
}

type handlers struct {
	Deps
}

// countRequests counts every answer by route and status code.
func (h *handlers) countRequests(c *fiber.Ctx) error {
	err := c.Next()
	code := c.Response().StatusCode()
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			code = fe.Code
		} else if s := statusOf(err); s != 0 {
			code = s
		}
	}
	route := c.Route().Path
	if code == fiber.StatusNotFound {
		route = "unmatched"
	}
	h.Metrics.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	return err
}

func (h *handlers) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := h.Ready(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": err.Error()})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// cors answers cross-origin requests exactly: an Origin is allowed only
// when it is one of the sites' domains (the site named in the URL when there
// is one). The ingest pipeline checks the Origin against the body's site too.
func (h *handlers) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin != "" && h.originAllowed(c, origin) {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlExposeHeaders, "X-Crumb-Dropped, Retry-After")
	}
	c.Set(fiber.HeaderVary, fiber.HeaderOrigin)
	if c.Method() == fiber.MethodOptions {
		c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, DELETE, OPTIONS")
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, X-Crumb-Visitor, X-Crumb-Consent")
		c.Set(fiber.HeaderAccessControlMaxAge, "86400")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Next()
}

func (h *handlers) originAllowed(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	id := c.Query("site")
	if id == "" && strings.HasPrefix(c.Path(), "/api/sites/") {
		id = strings.SplitN(strings.TrimPrefix(c.Path(), "/api/sites/"), "/", 2)[0]
	}
	if id != "" {
		site, ok := h.Sites.Get(c.UserContext(), id)
		return ok && site.AllowsHost(host)
	}
	return h.Sites.AnyAllowsHost(host)
}

func (h *handlers) rateLimit() fiber.Handler {
	if h.RateLimit <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:        h.RateLimit,
		Expiration: time.Minute,
		// The address is a key in this node's memory only, never stored.
		KeyGenerator: func(c *fiber.Ctx) string { return h.clientIP(c).String() },
		LimitReached: func(c *fiber.Ctx) error {
			h.Metrics.Drop("rate_limited", 1)
			c.Set(fiber.HeaderRetryAfter, "60")
			return fiber.NewError(fiber.StatusTooManyRequests, "too many requests, retry in a minute")
		},
		Next: func(c *fiber.Ctx) bool { return c.Method() == fiber.MethodOptions },
	})
}

// clientIP is the address of the visitor: the peer, or — when the peer is a
// trusted proxy — the right-most address of X-Forwarded-For that is not a
// trusted proxy itself.
func (h *handlers) clientIP(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !h.trusted(peer) {
		return peer
	}
	xff := c.Get(fiber.HeaderXForwardedFor)
	for xff != "" {
		var part string
		if i := lastComma(xff); i >= 0 {
			part, xff = xff[i+1:], xff[:i]
		} else {
			part, xff = xff, ""
		}
		a, err := netip.ParseAddr(trimSpace(part))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !h.trusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func (h *handlers) trusted(a netip.Addr) bool {
	for _, p := range h.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func lastComma(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
