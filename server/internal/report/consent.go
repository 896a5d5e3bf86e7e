package report

import (
	"context"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

// Consent analytics. Definitions:
//
//   - impressions: banner showings (counted without any ID);
//   - decisions: recorded choices (accept_all, reject_all, custom,
//     withdraw); consents: distinct consent IDs among them;
//   - interaction rate: decisions per 100 impressions;
//   - opt-in rate of a category: the percentage of decisions that grant
//     it (a withdrawal grants nothing);
//   - GPC share: the percentage of impressions (or decisions) whose browser
//     sent Global Privacy Control;
//   - measured share: consented page views as a percentage of all counted
//     page views (consented and anonymous), when the site counts
//     anonymously; estimated coverage: performance grants per 100
//     impressions, the share of banner viewers who let themselves be
//     measured.
//
// Time to decision cannot be derived: impressions carry no ID, so a
// decision cannot be matched with the impression before it.

// ConsentMetrics are consent numbers of a period, a bucket or a value.
type ConsentMetrics struct {
	Impressions         int64   `json:"impressions"`
	Decisions           int64   `json:"decisions"`
	Consents            int64   `json:"consents"`
	AcceptAll           int64   `json:"accept_all"`
	RejectAll           int64   `json:"reject_all"`
	Custom              int64   `json:"custom"`
	Withdraw            int64   `json:"withdraw"`
	InteractionRate     float64 `json:"interaction_rate"`
	OptInPerformance    float64 `json:"opt_in_performance"`
	OptInFunctionality  float64 `json:"opt_in_functionality"`
	OptInTargeting      float64 `json:"opt_in_targeting"`
	GPCShareImpressions float64 `json:"gpc_share_impressions"`
	GPCShareDecisions   float64 `json:"gpc_share_decisions"`
	// UndeclaredImpressions had cookies the site has not declared before
	// any decision.
	UndeclaredImpressions int64 `json:"undeclared_cookie_impressions"`
}

var consentMetricNames = []string{"impressions", "decisions", "consents", "accept_all", "reject_all", "custom", "withdraw",
	"interaction_rate", "opt_in_performance", "opt_in_functionality", "opt_in_targeting",
	"gpc_share_impressions", "gpc_share_decisions", "undeclared_cookie_impressions"}

func (c ConsentMetrics) values() []any {
	return []any{c.Impressions, c.Decisions, c.Consents, c.AcceptAll, c.RejectAll, c.Custom, c.Withdraw,
		num(c.InteractionRate), num(c.OptInPerformance), num(c.OptInFunctionality), num(c.OptInTargeting),
		num(c.GPCShareImpressions), num(c.GPCShareDecisions), c.UndeclaredImpressions}
}

// decisionSums are the columns of the decision queries after consents.
type decisionSums struct {
	decisions, accept, reject, custom, withdraw, perf, fn, tgt, gpc uint64
}

func (d *decisionSums) dest() []any {
	return []any{&d.decisions, &d.accept, &d.reject, &d.custom, &d.withdraw, &d.perf, &d.fn, &d.tgt, &d.gpc}
}

func consentMetrics(consents uint64, d decisionSums, imp, impGPC, undeclared uint64) ConsentMetrics {
	pct := func(a, b uint64) float64 { return round1(100 * ratio(float64(a), float64(b))) }
	return ConsentMetrics{
		Impressions: int64(imp), Decisions: int64(d.decisions), Consents: int64(consents),
		AcceptAll: int64(d.accept), RejectAll: int64(d.reject), Custom: int64(d.custom), Withdraw: int64(d.withdraw),
		InteractionRate:       pct(d.decisions, imp),
		OptInPerformance:      pct(d.perf, d.decisions),
		OptInFunctionality:    pct(d.fn, d.decisions),
		OptInTargeting:        pct(d.tgt, d.decisions),
		GPCShareImpressions:   pct(impGPC, imp),
		GPCShareDecisions:     pct(d.gpc, d.decisions),
		UndeclaredImpressions: int64(undeclared),
	}
}

// ConsentOverview is the consent numbers of a period, with the coverage
// of the analytics.
type ConsentOverview struct {
	Meta
	ConsentMetrics
	ConsentedPageviews int64    `json:"consented_pageviews"`
	AnonymousPageviews int64    `json:"anonymous_pageviews"`
	MeasuredShare      *float64 `json:"measured_share"`
	EstimatedCoverage  float64  `json:"estimated_coverage"`
}

// Table lists metric and value.
func (o *ConsentOverview) Table() Table {
	t := Table{Header: []string{"metric", "value"}}
	for i, v := range o.ConsentMetrics.values() {
		t.Rows = append(t.Rows, []any{consentMetricNames[i], v})
	}
	var ms any = ""
	if o.MeasuredShare != nil {
		ms = num(*o.MeasuredShare)
	}
	t.Rows = append(t.Rows, []any{"consented_pageviews", o.ConsentedPageviews}, []any{"anonymous_pageviews", o.AnonymousPageviews},
		[]any{"measured_share", ms}, []any{"estimated_coverage", num(o.EstimatedCoverage)})
	return t
}

// consentPlan validates q for consent analytics: the filters may only
// name country, device, page or language.
func (s *Service) consentPlan(ctx context.Context, q query.Query) (*plan, error) {
	for _, f := range q.Filters {
		if _, ok := consentFilterColumns[f.Dimension]; !ok {
			return nil, query.BadParam("filter", "consent analytics can be filtered by country, device, page and language only, not %s", f.Dimension)
		}
	}
	return s.newPlan(ctx, q, planSums)
}

// ConsentOverview returns impressions, decisions, opt-in rates, GPC
// shares and coverage of q's period.
func (s *Service) ConsentOverview(ctx context.Context, q query.Query) (*ConsentOverview, error) {
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	var (
		consents, imp, impGPC, undeclared uint64
		d                                 decisionSums
		t                                 sums
	)
	err = parallel(
		func() error {
			return s.queryRow(ctx, consentDecisionsSQL(p, ""), append([]any{&consents}, d.dest()...)...)
		},
		func() error { return s.queryRow(ctx, consentImpressionsSQL(p, ""), &imp, &impGPC, &undeclared) },
		func() error {
			// Page views, with the same filters (they name event columns too).
			tp, err := s.newPlan(ctx, q, planSums)
			if err != nil {
				return err
			}
			if err := s.queryRow(ctx, totalsSQL(tp), t.dest()...); err != nil {
				return err
			}
			m := t.metrics(tp.sample)
			t.pv, t.apv = uint64(m.Pageviews-m.AnonymousPageviews), uint64(m.AnonymousPageviews)
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	o := &ConsentOverview{Meta: metaOf(q, p.sample.rate), ConsentMetrics: consentMetrics(consents, d, imp, impGPC, undeclared),
		ConsentedPageviews: int64(t.pv), AnonymousPageviews: int64(t.apv),
		EstimatedCoverage: round1(100 * ratio(float64(d.perf), float64(imp)))}
	if t.apv > 0 {
		ms := round1(100 * float64(t.pv) / float64(t.pv+t.apv))
		o.MeasuredShare = &ms
	}
	return o, nil
}

// ConsentPoint is one bucket of a consent time series.
type ConsentPoint struct {
	Time time.Time
	ConsentMetrics
}

// ConsentSeries is consent numbers per bucket.
type ConsentSeries struct {
	Meta
	Interval query.Interval
	Points   []ConsentPoint
}

func (cs *ConsentSeries) label(t time.Time) string {
	if cs.Interval == query.Hour {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UTC().Format(query.DateLayout)
}

// MarshalJSON writes {"site",…,"interval","points":[{"date",…metrics}]}.
func (cs *ConsentSeries) MarshalJSON() ([]byte, error) {
	points := make([]object, len(cs.Points))
	for i, p := range cs.Points {
		o := object{{"date", cs.label(p.Time)}}
		for j, v := range p.values() {
			o = append(o, field{consentMetricNames[j], v})
		}
		points[i] = o
	}
	return object{{"site", cs.Site}, {"from", cs.From}, {"to", cs.To}, {"filters", cs.Filters},
		{"sample_rate", cs.SampleRate}, {"interval", cs.Interval}, {"points", points}}.MarshalJSON()
}

// Table has one row per bucket.
func (cs *ConsentSeries) Table() Table {
	t := Table{Header: append([]string{"date"}, consentMetricNames...)}
	for _, p := range cs.Points {
		t.Rows = append(t.Rows, append([]any{cs.label(p.Time)}, p.values()...))
	}
	return t
}

// ConsentTimeseries returns consent numbers per bucket of q.Interval.
func (s *Service) ConsentTimeseries(ctx context.Context, q query.Query) (*ConsentSeries, error) {
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	type dec struct {
		consents uint64
		d        decisionSums
	}
	type imp struct{ n, gpc, undeclared uint64 }
	decs, imps := map[time.Time]dec{}, map[time.Time]imp{}
	err = parallel(
		func() error {
			rows, err := s.query(ctx, consentDecisionsSQL(p, q.Interval))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var b time.Time
				var v dec
				if err := rows.Scan(append([]any{&b, &v.consents}, v.d.dest()...)...); err != nil {
					return s.wrap(ctx, err)
				}
				decs[b.UTC()] = v
			}
			return s.wrap(ctx, rows.Err())
		},
		func() error {
			rows, err := s.query(ctx, consentImpressionsSQL(p, q.Interval))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var b time.Time
				var v imp
				if err := rows.Scan(&b, &v.n, &v.gpc, &v.undeclared); err != nil {
					return s.wrap(ctx, err)
				}
				imps[b.UTC()] = v
			}
			return s.wrap(ctx, rows.Err())
		},
	)
	if err != nil {
		return nil, err
	}
	out := &ConsentSeries{Meta: metaOf(q, p.sample.rate), Interval: q.Interval}
	for _, b := range buckets(q) {
		d, i := decs[b], imps[b]
		out.Points = append(out.Points, ConsentPoint{Time: b, ConsentMetrics: consentMetrics(d.consents, d.d, i.n, i.gpc, i.undeclared)})
	}
	return out, nil
}

// ConsentRow is one value of a consent breakdown.
type ConsentRow struct {
	Value string
	ConsentMetrics
}

// ConsentBreakdown is consent numbers per value, most consent IDs first.
// Values decided on by fewer than K consent IDs (and values with
// impressions only) fold into Other, left out when it too has fewer.
type ConsentBreakdown struct {
	Meta
	Dimension   query.ConsentDimension
	K           int
	Rows        []ConsentRow
	Other       *ConsentRow
	Totals      ConsentRow
	Page, Limit int
	More        bool
}

func (r ConsentRow) object() object {
	o := object{{"value", r.Value}}
	for i, v := range r.values() {
		o = append(o, field{consentMetricNames[i], v})
	}
	return o
}

// MarshalJSON writes the rows as objects.
func (b *ConsentBreakdown) MarshalJSON() ([]byte, error) {
	rows := make([]object, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = r.object()
	}
	var other any
	if b.Other != nil {
		other = b.Other.object()
	}
	return object{{"site", b.Site}, {"from", b.From}, {"to", b.To}, {"filters", b.Filters}, {"sample_rate", b.SampleRate},
		{"dimension", b.Dimension}, {"k", b.K}, {"rows", rows}, {"other", other}, {"totals", b.Totals.object()},
		{"page", b.Page}, {"limit", b.Limit}, {"more", b.More}}.MarshalJSON()
}

// Table has the rows, "(other)" when shown and "(total)".
func (b *ConsentBreakdown) Table() Table {
	t := Table{Header: append([]string{string(b.Dimension)}, consentMetricNames...)}
	add := func(r ConsentRow) { t.Rows = append(t.Rows, append([]any{r.Value}, r.values()...)) }
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	add(b.Totals)
	return t
}

// ConsentBreakdown returns consent numbers per value of dim.
func (s *Service) ConsentBreakdown(ctx context.Context, q query.Query, dim query.ConsentDimension, page query.Page) (*ConsentBreakdown, error) {
	if _, err := query.ParseConsentDimension(string(dim)); err != nil {
		return nil, err
	}
	if page == (query.Page{}) {
		page = query.Page{Limit: query.DefaultLimit, Number: 1}
	}
	if err := page.Validate(); err != nil {
		return nil, err
	}
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	var (
		frs    []foldRow
		other  *foldRow
		totals foldRow
	)
	type imp struct{ n, gpc uint64 }
	imps := map[string]imp{}
	err = parallel(
		func() (err error) {
			frs, other, totals, err = s.readFold(ctx, consentBreakdownSQL(p, dim), len(consentCols), p.k)
			return err
		},
		func() error {
			rows, err := s.query(ctx, consentImpressionsByValueSQL(p, dim))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var v string
				var i imp
				if err := rows.Scan(&v, &i.n, &i.gpc); err != nil {
					return s.wrap(ctx, err)
				}
				imps[v] = i
			}
			return s.wrap(ctx, rows.Err())
		},
	)
	if err != nil {
		return nil, err
	}
	conv := func(value string, v []uint64, im imp) ConsentRow {
		d := decisionSums{v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]}
		return ConsentRow{Value: value, ConsentMetrics: consentMetrics(v[0], d, im.n, im.gpc, 0)}
	}
	var all, shown imp
	for _, i := range imps {
		all.n, all.gpc = all.n+i.n, all.gpc+i.gpc
	}
	rows := make([]ConsentRow, len(frs))
	for i, r := range frs {
		im := imps[r.label]
		shown.n, shown.gpc = shown.n+im.n, shown.gpc+im.gpc
		rows[i] = conv(label(r.label), r.vals, im)
	}
	out := &ConsentBreakdown{Meta: metaOf(q, p.sample.rate), Dimension: dim, K: p.k, Page: page.Number, Limit: page.Limit,
		Totals: conv("(total)", totals.vals, all), Rows: []ConsentRow{}}
	if other != nil {
		r := conv(query.Other, other.vals, imp{all.n - shown.n, all.gpc - shown.gpc})
		out.Other = &r
	}
	offset := (page.Number - 1) * page.Limit
	if offset < len(rows) {
		out.Rows = rows[offset:min(len(rows), offset+page.Limit)]
	}
	out.More = len(rows) > offset+page.Limit
	return out, nil
}

