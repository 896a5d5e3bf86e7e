// Package httpapi is Crumb's HTTP edge: one Fiber app holding every route of
// the service — health, the tracker's public API (ingest, banner
// configuration, the visitor's own data), the tracker script and demo site,
// the dashboard pages and login, and the stats API under /api/v1/stats. New
// lists them all in one route table (routes, in server.go), in the order
// Fiber matches them. Metrics are served apart, on a listener of their own
// (NewMetrics, in metrics.go).
//
// Handlers return errors; statusOf (errors.go) is the one table that maps
// errors from the layers below (ingest, privacy, report, auth) and from Fiber
// to a status and a message, and every error is answered as JSON
// {"error": "..."} with Cache-Control: no-store. Errors that are not the
// client's are logged and answered 500 "internal error".
package httpapi

import (
	"context"
	"io/fs"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"golang.org/x/sync/semaphore"

	"github.com/crumbhq/crumb/server/internal/assets"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/metrics"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/notify"
	"github.com/crumbhq/crumb/server/internal/privacy"
	"github.com/crumbhq/crumb/server/internal/report"
)

// Sites finds configured sites.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
	// AnyAllowsHost reports whether host belongs to any site.
	AnyAllowsHost(host string) bool
	// All returns every site.
	All() []*model.Site
	// Demo returns the site the demo pages report to.
	Demo() (*model.Site, bool)
}

// Deps are what the HTTP edge needs.
type Deps struct {
	// Pipeline checks and records events, decisions and impressions.
	Pipeline *ingest.Pipeline
	// Privacy exports and erases a visitor's own data.
	Privacy *privacy.Service
	Sites   Sites
	// Metrics counts requests and drops; NewMetrics serves it.
	Metrics *metrics.Metrics
	// Report answers the stats API.
	Report *report.Service
	// SaveSite stores a changed site and makes this node use it at once
	// (goals and saved funnels from the dashboard).
	SaveSite func(ctx context.Context, s model.Site) error
	// Notify sends digests: the dashboard's subscriptions and the
	// unsubscribe links of every digest.
	Notify *notify.Service
	// Auth identifies dashboard users, API tokens and share links.
	Auth *auth.Auth
	// Script is the built t.js; Demo holds the demo site's pages (a folder
	// "demo"); Dashboard is the built dashboard UI.
	Script    *assets.Script
	Demo      fs.FS
	Dashboard *assets.Dashboard
	// Ready reports whether the node can take traffic: ClickHouse reachable
	// and the buffer below its limit.
	Ready func(ctx context.Context) error
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RateLimit is the most ingest requests one client address may make per
	// minute on this node; 0 disables the limit.
	RateLimit int
	// MeRateLimit is the most own-data requests (GET and DELETE /api/me)
	// one client address may make per minute on this node; 0 means
	// DefaultMeRateLimit, a negative number disables the limit.
	MeRateLimit int
	// ShareRateLimit is the most stats requests one client address may make
	// per minute on this node with share links, which are public (logins
	// and API tokens are not limited); 0 or less disables the limit.
	ShareRateLimit int
	// PublicURL is where users reach crumb (--public-url): its origin is
	// the dashboards' own for the cross-site checks, and with https the
	// session cookie is Secure and every answer carries HSTS.
	PublicURL string
	// StatsTimeout bounds one stats request (default 30 s); the report
	// service's max_execution_time bounds each query on the server.
	StatsTimeout time.Duration
	// HeavyRequests is the most heavy stats requests this node runs at
	// once: those that read every event or visit of their range rather
	// than the per-day tables (see scans in stats.go): requests with
	// filters, paths, funnels, retention, goals, and breakdowns of entry
	// and exit pages and of loyalty. A dashboard sends nine filtered
	// panels together, which on a small ClickHouse all finish late or all
	// time out; and a share link is public. The others wait for their
	// turn (oldest first) up to StatsTimeout, then get 503 with
	// Retry-After; a request's own StatsTimeout starts with its turn.
	// Other requests never wait. Share links, which are public, take
	// turns of their own (as many): their holders cannot keep the turns
	// of the site's logins and API tokens. 0 means
	// DefaultHeavyRequests; a negative number, no limit.
	HeavyRequests int
	// heavy and heavyShared hold the turns of HeavyRequests for logins
	// and API tokens, and for share links (tests hold them).
	heavy, heavyShared *semaphore.Weighted
	// ExportTimeout bounds a proof export (default 10 min).
	ExportTimeout time.Duration
	// Now is the clock that relative periods (7d, 30d…) count from.
	Now func() time.Time
	// Log receives the errors that are not the client's.
	Log *slog.Logger
}

