package httpapi

import (
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// securityHeaders are sent with every dashboard page: no inline scripts or
// styles, no framing, no referrer leaving the site. (Referrer-Policy
// same-origin rather than no-referrer: under no-referrer browsers send the
// dashboards' own writes with Origin: null.)
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Frame-Options", "DENY")
	return c.Next()
}

// uiFile serves the dashboard's bundled assets at /ui/.
func (h *handlers) uiFile(c *fiber.Ctx) error {
	f, ok := h.Dashboard.Files[c.Params("file")]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, f.ContentType)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(f.Body)
}

// dashboardPage serves the single-page app at every path under /dashboard/.
func (h *handlers) dashboardPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(h.Dashboard.Index)
}

// share sends a share link's visitor to the dashboard.
func (h *handlers) share(c *fiber.Ctx) error {
	return c.Redirect("/dashboard/?share="+url.QueryEscape(c.Params("id")), fiber.StatusSeeOther)
}

// sessionInfo is what the app learns about its user.
type sessionInfo struct {
	Email string     `json:"email,omitempty"`
	Role  string     `json:"role,omitempty"`
	Kind  string     `json:"kind"`
	CSRF  string     `json:"csrf,omitempty"`
	Sites []siteInfo `json:"sites"`
}

// siteInfo is one site the user may read.
type siteInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain string `json:"domain"`
}

// session answers GET /dashboard/api/session: who the user is, the CSRF
// token of a login, and the sites the user may read.
func (h *handlers) session(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	info := sessionInfo{Email: p.Email, Role: p.Role, Kind: string(p.Kind), CSRF: p.CSRF, Sites: []siteInfo{}}
	for _, s := range h.Sites.All() {
		if p.CanRead(s.ID) {
			info.Sites = append(info.Sites, siteInfo{ID: s.ID, Name: s.Name, Domain: s.Domain})
		}
	}
	sort.Slice(info.Sites, func(i, j int) bool {
		a, b := info.Sites[i], info.Sites[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID < b.ID
	})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(info)
}

// requirePage is require for pages: without credentials the answer is 401
// with a page that sends the browser to the login.
func (h *handlers) requirePage(c *fiber.Ctx) error {
	if _, err := h.principal(c); err != nil {
		if strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			next := url.QueryEscape(c.OriginalURL())
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			c.Set("Refresh", "0; url=/login?next="+next)
			return c.Status(fiber.StatusUnauthorized).SendString(`<!doctype html><title>Log in</title><link rel="icon" href="data:,"><p><a href="/login?next=` + next + `">Log in</a> to see the dashboards.</p>`)
		}
		return err
	}
	return h.require(c)
}