// CookieRow is an undeclared cookie seen before any decision, on a page
// (Page is empty in the by-cookie list).
type CookieRow struct {
	Page        string `json:"page,omitempty"`
	Cookie      string `json:"cookie"`
	Impressions int64  `json:"impressions"`
}

// Cookies lists undeclared cookies seen before consent, by name or by page
// and name, most impressions first. Rows seen on fewer than K impressions
// fold into Other (impressions carry no ID, so k counts impressions).
type Cookies struct {
	Meta
	By    string      `json:"by"` // cookie or page
	K     int         `json:"k"`
	Rows  []CookieRow `json:"rows"`
	Other *CookieRow  `json:"other"`
}

// Table lists page (by page), cookie and impressions.
func (c *Cookies) Table() Table {
	t := Table{Header: []string{"cookie", "impressions"}}
	if c.By == "page" {
		t.Header = []string{"page", "cookie", "impressions"}
	}
	add := func(r CookieRow) {
		if c.By == "page" {
			t.Rows = append(t.Rows, []any{r.Page, r.Cookie, r.Impressions})
		} else {
			t.Rows = append(t.Rows, []any{r.Cookie, r.Impressions})
		}
	}
	for _, r := range c.Rows {
		add(r)
	}
	if c.Other != nil {
		add(*c.Other)
	}
	return t
}