// DefaultMeRateLimit is Deps.MeRateLimit's default.
const DefaultMeRateLimit = 20

// DefaultHeavyRequests is Deps.HeavyRequests's default.
const DefaultHeavyRequests = 2

// New returns the Fiber app with every route of the service.
func New(d Deps) *fiber.App {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.StatsTimeout <= 0 {
		d.StatsTimeout = 30 * time.Second
	}
	if d.ExportTimeout <= 0 {
		d.ExportTimeout = 10 * time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MeRateLimit == 0 {
		d.MeRateLimit = DefaultMeRateLimit
	}
	if d.heavy == nil && d.HeavyRequests >= 0 {
		n := d.HeavyRequests
		if n == 0 {
			n = DefaultHeavyRequests
		}
		d.heavy = semaphore.NewWeighted(int64(n))
		d.heavyShared = semaphore.NewWeighted(int64(n))
	}
	h := &handlers{Deps: d, publicOrigin: originOf(d.PublicURL)}
	h.publicHTTPS = strings.HasPrefix(h.publicOrigin, "https://")
	app := fiber.New(fiber.Config{
		AppName: "crumb",
		// The server reads bodies up to 4 times the limit, so that a body
		// somewhat over it gets a clear 413 (decodeBody) rather than a
		// connection closed under the upload; larger ones are cut off.
		BodyLimit:             4 * ingest.MaxBodyBytes,
		DisableStartupMessage: true,
		ErrorHandler:          h.errorHandler,
		ReadBufferSize:        8 << 10, // the longest request line and headers, as nginx's default
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		d.Log.Error("panic in handler", "route", c.Route().Path, "panic", e)
	}}))
	app.Use(h.countRequests)
	app.Use(decodeBody(ingest.MaxBodyBytes))
	app.Use(h.strictTransport)
	h.routes(app)
	return app
}

