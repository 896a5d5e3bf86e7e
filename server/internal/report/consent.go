package report

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
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

// decisionSums are the columns of the decision queries after consents.
type decisionSums struct {
	decisions, accept, reject, custom, withdraw, perf, fn, tgt, gpc uint64
}

func (d *decisionSums) dest() []any {
	return []any{&d.decisions, &d.accept, &d.reject, &d.custom, &d.withdraw, &d.perf, &d.fn, &d.tgt, &d.gpc}
}

func consentMetrics(consents uint64, d decisionSums, imp, impGPC, undeclared uint64) result.ConsentMetrics {
	pct := func(a, b uint64) float64 { return result.Round1(100 * result.Ratio(float64(a), float64(b))) }
	return result.ConsentMetrics{
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

// consentPlan validates q for consent analytics: the filters may only
// name country, device, page or language.
func (s *Service) consentPlan(ctx context.Context, q query.Query) (*plan.Plan, error) {
	for _, f := range q.Filters {
		if _, ok := plan.ConsentFilterColumns[f.Dimension]; !ok {
			return nil, query.BadParam("filter", "consent analytics can be filtered by country, device, page and language only, not %s", f.Dimension)
		}
	}
	return s.newPlan(ctx, q, planConsent)
}

// ConsentOverview returns impressions, decisions, opt-in rates, GPC
// shares and coverage of q's period.
func (s *Service) ConsentOverview(ctx context.Context, q query.Query) (*result.ConsentOverview, error) {
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	var (
		consents, imp, impGPC, undeclared uint64
		d                                 decisionSums
		t                                 sums
		dt                                result.DecisionTime
	)
	sk := &sketched{}
	err = parallel(
		func() error {
			if err := s.queryRow(ctx, plan.ConsentDecisionsSQL(p, ""), append([]any{&consents}, d.dest()...)...); err != nil || !p.Estimate {
				return err
			}
			if !s.exactBelow(consents) {
				sk.add(result.MetricConsents)
				return nil
			}
			var x decisionSums
			return s.queryRow(ctx, plan.ConsentDecisionsSQL(p.Exact(), ""), append([]any{&consents}, x.dest()...)...)
		},
		func() error { return s.queryRow(ctx, plan.ConsentImpressionsSQL(p, ""), &imp, &impGPC, &undeclared) },
		func() error {
			st, err := s.decisionTimeSQL(ctx, p)
			if err != nil {
				return err
			}
			var n, median uint64
			var buckets []uint64
			if err := s.queryRow(ctx, st, &n, &median, &buckets); err != nil {
				return err
			}
			dt = decisionTime(n, median, buckets, p.K)
			return nil
		},
		func() error {
			// Page views, with the same filters (they name event columns too).
			tp, err := s.newPlan(ctx, q, planSums)
			if err != nil {
				return err
			}
			// Page views only; with filters the overview's own totals
			// statement, which a dashboard load then reads once
			// (Service.queryRow), where dropping the distinct counts
			// would make it a second read of the same events.
			tp.NoDistinct = tp.UseMV()
			if err := s.queryRow(ctx, plan.TotalsSQL(tp), t.dest()...); err != nil {
				return err
			}
			m := t.metrics(tp.Sample)
			t.pv, t.apv = uint64(m.Pageviews-m.AnonymousPageviews), uint64(m.AnonymousPageviews)
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	o := &result.ConsentOverview{Meta: s.meta(q, sk, p.Sample.Rate), ConsentMetrics: consentMetrics(consents, d, imp, impGPC, undeclared),
		ConsentedPageviews: int64(t.pv), AnonymousPageviews: int64(t.apv),
		EstimatedCoverage: result.Round1(100 * result.Ratio(float64(d.perf), float64(imp))), TimeToDecision: dt}
	if t.apv > 0 {
		ms := result.Round1(100 * float64(t.pv) / float64(t.pv+t.apv))
		o.MeasuredShare = &ms
	}
	if why := withheldOf(q, o.Consents, p.K, "consents"); why != "" {
		o = &result.ConsentOverview{Meta: s.meta(q, nil)}
		o.Withheld = why
	}
	return o, nil
}

// decisionTimeSQL reads the times to decision of p's range from the sealed
// window of its closed days, and today's decisions, when p has no filters
// and the window's seal still holds; else from every decision.
func (s *Service) decisionTimeSQL(ctx context.Context, p *plan.Plan) (*plan.Stmt, error) {
	w, ok := s.window(p)
	if !p.UseMV() || !ok {
		return plan.DecisionTimeSQL(p), nil
	}
	if err := s.queryRow(ctx, plan.DecisionWindowSQL(p.Site, w.End, w.Days), &w.SealedMS); err != nil {
		return nil, err
	}
	if w.SealedMS == 0 {
		return plan.DecisionTimeSQL(p), nil
	}
	return plan.DecisionTimeWindowSQL(p, w), nil
}

// SealWindowDecisions writes the times to decision of the window
// [end-days+1, end] as sealed at ms (report_window_decisions): the sealing
// job calls it within clickhouse.DB.SealWindows, before the window's seal
// is marked complete.
func (s *Service) SealWindowDecisions(ctx context.Context, site string, end time.Time, days int, ms uint64) error {
	end = end.UTC()
	return s.exec(ctx, plan.SealWindowDecisionsSQL(site, end.AddDate(0, 0, 1-days), end, days, ms))
}

// decisionTime shapes DecisionTimeSQL's answer, k applied.
func decisionTime(n, median uint64, buckets []uint64, k int) result.DecisionTime {
	dt := result.DecisionTime{K: k, Decisions: int64(n), Buckets: []result.DecisionTimeBucket{}}
	if n < uint64(k) {
		return dt
	}
	m := int64(median)
	dt.MedianMS = &m
	lo := uint32(0)
	for i, c := range buckets {
		var label string
		if i < len(plan.DecisionTimeBounds) {
			hi := plan.DecisionTimeBounds[i]
			label = fmt.Sprintf("%d-%d s", lo/1000, hi/1000)
			if lo == 0 {
				label = fmt.Sprintf("under %d s", hi/1000)
			}
			lo = hi
		} else {
			label = fmt.Sprintf("%d s or more", lo/1000)
		}
		b := result.DecisionTimeBucket{Label: label}
		if c >= uint64(k) {
			v := int64(c)
			b.Decisions = &v
		}
		dt.Buckets = append(dt.Buckets, b)
	}
	return dt
}

// ConsentTimeseries returns consent numbers per bucket of q.Interval.
func (s *Service) ConsentTimeseries(ctx context.Context, q query.Query) (*result.ConsentSeries, error) {
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
	sk := &sketched{}
	readDecs := func(x *plan.Plan, into map[time.Time]dec) error {
		rows, err := s.query(ctx, plan.ConsentDecisionsSQL(x, q.Interval))
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
			into[b.UTC()] = v
		}
		return s.wrap(ctx, rows.Err())
	}
	err = parallel(
		func() error {
			// Days of the pre-aggregated tables: consents from the sealed
			// days whose decision count still matches, exactly otherwise;
			// other buckets: as the plan counts, small estimates exactly.
			daily := p.UseMV() && q.Interval == query.Day
			x := *p
			x.NoDistinct = daily
			seals := map[time.Time][2]uint64{}
			err := parallel(
				func() error { return readDecs(&x, decs) },
				func() error {
					if !daily {
						return nil
					}
					rows, err := s.query(ctx, plan.ConsentDayCountsSQL(p))
					if err != nil {
						return err
					}
					defer rows.Close()
					for rows.Next() {
						var b time.Time
						var v [2]uint64
						if err := rows.Scan(&b, &v[0], &v[1]); err != nil {
							return s.wrap(ctx, err)
						}
						seals[b.UTC()] = v
					}
					return s.wrap(ctx, rows.Err())
				})
			if err != nil {
				return err
			}
			var days []string
			for b, v := range decs {
				switch {
				case daily:
					if sl, ok := seals[b]; ok && sl[1] == v.d.decisions {
						v.consents = sl[0]
						decs[b] = v
						continue
					}
				case !p.Estimate:
					continue
				case !s.exactBelow(v.consents):
					sk.add(result.MetricConsents)
					continue
				}
				days = append(days, bucketDays(b, q.Interval, p.From, p.To)...)
			}
			if len(days) == 0 {
				return nil
			}
			exact := map[time.Time]dec{}
			if err := readDecs(p.Exact(days...), exact); err != nil {
				return err
			}
			for b, v := range decs {
				if e, ok := exact[b]; ok && (daily || s.exactBelow(v.consents)) {
					v.consents = e.consents
					decs[b] = v
				}
			}
			return nil
		},
		func() error {
			rows, err := s.query(ctx, plan.ConsentImpressionsSQL(p, q.Interval))
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
	out := &result.ConsentSeries{Meta: s.meta(q, sk, p.Sample.Rate), Interval: q.Interval}
	for _, b := range buckets(q) {
		d, i := decs[b], imps[b]
		out.Points = append(out.Points, result.ConsentPoint{Time: b, ConsentMetrics: consentMetrics(d.consents, d.d, i.n, i.gpc, i.undeclared)})
	}
	// With filters, fewer than k consents and the points are withheld: a
	// bucket of k settles it, else the range's consents are counted.
	if len(q.Filters) > 0 && !slices.ContainsFunc(out.Points, func(pt result.ConsentPoint) bool { return pt.Consents >= int64(p.K) }) {
		var n uint64
		var d decisionSums
		if err := s.queryRow(ctx, plan.ConsentDecisionsSQL(p.Exact(), ""), append([]any{&n}, d.dest()...)...); err != nil {
			return nil, err
		}
		if why := withheldOf(q, int64(n), p.K, "consents"); why != "" {
			out = &result.ConsentSeries{Meta: s.meta(q, nil), Interval: q.Interval, Points: []result.ConsentPoint{}}
			out.Withheld = why
		}
	}
	return out, nil
}

// ConsentBreakdown returns consent numbers per value of dim.
func (s *Service) ConsentBreakdown(ctx context.Context, q query.Query, dim query.ConsentDimension, page query.Page) (*result.ConsentBreakdown, error) {
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
	type imp struct{ n, gpc, undeclared uint64 }
	imps := map[string]imp{}
	err = parallel(
		func() (err error) {
			n, exact := plan.ConsentColCount(p), 0
			if p.Estimate {
				exact = n - 1
			}
			frs, other, totals, err = s.readFoldExact(ctx, plan.ConsentBreakdownSQL(p, dim), n, p.K, exact)
			return err
		},
		func() error {
			rows, err := s.query(ctx, plan.ConsentImpressionsByValueSQL(p, dim))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var v string
				var i imp
				if err := rows.Scan(&v, &i.n, &i.gpc, &i.undeclared); err != nil {
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
	sk := &sketched{}
	if p.Estimate {
		// Estimated consents (first) stay only above the exact threshold;
		// the exact ones are last.
		pick := func(r *foldRow) {
			if n := len(r.vals); s.exactBelow(r.vals[0]) {
				r.vals[0] = r.vals[n-1]
			} else {
				sk.add(result.MetricConsents)
			}
		}
		for i := range frs {
			pick(&frs[i])
		}
		if other != nil {
			pick(other)
		}
		pick(&totals)
	}
	conv := func(value string, v []uint64, im imp) result.ConsentRow {
		d := decisionSums{v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]}
		return result.ConsentRow{Value: value, ConsentMetrics: consentMetrics(v[0], d, im.n, im.gpc, im.undeclared)}
	}
	var all, shown imp
	for _, i := range imps {
		all.n, all.gpc, all.undeclared = all.n+i.n, all.gpc+i.gpc, all.undeclared+i.undeclared
	}
	rows := make([]result.ConsentRow, len(frs))
	for i, r := range frs {
		im := imps[r.label]
		shown.n, shown.gpc, shown.undeclared = shown.n+im.n, shown.gpc+im.gpc, shown.undeclared+im.undeclared
		rows[i] = conv(label(r.label), r.vals, im)
	}
	out := &result.ConsentBreakdown{Meta: s.meta(q, sk, p.Sample.Rate), Dimension: dim, K: p.K, Page: page.Number, Limit: page.Limit,
		Totals: conv("(total)", totals.vals, all), Rows: []result.ConsentRow{}}
	if other != nil {
		r := conv(query.Other, other.vals, imp{all.n - shown.n, all.gpc - shown.gpc, all.undeclared - shown.undeclared})
		out.Other = &r
	}
	offset := (page.Number - 1) * page.Limit
	if offset < len(rows) {
		out.Rows = rows[offset:min(len(rows), offset+page.Limit)]
	}
	out.More = len(rows) > offset+page.Limit
	if why := withheldOf(q, out.Totals.Consents, p.K, "consents"); why != "" {
		out.Rows, out.Other, out.More = []result.ConsentRow{}, nil, false
		out.Meta = s.meta(q, nil)
		out.Withheld = why
	}
	return out, nil
}

// UndeclaredCookies returns the undeclared cookies browsers held before any
// decision, by cookie name or (byPage) by page and name.
func (s *Service) UndeclaredCookies(ctx context.Context, q query.Query, byPage bool, limit int) (*result.Cookies, error) {
	if limit < 1 || limit > query.MaxLimit {
		return nil, query.BadParam("limit", "must be 1 to %d", query.MaxLimit)
	}
	p, err := s.consentPlan(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, plan.CookiesSQL(p, byPage))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &result.Cookies{Meta: result.MetaOf(q, p.Sample.Rate), By: "cookie", K: p.K, Rows: []result.CookieRow{}}
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
		if n < uint64(p.K) || len(out.Rows) >= limit {
			other += int64(n)
			continue
		}
		r := result.CookieRow{Cookie: v, Impressions: int64(n)}
		if byPage {
			r.Page, r.Cookie, _ = strings.Cut(v, plan.PropSep)
		}
		out.Rows = append(out.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, err)
	}
	if other >= int64(p.K) {
		out.Other = &result.CookieRow{Cookie: query.Other, Impressions: other}
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