// UndeclaredCookies returns the undeclared cookies browsers held before any
// decision, by cookie name or (byPage) by page and name.
func (s *Service) UndeclaredCookies(ctx context.Context, q query.Query, byPage bool, limit int) (*Cookies, error) {
	if limit < 1 || limit > query.MaxLimit {
		return nil, query.BadParam("limit", "must be 1 to %d", query.MaxLimit)
	}
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, cookiesSQL(p, byPage))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Cookies{Meta: metaOf(q, p.sample.rate), By: "cookie", K: p.k, Rows: []CookieRow{}}
	if byPage {
		out.By = "page"
	}
	var other int64
	for rows.Next() {
		var v string
		var n uint64
		if err := rows.Scan(&v, &n); err != nil {
			return nil, s.wrap(ctx, err)
		}
		if n < uint64(p.k) || len(out.Rows) >= limit {
			other += int64(n)
			continue
		}
		r := CookieRow{Cookie: v, Impressions: int64(n)}
		if byPage {
			r.Page, r.Cookie, _ = strings.Cut(v, propSep)
		}
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, err)
	}
	if other >= int64(p.k) {
		out.Other = &CookieRow{Cookie: query.Other, Impressions: other}
		if byPage {
			out.Other.Page = query.Other
		}
	}
	return out, nil
}

// siteK returns the site's k.
func siteK(st *model.Site) int {
	if st.K < model.MinK {
		return model.DefaultK
	}
	return st.K
}
