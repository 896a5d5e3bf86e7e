// Package statsapi is the stats HTTP API: Fiber handlers under
// /api/v1/stats/ that expose every metric and breakdown of package report
// as JSON, or as CSV with format=csv (the same numbers). Access is decided
// by an Authorizer that the caller provides (API tokens, dashboard
// sessions, share links); this package only asks it.
//
// Routes (all GET; SITE is a site ID; the query parameters of
// query.ParseQuery apply to every route but realtime and proof):
//
//	/api/v1/stats/SITE/overview                  headline metrics (compare=previous_period adds the previous period)
//	/api/v1/stats/SITE/timeseries                metrics per interval bucket (metrics=visitors,pageviews,…)
//	/api/v1/stats/SITE/breakdown/DIMENSION       rows per value (limit, page; event and property for event_prop)
//	/api/v1/stats/SITE/paths?page=/x             previous and next pages of /x (limit)
//	/api/v1/stats/SITE/realtime                  visitors and pages of the last 5 minutes (limit)
//	/api/v1/stats/SITE/consent/overview          impressions, decisions, opt-in rates, GPC, coverage
//	/api/v1/stats/SITE/consent/timeseries        the same per bucket
//	/api/v1/stats/SITE/consent/breakdown/DIM     by country, device, page, policy_version or language
//	/api/v1/stats/SITE/consent/cookies           undeclared cookies seen before consent (by=cookie|page, limit)
//	/api/v1/stats/SITE/proof/CONSENT_ID          one consent ID's decisions (proof of consent)
//	/api/v1/stats/SITE/proof/export?from=&to=    every decision of a date range (format=json|csv), streamed
//
// Errors are JSON {"error": "..."}: 400 for bad input, 401/403 from the
// Authorizer, 404 for an unknown site or consent ID, 503 when ClickHouse
// stopped a query at its time limit, 500 (logged, "internal error") else.
package statsapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// Authorizer decides who may read a site's statistics. Return nil to
// allow; a *fiber.Error to answer with its status and message (401, 403,
// 404…); any other error answers 403.
type Authorizer interface {
	// SiteAccess allows reading the site's aggregate statistics
	// (dashboard users, API tokens and public share links of the site).
	SiteAccess(c *fiber.Ctx, site string) error
	// ProofAccess allows reading the site's proof of consent, which
	// holds consent IDs (the site's owners; never a share link).
	ProofAccess(c *fiber.Ctx, site string) error
}

// AuthorizerFuncs adapts two functions to an Authorizer.
type AuthorizerFuncs struct {
	Site, Proof func(c *fiber.Ctx, site string) error
}

// SiteAccess calls Site.
func (a AuthorizerFuncs) SiteAccess(c *fiber.Ctx, site string) error { return a.Site(c, site) }

// ProofAccess calls Proof.
func (a AuthorizerFuncs) ProofAccess(c *fiber.Ctx, site string) error { return a.Proof(c, site) }

// Options tune the API; the zero value is the default.
type Options struct {
	// Timeout bounds one request (default 30 s); the report service's
	// max_execution_time bounds each query on the server.
	Timeout time.Duration
	// ExportTimeout bounds a proof export (default 10 min).
	ExportTimeout time.Duration
	// Now is the clock that relative periods (7d, 30d…) count from.
	Now func() time.Time
	Log *slog.Logger
}

// API is the stats API.
type API struct {
	svc  *report.Service
	auth Authorizer
	opts Options
}

// Prefix is where Mount puts the routes.
const Prefix = "/api/v1/stats"

// New returns the API over a report service, asking auth before each
// request.
func New(svc *report.Service, auth Authorizer, opts Options) *API {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, auth: auth, opts: opts}
}

// Mount adds the routes under /api/v1/stats to app.
func (a *API) Mount(app *fiber.App) { a.Routes(app.Group(Prefix)) }

// Routes adds the routes to r (a group at /api/v1/stats).
func (a *API) Routes(r fiber.Router) {
	g := r.Group("/:site", a.siteAccess)
	g.Get("/overview", a.handle(a.overview))
	g.Get("/timeseries", a.handle(a.timeseries))
	g.Get("/breakdown/:dimension", a.handle(a.breakdown))
	g.Get("/paths", a.handle(a.paths))
	g.Get("/realtime", a.handle(a.realtime))
	g.Get("/consent/overview", a.handle(a.consentOverview))
	g.Get("/consent/timeseries", a.handle(a.consentTimeseries))
	g.Get("/consent/breakdown/:dimension", a.handle(a.consentBreakdown))
	g.Get("/consent/cookies", a.handle(a.cookies))
	p := g.Group("/proof", a.proofAccess)
	p.Get("/export", a.export)
	p.Get("/:consent_id", a.handle(a.proof))
	g.Use(func(c *fiber.Ctx) error { return a.fail(c, fiber.ErrNotFound) })
}

