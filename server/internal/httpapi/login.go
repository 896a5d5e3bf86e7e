package httpapi

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

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

// login checks the form's e-mail and password and sets the session cookie.
// Browsers are redirected (to next, or back to the form with the error);
// clients that accept JSON get JSON.
func (h *handlers) login(c *fiber.Ctx) error {
	email, password, next := c.FormValue("email"), c.FormValue("password"), c.FormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/dashboard/"
	}
	wantsJSON := strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	cookie, err := h.Auth.Login(ctx, email, password, c.IP())
	if err != nil {
		if errors.Is(err, auth.ErrWrongLogin) && !wantsJSON {
			return c.Redirect("/login?error="+url.QueryEscape(err.Error())+"&next="+url.QueryEscape(next), fiber.StatusSeeOther)
		}
		return err
	}
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: cookie, Path: "/", MaxAge: int(auth.SessionLifetime.Seconds()),
		HTTPOnly: true, Secure: h.SecureCookies, SameSite: "Strict"})
	if wantsJSON {
		return c.JSON(fiber.Map{"status": "logged in"})
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// logout clears the session cookie.
func (h *handlers) logout(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: true, Secure: h.SecureCookies, SameSite: "Strict"})
	return c.JSON(fiber.Map{"status": "logged out"})
}
