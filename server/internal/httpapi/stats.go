package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

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

// statsResult is what a handler computed; nil for an empty statsResult.
type statsResult interface{ result.Tabler }

type handler func(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error)

// scans says whether a request reads every event or visit of its range
// (a heavy request, which takes one of the node's turns) rather than the
// per-day tables.
type scans func(c *fiber.Ctx, v url.Values) bool

// filtered: requests with filters read the events or visits that match.
func filtered(_ *fiber.Ctx, v url.Values) bool { return len(v["filter"]) > 0 }

// never: realtime reads the last minutes of today alone.
func never(*fiber.Ctx, url.Values) bool { return false }

// always: paths, funnels, retention and goals read events, steps or
// visits, filtered or not.
func always(*fiber.Ctx, url.Values) bool { return true }

// visitRows: breakdowns of entry and exit pages and of loyalty read
// visits; the others, filtered, read events.
func visitRows(c *fiber.Ctx, v url.Values) bool {
	d, ok := query.Lookup(query.Dimension(c.Params("dimension")))
	return filtered(c, v) || ok && (d.Kind == query.KindSession || d.Kind == query.KindLoyalty)
}

// stats runs fn with a deadline and writes its statsResult as JSON or CSV;
// a request that heavy says scans its range takes a turn first.
func (h *handlers) stats(fn handler, heavy scans) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := values(c)
		if err != nil {
			return err
		}
		format := v.Get("format")
		if format != "" && format != "json" && format != "csv" {
			return &query.QueryError{Param: "format", Msg: "must be json or csv"}
		}
		if h.heavy != nil && heavy(c, v) {
			// A malformed query gets its 400 at once, not after a wait.
			if _, err := h.query(v); err != nil {
				return err
			}
			// One turn of the node's few for heavy requests; share links
			// take theirs from their own.
			turns := h.heavy
			if p, ok := c.Locals("principal").(*auth.Principal); ok && p.Kind == auth.KindShare {
				turns = h.heavyShared
			}
			start := time.Now()
			h.Metrics.HeavyWaiting.Inc()
			wait, stop := context.WithTimeout(c.UserContext(), h.StatsTimeout)
			err := turns.Acquire(wait, 1)
			stop()
			h.Metrics.HeavyWaiting.Dec()
			h.Metrics.HeavyWait.Observe(time.Since(start).Seconds())
			if err != nil {
				return report.ErrBusy
			}
			defer turns.Release(1)
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), h.StatsTimeout)
		defer cancel()
		res, name, err := fn(ctx, c, v)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if format == "csv" {
			t := res.Table()
			if w, ok := res.(interface{ WithheldBecause() string }); ok && w.WithheldBecause() != "" {
				t.Rows = nil // the header alone: no numbers of fewer than k visitors
			}
			return writeCSV(c, name, t)
		}
		body, err := json.Marshal(res)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(body)
	}
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

func (h *handlers) query(v url.Values) (query.Query, error) {
	return query.ParseQuery(v, h.Now())
}

func (h *handlers) overview(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Overview(ctx, q)
	return r, fileName(q.Site, "overview", q), err
}

func (h *handlers) timeseries(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
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
	r, err := h.Report.Timeseries(ctx, q, ms)
	return r, fileName(q.Site, "timeseries", q), err
}

func (h *handlers) breakdown(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error) {
	dim, err := query.ParseDimension(strings.Clone(c.Params("dimension")))
	if err != nil {
		return nil, "", err
	}
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	page, err := query.ParsePage(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Breakdown(ctx, q, dim, report.BreakdownOptions{Page: page, Event: v.Get("event"), Property: v.Get("property")})
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

func (h *handlers) paths(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	n, err := limit(v, query.DefaultLimit)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Paths(ctx, q, v.Get("page"), n)
	return r, fileName(q.Site, "paths", q), err
}

func (h *handlers) realtime(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	// The whole site's last minutes, whatever the period. A filter would
	// be ignored too: it is refused rather than answered with the whole
	// site's numbers.
	if v.Has("filter") {
		return nil, "", query.BadParam("filter", "realtime counts the whole site's last %d minutes; it takes no filters", int(report.RealtimeWindow.Minutes()))
	}
	n, err := limit(v, query.DefaultLimit)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Realtime(ctx, v.Get("site"), n)
	return r, safeName(v.Get("site")) + "-realtime", err
}

func (h *handlers) consentOverview(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.ConsentOverview(ctx, q)
	return r, fileName(q.Site, "consent", q), err
}

func (h *handlers) consentTimeseries(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.ConsentTimeseries(ctx, q)
	return r, fileName(q.Site, "consent-timeseries", q), err
}

func (h *handlers) consentBreakdown(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error) {
	dim, err := query.ParseConsentDimension(strings.Clone(c.Params("dimension")))
	if err != nil {
		return nil, "", err
	}
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	page, err := query.ParsePage(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.ConsentBreakdown(ctx, q, dim, page)
	return r, fileName(q.Site, "consent-"+string(dim), q), err
}

func (h *handlers) cookies(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
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
	r, err := h.Report.UndeclaredCookies(ctx, q, by == "page", n)
	return r, fileName(q.Site, "undeclared-cookies", q), err
}

func (h *handlers) proof(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error) {
	id := strings.Clone(c.Params("consent_id"))
	r, err := h.Report.ConsentHistory(ctx, v.Get("site"), id)
	return r, safeName(v.Get("site")) + "-consent-" + safeName(id), err
}

func (h *handlers) banner(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error) {
	hash := strings.Clone(c.Params("hash"))
	r, err := h.Report.BannerVersion(ctx, v.Get("site"), hash)
	return r, safeName(v.Get("site")) + "-banner-" + safeName(hash), err
}

// export streams every decision of a date range as CSV or JSON. Input is
// checked before the first byte; an error while streaming ends the body
// early (the JSON is then incomplete) and is logged.
func (h *handlers) export(c *fiber.Ctx) error {
	v, err := values(c)
	if err != nil {
		return err
	}
	format := v.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return &query.QueryError{Param: "format", Msg: "must be json or csv"}
	}
	site := v.Get("site")
	from, err := day(v, "from")
	if err != nil {
		return err
	}
	to, err := day(v, "to")
	if err != nil {
		return err
	}
	// Check everything, and that the site exists, before streaming.
	if err := h.Report.ValidateExport(c.UserContext(), site, from, to); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.ExportTimeout)
	name := safeName(site) + "-consent-proof-" + from.Format("2006-01-02") + "-" + to.Format("2006-01-02")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.json"`)
	}
	log := h.Log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		var err error
		if format == "csv" {
			cw := csv.NewWriter(w)
			_ = cw.Write(result.ProofHeader)
			err = h.Report.ExportDecisions(ctx, site, from, to, func(d result.ProofDecision) error {
				rec := d.Record()
				for i, s := range rec {
					rec[i] = cell(s)
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
			err = h.Report.ExportDecisions(ctx, site, from, to, func(d result.ProofDecision) error {
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
