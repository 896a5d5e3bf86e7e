// Package dashboard serves the dashboard UI and its login: the login and
// logout routes, the single-page app at /dashboard/ (for logged-in users and
// share links), its bundled assets at /ui/, and the session endpoint the app
// reads its CSRF token and sites from.
package dashboard

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/bundle"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/webauth"
)

// Sites lists the configured sites.
type Sites interface {
	All() []*model.Site
}

// Dashboard is the built UI.
type Dashboard struct {
	auth   *webauth.Auth
	sites  Sites
	secure bool
	index  []byte
	login  []byte
	assets map[string]asset
}

type asset struct {
	body        []byte
	contentType string
}

// New bundles the UI from web (the dashboards/web folder).
func New(web fs.FS, a *webauth.Auth, sites Sites, secure bool) (*Dashboard, error) {
	d := &Dashboard{auth: a, sites: sites, secure: secure, assets: map[string]asset{}}
	var err error
	if d.index, err = fs.ReadFile(web, "web/index.html"); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if d.login, err = fs.ReadFile(web, "web/login.html"); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	for name, entry := range map[string]string{"app.js": "web/src/app.js", "login.js": "web/src/login.js"} {
		js, err := bundle.JS(web, entry)
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		d.assets[name] = asset{js, "text/javascript; charset=utf-8"}
	}
	var css strings.Builder
	for _, f := range []string{"web/vendor/uplot/uPlot.min.css", "web/src/app.css"} {
		b, err := fs.ReadFile(web, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		css.Write(b)
		css.WriteByte('\n')
	}
	min, err := bundle.CSS(css.String())
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d.assets["app.css"] = asset{[]byte(min), "text/css; charset=utf-8"}
	return d, nil
}

// securityHeaders are sent with every dashboard page: no inline scripts or
// styles, no framing, no referrer leaks.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	return c.Next()
}

// Mount adds the routes. api is mounted under /api/v1 behind authentication.
func (d *Dashboard) Mount(app *fiber.App, api func(fiber.Router)) {
	app.Get("/ui/:file", securityHeaders, func(c *fiber.Ctx) error {
		a, ok := d.assets[c.Params("file")]
		if !ok {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(a.body)
	})
	app.Get("/login", securityHeaders, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(d.login)
	})
	app.Post("/login", securityHeaders, d.postLogin)
	app.Post("/logout", securityHeaders, d.auth.Require, func(c *fiber.Ctx) error {
		c.Cookie(&fiber.Cookie{Name: webauth.SessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: true, Secure: d.secure, SameSite: "Strict"})
		return c.JSON(fiber.Map{"status": "logged out"})
	})
	app.Get("/share/:id", securityHeaders, func(c *fiber.Ctx) error {
		return c.Redirect("/dashboard/?share="+url.QueryEscape(c.Params("id")), fiber.StatusSeeOther)
	})

	dash := app.Group("/dashboard", securityHeaders, d.requirePage)
	dash.Get("/api/session", d.session)
	dash.Get("/*", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Send(d.index)
	})
	v1 := app.Group("/api/v1", securityHeaders, d.auth.Require)
	if api != nil {
		api(v1)
	}
}

// requirePage is Require for pages: without credentials the answer is 401
// with a page that sends the browser to the login.
func (d *Dashboard) requirePage(c *fiber.Ctx) error {
	if _, err := d.auth.Identify(c); err != nil {
		if strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			next := url.QueryEscape(c.OriginalURL())
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			c.Set("Refresh", "0; url=/login?next="+next)
			return c.Status(fiber.StatusUnauthorized).SendString(`<!doctype html><title>Log in</title><link rel="icon" href="data:,"><p><a href="/login?next=` + next + `">Log in</a> to see the dashboards.</p>`)
		}
		return err
	}
	return d.auth.Require(c)
}

func (d *Dashboard) postLogin(c *fiber.Ctx) error {
	email, password, next := c.FormValue("email"), c.FormValue("password"), c.FormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/dashboard/"
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	cookie, err := d.auth.Login(ctx, email, password, c.IP())
	if err != nil {
		if fe, ok := err.(*fiber.Error); ok {
			return fe
		}
		if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") {
			return fiber.NewError(fiber.StatusUnauthorized, err.Error())
		}
		return c.Redirect("/login?error="+url.QueryEscape(err.Error())+"&next="+url.QueryEscape(next), fiber.StatusSeeOther)
	}
	c.Cookie(&fiber.Cookie{Name: webauth.SessionCookie, Value: cookie, Path: "/", MaxAge: int(webauth.SessionLifetime.Seconds()),
		HTTPOnly: true, Secure: d.secure, SameSite: "Strict"})
	if strings.Contains(c.Get(fiber.HeaderAccept), "application/json") {
		return c.JSON(fiber.Map{"status": "logged in"})
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// SessionInfo is what the app learns about its user.
type SessionInfo struct {
	Email string     `json:"email,omitempty"`
	Role  string     `json:"role,omitempty"`
	Kind  string     `json:"kind"`
	CSRF  string     `json:"csrf,omitempty"`
	Sites []SiteInfo `json:"sites"`
}

// SiteInfo is one site the user may read.
type SiteInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain string `json:"domain"`
}

func (d *Dashboard) session(c *fiber.Ctx) error {
	p, err := d.auth.Identify(c)
	if err != nil {
		return err
	}
	info := SessionInfo{Email: p.Email, Role: p.Role, Kind: string(p.Kind), CSRF: p.CSRF, Sites: []SiteInfo{}}
	for _, s := range d.sites.All() {
		if p.CanRead(s.ID) {
			info.Sites = append(info.Sites, SiteInfo{ID: s.ID, Name: s.Name, Domain: s.Domain})
		}
	}
	sort.Slice(info.Sites, func(i, j int) bool {
		a, b := info.Sites[i], info.Sites[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID < b.ID
	})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(info)
}
