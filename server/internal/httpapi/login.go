package httpapi

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
)

// sessionCookie is the name of the session cookie.
const sessionCookie = "crumb_session"

// principal returns the request's principal, looked up once per request:
// an API token (Authorization: Bearer), else the session cookie, else a
// share link (X-Crumb-Share or ?share=).
func (h *handlers) principal(c *fiber.Ctx) (*auth.Principal, error) {
	if p, ok := c.Locals("principal").(*auth.Principal); ok {
		return p, nil
	}
	share := c.Get("X-Crumb-Share")
	if share == "" {
		share = c.Query("share")
	}
	p := h.Auth.Identify(c.UserContext(), auth.Credentials{
		Authorization: c.Get(fiber.HeaderAuthorization), Session: c.Cookies(sessionCookie), Share: share,
	})
	if p == nil {
		return nil, errUnauthenticated
	}
	c.Locals("principal", p)
	return p, nil
}

// require is middleware: the request must be authenticated; cookie sessions
// must send the CSRF token with every write; share links may only read.
func (h *handlers) require(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		switch p.Kind {
		case auth.KindShare:
			return errNoSiteAccess
		case auth.KindSession:
			if !p.CSRFValid(c.Get("X-CSRF-Token")) {
				return errCSRF
			}
		}
	}
	return c.Next()
}

// siteAccess is middleware: the principal must be allowed to read the
// :site of the path.
func (h *handlers) siteAccess(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if !p.CanRead(c.Params("site")) {
		return errNoSiteAccess
	}
	return c.Next()
}

// shareLimit is middleware, after siteAccess: the stats requests of share
// links, which anyone holding the link may send, are limited per client
// address; logins and API tokens are not.
func (h *handlers) shareLimit() fiber.Handler {
	notShared := func(c *fiber.Ctx) bool {
		p, ok := c.Locals("principal").(*auth.Principal)
		return !ok || p.Kind != auth.KindShare
	}
	// Refusals show in crumb_http_requests_total{code="429"}.
	return h.perAddress(h.ShareRateLimit, "too many requests with a share link, retry in a minute", notShared, func() {})
}

// proofAccess is middleware, after siteAccess, for the proof of consent,
// which carries consent IDs: it is open to logins and API tokens of the
// site, never to share links.
func (h *handlers) proofAccess(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if p.Kind == auth.KindShare {
		return errShareNoProof
	}
	return c.Next()
}

// loginPage serves the login form.
func (h *handlers) loginPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(h.Dashboard.Login)
}

// login checks the form's e-mail and password, from the client address
// (behind --trusted-proxies, the one X-Forwarded-For names), and sets the
// session cookie. Browsers are redirected (to next when it is a path of
// this site, or back to the form with the error); clients that accept JSON
// get JSON.
func (h *handlers) login(c *fiber.Ctx) error {
	email, password, next := c.FormValue("email"), c.FormValue("password"), safeNext(c.FormValue("next"))
	wantsJSON := strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	cookie, err := h.Auth.Login(ctx, email, password, h.clientIP(c))
	if err != nil {
		if !wantsJSON && (errors.Is(err, auth.ErrWrongLogin) || errors.Is(err, auth.ErrTooManyAttempts)) {
			return c.Redirect("/login?error="+url.QueryEscape(err.Error())+"&next="+url.QueryEscape(next), fiber.StatusSeeOther)
		}
		return err
	}
	h.setSessionCookie(c, cookie)
	if wantsJSON {
		return c.JSON(fiber.Map{"status": "logged in"})
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// logout ends the session on every node and clears its cookie.
func (h *handlers) logout(c *fiber.Ctx) error {
	h.setSessionCookie(c, "")
	if cookie := c.Cookies(sessionCookie); cookie != "" {
		if err := h.Auth.Logout(c.UserContext(), cookie); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"status": "logged out"})
}

// setSessionCookie sets the session cookie, or clears it when value is
// empty: HttpOnly, SameSite=Strict, and Secure when the browser reached
// crumb over HTTPS.
func (h *handlers) setSessionCookie(c *fiber.Ctx, value string) {
	ck := &fiber.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: int(auth.SessionLifetime.Seconds()),
		HTTPOnly: true, Secure: h.servedOverHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode}
	if value == "" {
		ck.MaxAge, ck.Expires = 0, time.Unix(0, 0)
	}
	c.Cookie(ck)
}

// safeNext returns next when it is a path of this site, else /dashboard/:
// it must start with one slash and have no backslash, control character
// or white space, its path not even when percent-decoded, and parse with
// no scheme and no host.
func safeNext(next string) string {
	const home = "/dashboard/"
	path, _, _ := strings.Cut(next, "#")
	path, _, _ = strings.Cut(path, "?")
	decoded, err := url.PathUnescape(path)
	if err != nil || !localPath(next) || !localPath(decoded) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	return next
}

func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for _, r := range p {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
