package httpapi

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/crumbhq/crumb/server/internal/banner"
	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/privacy"
)

// request copies what the pipeline needs out of Fiber's reused buffers.
func (h *handlers) request(c *fiber.Ctx) *ingest.Request {
	return &ingest.Request{
		Body:      append([]byte(nil), c.BodyRaw()...),
		Origin:    c.Get(fiber.HeaderOrigin),
		UserAgent: string(c.Request().Header.UserAgent()),
		IP:        h.clientIP(c),
		// Global Privacy Control as the browser sends it.
		SecGPC: string(c.Request().Header.Peek("Sec-GPC")) == "1",
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
	accepted := 1
	if dropped != "" {
		c.Set("X-Crumb-Dropped", dropped)
		accepted = 0
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"accepted": accepted})
}

// who is the visitor a /api/me request names.
func who(c *fiber.Ctx) privacy.Who {
	return privacy.Who{Site: c.Query("site"), Visitor: c.Get("X-Crumb-Visitor"), Consent: c.Get("X-Crumb-Consent"), ConsentKey: c.Get("X-Crumb-Consent-Key")}
}

func (h *handlers) getMe(c *fiber.Ctx) error {
	exp, err := h.Privacy.Export(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(exp)
}

func (h *handlers) deleteMe(c *fiber.Ctx) error {
	if err := h.Privacy.Erase(c.UserContext(), who(c)); err != nil {
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
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, X-Crumb-Visitor, X-Crumb-Consent, X-Crumb-Consent-Key")
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

// perAddress limits requests to max a minute per client address (none
// when max <= 0), answering 429 with msg and Retry-After past it; a
// request for which exempt is true is not counted, and refused is called
// on each refusal.
func (h *handlers) perAddress(max int, msg string, exempt func(*fiber.Ctx) bool, refused func()) fiber.Handler {
	if max <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:        max,
		Expiration: time.Minute,
		// The address is a key in this node's memory only, never stored.
		KeyGenerator: func(c *fiber.Ctx) string { return h.clientIP(c).String() },
		LimitReached: func(c *fiber.Ctx) error {
			refused()
			c.Set(fiber.HeaderRetryAfter, "60")
			return fiber.NewError(fiber.StatusTooManyRequests, msg)
		},
		Next: exempt,
	})
}

func preflight(c *fiber.Ctx) bool { return c.Method() == fiber.MethodOptions }

func (h *handlers) ingestRefused() { h.Metrics.Drop("rate_limited", 1) }

func (h *handlers) rateLimit() fiber.Handler {
	return h.perAddress(h.RateLimit, "too many requests, retry in a minute", preflight, h.ingestRefused)
}

// meLimit bounds the visitor's own-data requests (GET and DELETE /api/me)
// per address, apart from and below the ingest limit: each one reads or
// queues work in ClickHouse, and a visitor needs only a few.
func (h *handlers) meLimit() fiber.Handler {
	return h.perAddress(h.MeRateLimit, "too many requests for your own data, retry in a minute", preflight, h.ingestRefused)
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
