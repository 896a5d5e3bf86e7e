package notify

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"math"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// Period is the range of days a digest covers, and the key of its
// delivery (one per site, recipient and period).
type Period struct {
	Name     string // "week of 30 Nov 2026", "November 2026", "last 7 days"
	From, To time.Time
	Key      string // 2026-W49, 2026-11, or the dates of a range asked for by hand
}

func day(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }

// LastWeek is the last whole week (Monday to Sunday, UTC) before now.
func LastWeek(now time.Time) Period {
	today := day(now.UTC())
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	from := monday.AddDate(0, 0, -7)
	y, w := from.ISOWeek()
	return Period{Name: "week of " + from.Format("2 Jan 2006"), From: from, To: monday.AddDate(0, 0, -1), Key: fmt.Sprintf("%d-W%02d", y, w)}
}

// LastMonth is the last whole calendar month before now.
func LastMonth(now time.Time) Period {
	first := day(now.UTC()).AddDate(0, 0, 1-now.UTC().Day())
	from := first.AddDate(0, -1, 0)
	return Period{Name: from.Format("January 2006"), From: from, To: first.AddDate(0, 0, -1), Key: from.Format("2006-01")}
}

// ParsePeriod reads a period asked for by hand: 7d and 30d (ending
// today), month (this month so far), week and last_month (the last whole
// week or month).
func ParsePeriod(s string, now time.Time) (Period, error) {
	today := day(now.UTC())
	switch s {
	case "", "7d":
		return Period{Name: "last 7 days", From: today.AddDate(0, 0, -6), To: today, Key: "7d-" + today.Format("2006-01-02")}, nil
	case "30d":
		return Period{Name: "last 30 days", From: today.AddDate(0, 0, -29), To: today, Key: "30d-" + today.Format("2006-01-02")}, nil
	case "month":
		return Period{Name: today.Format("January 2006") + " so far", From: today.AddDate(0, 0, 1-today.Day()), To: today, Key: "month-" + today.Format("2006-01-02")}, nil
	case "week":
		return LastWeek(now), nil
	case "last_month":
		return LastMonth(now), nil
	}
	return Period{}, fmt.Errorf("period must be 7d, 30d, month, week or last_month, not %q", s)
}

// DigestDelay is how long after its period's end a digest waits, for the
// events still on their way (a buffer being replayed, a page's last time
// on page) to land.
const DigestDelay = time.Hour

// Due is the period a recipient who gets the digest every week or month
// is owed at now: the last whole week or month that ended DigestDelay
// before now.
func Due(every string, now time.Time) (Period, bool) {
	now = now.Add(-DigestDelay)
	switch every {
	case "week":
		return LastWeek(now), true
	case "month":
		return LastMonth(now), true
	}
	return Period{}, false
}

// Digest is what one digest shows: the headline numbers against the
// previous period, top pages and sources, the consent opt-in rate and
// the goals.
type Digest struct {
	Site      *model.Site
	Period    Period
	Overview  *result.Overview
	Pages     *result.Breakdown
	Sources   *result.Breakdown
	Consent   *result.ConsentOverview
	Goals     *result.Goals
	Dashboard string // the dashboard of the period
	// Unsubscribe is the recipient's unsubscribe link.
	Unsubscribe string
}

// Compose reads a site's numbers for period.
func Compose(ctx context.Context, rep *report.Service, site *model.Site, p Period, publicURL string) (*Digest, error) {
	q := query.Query{Site: site.ID, From: p.From, To: p.To, Interval: query.Day, Compare: true}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	plain := q
	plain.Compare = false
	d := &Digest{Site: site, Period: p}
	top := report.BreakdownOptions{Page: query.Page{Limit: 5, Number: 1}}
	var err error
	if d.Overview, err = rep.Overview(ctx, q); err != nil {
		return nil, err
	}
	if d.Pages, err = rep.Breakdown(ctx, plain, query.DimPage, top); err != nil {
		return nil, err
	}
	if d.Sources, err = rep.Breakdown(ctx, plain, query.DimSource, top); err != nil {
		return nil, err
	}
	if d.Consent, err = rep.ConsentOverview(ctx, plain); err != nil {
		return nil, err
	}
	if len(site.Goals) > 0 {
		if d.Goals, err = rep.Goals(ctx, plain); err != nil {
			return nil, err
		}
	}
	base := strings.TrimRight(publicURL, "/")
	v := url.Values{"site": {site.ID}, "period": {"custom"}, "from": {p.From.Format("2006-01-02")}, "to": {p.To.Format("2006-01-02")}, "compare": {"1"}}
	d.Dashboard = base + "/dashboard/?" + v.Encode()
	return d, nil
}

