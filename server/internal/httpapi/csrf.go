package httpapi

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// errForeignOrigin refuses a state-changing request a browser sent from
// another site.
var errForeignOrigin = errors.New("cross-site request refused: Origin (or Sec-Fetch-Site) is not this dashboard's")

// sameOrigin is middleware against cross-site request forgery, login
// included: a POST, PUT, PATCH or DELETE must come from the dashboards'
// own origin. With an Origin header, it must be the --public-url's origin
// or the Host's; without one (or with "null"), Sec-Fetch-Site must say
// same-origin or none. A request with neither, which no current browser
// sends, passes only when it does not carry the session cookie (curl, API
// tokens). With cookieOnly, requests that do not authenticate with the
// session cookie are not checked at all (the stats API's tokens).
func (h *handlers) sameOrigin(cookieOnly bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		if cookieOnly && !usesSessionCookie(c) {
			return c.Next()
		}
		origin := c.Get(fiber.HeaderOrigin)
		if origin != "" && origin != "null" {
			if h.ownOrigin(c, origin) {
				return c.Next()
			}
			return errForeignOrigin
		}
		switch c.Get("Sec-Fetch-Site") {
		case "same-origin", "none":
			return c.Next()
		case "":
			if origin == "" && !usesSessionCookie(c) {
				return c.Next()
			}
		}
		return errForeignOrigin
	}
}

// usesSessionCookie reports whether the request authenticates with the
// session cookie: it carries one and no API token (which would win).
func usesSessionCookie(c *fiber.Ctx) bool {
	return c.Cookies(sessionCookie) != "" && !strings.HasPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
}

// ownOrigin reports whether origin is the public URL's or the Host's.
func (h *handlers) ownOrigin(c *fiber.Ctx, origin string) bool {
	o := originOf(origin)
	if o == "" {
		return false
	}
	if o == h.publicOrigin {
		return true
	}
	host := stripPort(strings.ToLower(string(c.Request().Header.Host())), ":80", ":443")
	_, oHost, _ := strings.Cut(o, "://")
	return host != "" && oHost == host
}

// originOf returns the scheme://host[:port] of an http or https URL, in
// lower case and without its scheme's default port, or "".
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	port := ":80"
	if u.Scheme == "https" {
		port = ":443"
	}
	return u.Scheme + "://" + stripPort(strings.ToLower(u.Host), port)
}

func stripPort(host string, ports ...string) string {
	for _, p := range ports {
		host = strings.TrimSuffix(host, p)
	}
	return host
}