// siteAccess asks the Authorizer before every route of a site.
func (a *API) siteAccess(c *fiber.Ctx) error {
	if err := a.auth.SiteAccess(c, site(c)); err != nil {
		return a.denied(c, err)
	}
	return c.Next()
}

func (a *API) proofAccess(c *fiber.Ctx) error {
	if err := a.auth.ProofAccess(c, site(c)); err != nil {
		return a.denied(c, err)
	}
	return c.Next()
}

func (a *API) denied(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return a.fail(c, fe)
	}
	return a.fail(c, fiber.NewError(fiber.StatusForbidden, "forbidden"))
}

// site is the :site parameter, copied out of Fiber's reused memory.
func site(c *fiber.Ctx) string { return strings.Clone(c.Params("site")) }

// values returns the query string as url.Values (repeated parameters
// kept), with the site set from the path.
func values(c *fiber.Ctx) (url.Values, error) {
	v, err := url.ParseQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return nil, &query.QueryError{Msg: "malformed query string"}
	}
	v.Set("site", site(c))
	return v, nil
}

// answer is what a handler computed; nil for an empty answer.
type answer interface{ result.Tabler }

type handler func(ctx context.Context, c *fiber.Ctx, v url.Values) (answer, string, error)

// handle runs h with a deadline and writes its answer as JSON or CSV.
func (a *API) handle(h handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := values(c)
		if err != nil {
			return a.fail(c, err)
		}
		format := v.Get("format")
		if format != "" && format != "json" && format != "csv" {
			return a.fail(c, &query.QueryError{Param: "format", Msg: "must be json or csv"})
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), a.opts.Timeout)
		defer cancel()
		res, name, err := h(ctx, c, v)
		if err != nil {
			return a.fail(c, err)
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if format == "csv" {
			return writeCSV(c, name, res.Table())
		}
		body, err := json.Marshal(res)
		if err != nil {
			return a.fail(c, err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(body)
	}
}

// fail answers err as JSON with its status; internal errors are logged
// and answered without details.
func (a *API) fail(c *fiber.Ctx, err error) error {
	code, msg := fiber.StatusInternalServerError, "internal error"
	var qe *query.QueryError
	var fe *fiber.Error
	switch {
	case errors.As(err, &qe):
		code, msg = fiber.StatusBadRequest, qe.Error()
	case errors.As(err, &fe):
		code, msg = fe.Code, fe.Message
		if code == fiber.StatusNotFound {
			msg = "not found"
		}
	case errors.Is(err, report.ErrUnknownSite):
		code, msg = fiber.StatusNotFound, "unknown site"
	case errors.Is(err, report.ErrNotFound):
		code, msg = fiber.StatusNotFound, "no decisions recorded under this consent ID"
	case errors.Is(err, report.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code, msg = fiber.StatusServiceUnavailable, report.ErrTimeout.Error()
		c.Set(fiber.HeaderRetryAfter, "10")
	case errors.Is(err, context.Canceled):
		code, msg = 499, "request canceled"
	default:
		a.opts.Log.Error("stats request failed", "path", c.Path(), "err", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(code).JSON(fiber.Map{"error": msg})
}

// writeCSV writes t as CSV; name becomes the download's file name.
func writeCSV(c *fiber.Ctx, name string, t result.Table) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(t.Header)
	rec := make([]string, 0, len(t.Header))
	for _, row := range t.Rows {
		rec = rec[:0]
		for _, cell := range row {
			rec = append(rec, Cell(cell))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return c.SendString(b.String())
}

// Cell formats one CSV cell: numbers exactly as JSON writes them, text
// that a spreadsheet would run as a formula prefixed with a quote.
func Cell(v any) string {
	switch x := v.(type) {
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x
		}
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// formatFloat is encoding/json's float64 format.
func formatFloat(f float64) string {
	abs := math.Abs(f)
	fmtByte := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtByte = 'e'
	}
	s := strconv.FormatFloat(f, fmtByte, -1, 64)
	if fmtByte == 'e' {
		n := len(s)
		if n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	return s
}

// fileName is SITE-what-FROM-TO.
func fileName(site, what string, q query.Query) string {
	return safeName(site) + "-" + what + "-" + q.From.Format("2006-01-02") + "-" + q.To.Format("2006-01-02")
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (a *API) query(v url.Values) (query.Query, error) {
	return query.ParseQuery(v, a.opts.Now())
}

func (a *API) overview(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.Overview(ctx, q)
	return r, fileName(q.Site, "overview", q), err
}

func (a *API) timeseries(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	var names []string
	if m := v.Get("metrics"); m != "" {
		names = strings.Split(m, ",")
	}
	ms, err := query.ParseMetrics(names)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.Timeseries(ctx, q, ms)
	return r, fileName(q.Site, "timeseries", q), err
}

func (a *API) breakdown(ctx context.Context, c *fiber.Ctx, v url.Values) (answer, string, error) {
	dim, err := query.ParseDimension(strings.Clone(c.Params("dimension")))
	if err != nil {
		return nil, "", err
	}
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	page, err := query.ParsePage(v)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.Breakdown(ctx, q, dim, report.BreakdownOptions{Page: page, Event: v.Get("event"), Property: v.Get("property")})
	return r, fileName(q.Site, string(dim), q), err
}

func limit(v url.Values, def int) (int, error) {
	s := v.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > query.MaxLimit {
		return 0, &query.QueryError{Param: "limit", Msg: fmt.Sprintf("must be 1 to %d", query.MaxLimit)}
	}
	return n, nil
}

func (a *API) paths(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	n, err := limit(v, query.DefaultLimit)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.Paths(ctx, q, v.Get("page"), n)
	return r, fileName(q.Site, "paths", q), err
}

func (a *API) realtime(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	n, err := limit(v, query.DefaultLimit)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.Realtime(ctx, v.Get("site"), n)
	return r, safeName(v.Get("site")) + "-realtime", err
}

func (a *API) consentOverview(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.ConsentOverview(ctx, q)
	return r, fileName(q.Site, "consent", q), err
}

func (a *API) consentTimeseries(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.ConsentTimeseries(ctx, q)
	return r, fileName(q.Site, "consent-timeseries", q), err
}

func (a *API) consentBreakdown(ctx context.Context, c *fiber.Ctx, v url.Values) (answer, string, error) {
	dim, err := query.ParseConsentDimension(strings.Clone(c.Params("dimension")))
	if err != nil {
		return nil, "", err
	}
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	page, err := query.ParsePage(v)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.ConsentBreakdown(ctx, q, dim, page)
	return r, fileName(q.Site, "consent-"+string(dim), q), err
}

func (a *API) cookies(ctx context.Context, _ *fiber.Ctx, v url.Values) (answer, string, error) {
	q, err := a.query(v)
	if err != nil {
		return nil, "", err
	}
	by := v.Get("by")
	if by != "" && by != "cookie" && by != "page" {
		return nil, "", &query.QueryError{Param: "by", Msg: "must be cookie or page"}
	}
	n, err := limit(v, 100)
	if err != nil {
		return nil, "", err
	}
	r, err := a.svc.UndeclaredCookies(ctx, q, by == "page", n)
	return r, fileName(q.Site, "undeclared-cookies", q), err
}

func (a *API) proof(ctx context.Context, c *fiber.Ctx, v url.Values) (answer, string, error) {
	id := strings.Clone(c.Params("consent_id"))
	r, err := a.svc.ConsentHistory(ctx, v.Get("site"), id)
	return r, safeName(v.Get("site")) + "-consent-" + safeName(id), err
}

// export streams every decision of a date range as CSV or JSON. Input is
// checked before the first byte; an error while streaming ends the body
// early (the JSON is then incomplete) and is logged.
func (a *API) export(c *fiber.Ctx) error {
	v, err := values(c)
	if err != nil {
		return a.fail(c, err)
	}
	format := v.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return a.fail(c, &query.QueryError{Param: "format", Msg: "must be json or csv"})
	}
	site := v.Get("site")
	from, err := day(v, "from")
	if err != nil {
		return a.fail(c, err)
	}
	to, err := day(v, "to")
	if err != nil {
		return a.fail(c, err)
	}
	// Check everything, and that the site exists, before streaming.
	if err := a.svc.ValidateExport(c.UserContext(), site, from, to); err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.ExportTimeout)
	name := safeName(site) + "-consent-proof-" + from.Format("2006-01-02") + "-" + to.Format("2006-01-02")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.json"`)
	}
	log := a.opts.Log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		var err error
		if format == "csv" {
			cw := csv.NewWriter(w)
			_ = cw.Write(result.ProofHeader)
			err = a.svc.ExportDecisions(ctx, site, from, to, func(d result.ProofDecision) error {
				rec := d.Record()
				for i, s := range rec {
					rec[i] = Cell(s)
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
				cw.Flush()
				return cw.Error()
			})
			cw.Flush()
		} else {
			head, _ := json.Marshal(map[string]string{"site": site, "from": from.Format("2006-01-02"), "to": to.Format("2006-01-02")})
			_, _ = w.Write(head[:len(head)-1])
			_, _ = w.WriteString(`,"decisions":[`)
			n := 0
			err = a.svc.ExportDecisions(ctx, site, from, to, func(d result.ProofDecision) error {
				b, err := json.Marshal(d)
				if err != nil {
					return err
				}
				if n > 0 {
					_ = w.WriteByte(',')
				}
				n++
				_, err = w.Write(b)
				return err
			})
			if err == nil {
				_, _ = w.WriteString("]}")
			}
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			log.Error("proof export stopped", "site", site, "err", err)
		}
	})
	return nil
}

func day(v url.Values, param string) (time.Time, error) {
	s := v.Get(param)
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, &query.QueryError{Param: param, Msg: "give a date as YYYY-MM-DD"}
	}
	return t, nil
}