//go:embed templates
var templates embed.FS

var (
	funcs   = map[string]any{"num": fmtNum, "pct": fmtPct, "dur": fmtDur, "change": fmtChange, "up": isUp, "siteName": siteName}
	htmlTpl = htmltemplate.Must(htmltemplate.New("digest.html").Funcs(funcs).ParseFS(templates, "templates/digest.html"))
	textTpl = texttemplate.Must(texttemplate.New("digest.txt").Funcs(funcs).ParseFS(templates, "templates/digest.txt"))
)

// Render writes the digest's subject, plain text and HTML.
func (d *Digest) Render() (subject, text, html string, err error) {
	subject = fmt.Sprintf("%s: %s visitors, %s", siteName(d.Site), fmtNum(d.Overview.Metrics.Visitors), d.Period.Name)
	var t, h bytes.Buffer
	if err := textTpl.Execute(&t, d); err != nil {
		return "", "", "", err
	}
	if err := htmlTpl.Execute(&h, d); err != nil {
		return "", "", "", err
	}
	return subject, t.String(), h.String(), nil
}

// Message is the digest as an e-mail to one recipient.
func (d *Digest) Message(to string) (Message, error) {
	subject, text, html, err := d.Render()
	if err != nil {
		return Message{}, err
	}
	m := Message{To: to, Subject: subject, Text: text, HTML: html}
	if d.Unsubscribe != "" {
		m.Headers = map[string]string{"List-Unsubscribe": "<" + d.Unsubscribe + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
	}
	return m, nil
}

// Metric rows of the digest, in order.
type metricRow struct {
	Label  string
	Value  string
	Change *float64
	Points bool // the change is in percentage points
	Good   bool // whether a rise is good
}

// Metrics are the headline rows: visitors, visits, page views, bounce rate.
func (d *Digest) Metrics() []metricRow {
	m, c := d.Overview.Metrics, d.Overview.Change
	return []metricRow{
		{"Visitors", fmtNum(m.Visitors), c[query.MetricVisitors], false, true},
		{"Visits", fmtNum(m.Visits), c[query.MetricVisits], false, true},
		{"Page views", fmtNum(m.Pageviews), c[query.MetricPageviews], false, true},
		{"Bounce rate", fmtPct(m.BounceRate), c[query.MetricBounceRate], true, false},
		{"Visit duration", fmtDur(m.VisitDuration), c[query.MetricVisitDuration], false, true},
	}
}

// OptIn is the share of decisions that allowed analytics, or "" with none.
func (d *Digest) OptIn() string {
	if d.Consent == nil || d.Consent.Decisions == 0 {
		return ""
	}
	return fmtPct(d.Consent.OptInPerformance)
}

func siteName(s *model.Site) string {
	if s.Name != "" {
		return s.Name
	}
	return s.Domain
}

func fmtNum(v any) string {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case *int64:
		if x == nil {
			return "–"
		}
		n = *x
	case int:
		n = int64(x)
	default:
		return fmt.Sprint(v)
	}
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func fmtPct(v any) string {
	switch x := v.(type) {
	case float64:
		return trimFloat(x) + "%"
	case *float64:
		if x == nil {
			return "–"
		}
		return trimFloat(*x) + "%"
	}
	return fmt.Sprint(v)
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func fmtDur(s float64) string {
	n := int(math.Round(s))
	if n < 60 {
		return fmt.Sprintf("%ds", n)
	}
	return fmt.Sprintf("%dm %02ds", n/60, n%60)
}

// fmtChange writes a change: "+12.5%", "−3 pts", "new" when there was
// nothing before.
func fmtChange(c *float64, points bool) string {
	if c == nil {
		return "new"
	}
	sign := "+"
	if *c < 0 {
		sign = "−"
	}
	if points {
		return sign + trimFloat(math.Abs(*c)) + " pts"
	}
	return sign + trimFloat(math.Abs(*c)) + "%"
}

func isUp(c *float64, good bool) bool { return c != nil && (*c > 0) == good && *c != 0 }