// routes is the route table of the service. Fiber runs the handlers of a
// request in the order they are added, middleware (Use, and the handlers
// given to Group) included: CORS covers every /api path, the ingest rate
// limit every /api path after the banner configuration, authentication
// every /api/v1 path. The tracker's routes are cross-origin by design; the
// dashboards' writes, login included, and the stats API's writes with the
// session cookie must be same-origin (sameOrigin, csrf.go).
func (h *handlers) routes(app *fiber.App) {
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", h.readyz)

	// The tracker's public API (ingest.go).
	api := app.Group("/api", h.cors)
	api.Get("/sites/:site/config", h.siteConfig)
	limited := api.Group("", h.rateLimit())
	limited.Post("/events", h.events)
	limited.Post("/consent", h.consent)
	limited.Post("/impressions", h.impression)
	limited.Get("/me", h.meLimit(), h.getMe)
	limited.Delete("/me", h.meLimit(), h.deleteMe)

	// The tracker script and the demo site (script.go).
	app.Get("/t.js", h.script)
	app.Get("/t/:file", h.pinnedScript)
	app.Get("/demo/*", h.demo)

	// The dashboards (dashboard.go) and their login (login.go). The
	// server's own address leads to them.
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/dashboard/", fiber.StatusFound) })
	app.Get("/ui/:file", securityHeaders, h.uiFile)
	app.Get("/login", securityHeaders, h.loginPage)
	app.Post("/login", securityHeaders, h.sameOrigin(false), h.login)
	app.Post("/logout", securityHeaders, h.sameOrigin(false), h.require, h.logout)
	app.Get("/share/:id", securityHeaders, h.share)
	app.Get("/unsubscribe/:token", securityHeaders, h.unsubscribe)  // a digest's unsubscribe link: asks
	app.Post("/unsubscribe/:token", securityHeaders, h.unsubscribe) // …and does it (the button, or one-click List-Unsubscribe-Post)
	dash := app.Group("/dashboard", securityHeaders, h.sameOrigin(false), h.requirePage)
	dash.Get("/api/session", h.session)
	dash.Get("/*", h.dashboardPage)

	// The stats API (stats.go), GET only. SITE is a site ID; the query
	// parameters of query.ParseQuery apply to every route but realtime
	// and proof, and format=csv answers CSV instead of JSON. The second
	// argument of stats says when a request is heavy and takes a turn.
	v1 := app.Group("/api/v1", securityHeaders, h.sameOrigin(true), h.require)
	stats := v1.Group("/stats/:site", h.siteAccess, h.shareLimit())
	stats.Get("/overview", h.stats(h.overview, filtered))                             // headline metrics (compare=previous_period adds the previous period)
	stats.Get("/timeseries", h.stats(h.timeseries, filtered))                         // metrics per interval bucket (metrics=visitors,pageviews,…)
	stats.Get("/breakdown/:dimension", h.stats(h.breakdown, visitRows))               // rows per value (limit, page; event and property for event_prop)
	stats.Get("/paths", h.stats(h.paths, always))                                     // previous and next pages of ?page=/x (limit)
	stats.Get("/realtime", h.stats(h.realtime, never))                                // visitors and pages of the last 5 minutes (limit only)
	stats.Get("/consent/overview", h.stats(h.consentOverview, filtered))              // impressions, decisions, opt-in rates, GPC, coverage
	stats.Get("/consent/timeseries", h.stats(h.consentTimeseries, filtered))          // the same per bucket
	stats.Get("/consent/breakdown/:dimension", h.stats(h.consentBreakdown, filtered)) // by country, device, page, policy_version or language
	stats.Get("/consent/cookies", h.stats(h.cookies, filtered))                       // undeclared cookies seen before consent (by=cookie|page, limit)
	stats.Get("/goals", h.stats(h.goals, always))                                     // each goal's visitors, conversions and conversion rate
	stats.Get("/funnel", h.stats(h.funnel, always))                                   // visitors through step=…&step=… in order (window=visit|1d|7d|30d, or funnel=NAME)
	stats.Get("/retention", h.stats(h.retention, always))                             // cohorts of new visitors by week or month (interval) and their return
	stats.Get("/imported/:dimension", h.stats(h.imported, filtered))                  // an import's page, source, country, browser, device or event values (days before the site's own data)
	settings := v1.Group("/sites/:site", h.siteAccess)
	settings.Get("/digest", h.digest) // the login's e-mail digest of the site: {"every":"week"|"month"|""}
	settings.Put("/digest", h.digest)
	settings.Get("/analysis", h.siteAnalysis)             // the site's goals and saved funnels, and whether the caller may change them
	settings.Put("/goals", h.putAnalysis("goals"))        // replace the goals (admins and the site's editors)
	settings.Put("/funnels", h.putAnalysis("funnels"))    // replace the saved funnels (admins and the site's editors)
	proof := stats.Group("/proof", h.proofAccess)         // proof of consent: never for share links
	proof.Get("/export", h.export)                        // every decision of ?from=&to= (format=json|csv), streamed
	proof.Get("/banner/:hash", h.stats(h.banner, never))  // the banner a decision's texts_hash names
	proof.Get("/:consent_id", h.stats(h.proof, filtered)) // one consent ID's decisions

	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}

// handlers are the route handlers over the dependencies.
type handlers struct {
	Deps
	publicOrigin string // of PublicURL, as originOf gives it
	publicHTTPS  bool
}

// countRequests answers errors itself, so that it counts every answer by
// route and the status code actually sent.
func (h *handlers) countRequests(c *fiber.Ctx) error {
	if err := c.Next(); err != nil {
		if err := h.errorHandler(c, err); err != nil {
			return err
		}
	}
	route := c.Route().Path
	code := c.Response().StatusCode()
	if code == fiber.StatusNotFound {
		route = "unmatched"
	}
	h.Metrics.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	return nil
}

func (h *handlers) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := h.Ready(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": err.Error()})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}
