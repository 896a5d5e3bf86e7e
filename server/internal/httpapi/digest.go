package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

var errDigestLogins = errors.New("e-mail digests are for dashboard logins; an operator adds other addresses with crumb report subscribe")

// unsubscribePage is the page of an unsubscribe link: GET asks, POST
// (the button, or a mail client's one-click List-Unsubscribe-Post) does it.
var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe · Crumb</title><link rel="stylesheet" href="/ui/app.css"></head>
<body class="login"><main class="login-card">
<h1><span class="logo" aria-hidden="true"></span>Crumb</h1>
{{if .Unknown}}<p>This unsubscribe link is not valid (any more). Nothing was changed.</p>
{{else if .Done}}<p role="status">Done: <strong>{{.Address}}</strong> gets no more digests of <strong>{{.Site}}</strong>.</p>
<p class="fine">Changed your mind? Subscribe again in the dashboard, or ask the site's operator.</p>
{{else}}<p>Stop the e-mail digests of <strong>{{.Site}}</strong> to <strong>{{.Address}}</strong>?</p>
<form method="post"><button type="submit" class="primary">Unsubscribe</button></form>
{{end}}</main></body></html>`))

type unsubscribeView struct {
	Unknown, Done bool
	Site, Address string
}

// unsubscribe serves /unsubscribe/:token, which works without logging in.
func (h *handlers) unsubscribe(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Referrer-Policy", "no-referrer")
	token := strings.Clone(c.Params("token"))
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	var v unsubscribeView
	if h.Notify == nil {
		v.Unknown = true
	} else if c.Method() == fiber.MethodPost {
		r, ok, err := h.Notify.Unsubscribe(ctx, token)
		if err != nil {
			return err
		}
		v = unsubscribeView{Unknown: !ok, Done: ok, Address: r.Address, Site: h.siteName(ctx, r.SiteID)}
	} else {
		r, ok, err := h.Notify.Recipient(ctx, token)
		if err != nil {
			return err
		}
		v = unsubscribeView{Unknown: !ok, Done: ok && r.Unsubscribed, Address: r.Address, Site: h.siteName(ctx, r.SiteID)}
	}
	if v.Unknown {
		c.Status(fiber.StatusNotFound)
	}
	var b strings.Builder
	if err := unsubscribePage.Execute(&b, v); err != nil {
		return err
	}
	return c.SendString(b.String())
}

func (h *handlers) siteName(ctx context.Context, id string) string {
	if s, ok := h.Sites.Get(ctx, id); ok {
		if s.Name != "" {
			return s.Name
		}
		return s.Domain
	}
	return id
}

// digestSettings is a login's digest of one site.
type digestSettings struct {
	Email string `json:"email"`
	Every string `json:"every"` // week, month or ""
	Mail  bool   `json:"mail"`  // whether this server can send e-mail
}

// digest answers GET and PUT /api/v1/sites/:site/digest for the logged-in
// user: {"every":"week"|"month"|""}.
func (h *handlers) digest(c *fiber.Ctx) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if p.Kind != auth.KindSession || h.Notify == nil {
		return errDigestLogins
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	site := site(c)
	if _, ok := h.Sites.Get(ctx, site); !ok {
		return fiber.ErrNotFound
	}
	out := digestSettings{Email: p.Email, Mail: h.Notify.Mailer != nil}
	if c.Method() == fiber.MethodPut {
		var body struct {
			Every *string `json:"every"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil || body.Every == nil {
			return &query.QueryError{Param: "every", Msg: `send {"every":"week"}, "month" or ""`}
		}
		if *body.Every != "" && *body.Every != "week" && *body.Every != "month" {
			return &query.QueryError{Param: "every", Msg: "must be week, month or empty"}
		}
		r, err := h.Notify.Subscribe(ctx, site, p.Email, *body.Every, "dashboard")
		if err != nil {
			return err
		}
		out.Every = r.Every
	} else {
		r, ok, err := h.Notify.RecipientOf(ctx, site, p.Email)
		if err != nil {
			return err
		}
		if ok && !r.Unsubscribed {
			out.Every = r.Every
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}
