package report

import (
	"context"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// sums are a traffic query's columns: visitors, visits, consented page
// views, anonymous page views, engaged ms, engagements, consented events.
type sums struct {
	visitors, visits, pv, apv, eng, engn, ec uint64
}

func (t *sums) dest() []any {
	return []any{&t.visitors, &t.visits, &t.pv, &t.apv, &t.eng, &t.engn, &t.ec}
}

// metrics turns sums (on a sample of visitors: anonymous page views are
// never sampled) into metrics.
func (t sums) metrics(smp plan.Sampling) result.Metrics {
	m := result.Metrics{
		Visitors:           smp.Scale(t.visitors),
		Visits:             smp.Scale(t.visits),
		AnonymousPageviews: int64(t.apv),
		Pageviews:          smp.Scale(t.pv) + int64(t.apv),
		Events:             smp.Scale(t.ec) + int64(t.apv),
	}
	m.ViewsPerVisit = result.Round2(result.Ratio(float64(t.pv), float64(t.visits)))
	m.TimeOnPage = result.Round1(result.Ratio(float64(t.eng), float64(t.pv)) / 1000)
	return m
}

// sessionStats are a session query's numbers, on its sample.
type sessionStats struct {
	visitors, returning, visits, bounces, duration uint64
}

func (st sessionStats) apply(m *result.Metrics, smp plan.Sampling) {
	m.BounceRate = result.Round1(100 * result.Ratio(float64(st.bounces), float64(st.visits)))
	m.VisitDuration = result.Round1(result.Ratio(float64(st.duration), float64(st.visits)))
	if smp.Sampled() {
		m.ReturningVisitors = int64(math.Round(float64(m.Visitors) * result.Ratio(float64(st.returning), float64(st.visitors))))
	} else {
		m.ReturningVisitors = int64(st.returning)
	}
}

// Overview returns the headline numbers of q's period (and of the
// previous period with q.Compare).
func (s *Service) Overview(ctx context.Context, q query.Query) (*result.Overview, error) {
	est := &sketched{}
	m, rates, err := s.periodMetrics(ctx, q, est)
	if err != nil {
		return nil, err
	}
	k := s.kOf(ctx, q.Site)
	if why := withheld(q, m.Visitors, k); why != "" {
		o := &result.Overview{Meta: s.meta(q, nil)}
		o.Withheld = why
		return o, nil
	}
	o := &result.Overview{Metrics: m}
	days, err := s.importedDays(ctx, q)
	if err != nil {
		return nil, err
	}
	o.Imported = imported(days)
	if q.Compare {
		prev, prates, err := s.periodMetrics(ctx, q.Previous(), est)
		if err != nil {
			return nil, err
		}
		rates = append(rates, prates...)
		if withheld(q, prev.Visitors, k) == "" {
			o.Previous = &prev
			o.Change = map[query.Metric]*float64{}
			for _, name := range result.OverviewMetrics {
				o.Change[name] = result.Change(name, m.Get(name), prev.Get(name))
			}
		}
	}
	o.Meta = s.meta(q, est, rates...)
	return o, nil
}

// totals reads a range's sums: with estimated distinct counts when the
// plan allows, counted again exactly when one of them is small.
func (s *Service) totals(ctx context.Context, p *plan.Plan, est *sketched) (sums, error) {
	var t sums
	if err := s.queryRow(ctx, plan.TotalsSQL(p), t.dest()...); err != nil {
		return t, err
	}
	if !p.Estimate {
		return t, nil
	}
	t, err := s.recount(ctx, p, t, est, func(x *plan.Plan, into *sums) error {
		return s.queryRow(ctx, plan.TotalsSQL(x), into.dest()...)
	})
	return t, err
}

// recount replaces the small estimated distinct counts of t by exact
// ones, read by exact (with the plan's exact twin), and notes the
// estimates that stay.
func (s *Service) recount(ctx context.Context, p *plan.Plan, t sums, est *sketched, exact func(*plan.Plan, *sums) error) (sums, error) {
	smallV, smallS := s.exactBelow(t.visitors), s.exactBelow(t.visits)
	if smallV || smallS {
		var x sums
		if err := exact(p.Exact(), &x); err != nil {
			return t, err
		}
		if smallV {
			t.visitors = x.visitors
		}
		if smallS {
			t.visits = x.visits
		}
	}
	if !smallV {
		est.add(query.MetricVisitors)
	}
	if !smallS {
		est.add(query.MetricVisits, query.MetricViewsPerVisit)
	}
	return t, nil
}

func (s *Service) periodMetrics(ctx context.Context, q query.Query, est *sketched) (result.Metrics, []float64, error) {
	var (
		t     sums
		st    sessionStats
		p, ps *plan.Plan
		out   result.Metrics
	)
	err := parallel(
		func() (err error) {
			if p, err = s.newPlan(ctx, q, planSums); err != nil {
				return err
			}
			t, err = s.totals(ctx, p, est)
			return err
		},
		func() (err error) {
			if ps, err = s.newPlan(ctx, q, planSessions); err != nil {
				return err
			}
			if ps.Sample.Sampled() && s.fewFiltered(ctx, ps) {
				// The sample would most likely find fewer returning
				// visitors than MinEstimated, and be counted again on every
				// visitor below: count them so at once.
				x := *ps
				x.Sample = plan.Sampling{Rate: 1}
				ps = &x
			}
			return s.queryRow(ctx, plan.SessionStatsSQL(ps), &st.visitors, &st.returning, &st.visits, &st.bounces, &st.duration)
		},
	)
	if err != nil {
		return result.Metrics{}, nil, err
	}
	out = t.metrics(p.Sample)
	st.apply(&out, ps.Sample)
	if ps.Sample.Sampled() && uint64(out.ReturningVisitors) < s.opts.MinEstimated*11/10 {
		// Too few returning visitors to estimate within 1%: count them all.
		exact := *ps
		exact.Sample = plan.Sampling{Rate: 1}
		if err := s.queryRow(ctx, plan.SessionStatsSQL(&exact), &st.visitors, &st.returning, &st.visits, &st.bounces, &st.duration); err != nil {
			return result.Metrics{}, nil, err
		}
		ps = &exact
		st.apply(&out, ps.Sample)
	}
	return out, []float64{p.Sample.Rate, ps.Sample.Rate}, nil
}

// fewFiltered reports whether p's filters leave so few visitors that
// their returning visitors are most likely under MinEstimated: an is
// filter on a page-view or acquisition dimension whose value had fewer
// than twice as many (from a sketch of report_dims, with a 10% margin).
// Only the cost depends on it: a wrong guess either counts every visitor
// at once, or samples and then counts every visitor.
func (s *Service) fewFiltered(ctx context.Context, p *plan.Plan) bool {
	for _, f := range p.Filters {
		d, _ := query.Lookup(f.Dimension)
		if f.Op != query.Is || f.Value == query.None || (d.Kind != query.KindPage && d.Kind != query.KindAcquisition) {
			continue
		}
		var n uint64
		if err := s.queryRow(ctx, plan.FilterVisitorsSQL(p, f), &n); err == nil && n < 2*s.opts.MinEstimated*11/10 {
			return true
		}
	}
	return false
}

// Timeseries returns metrics per bucket of q.Interval, every bucket of the
// range present (zero when empty).
func (s *Service) Timeseries(ctx context.Context, q query.Query, metrics []query.Metric) (*result.Timeseries, error) {
	if len(metrics) == 0 {
		metrics = query.DefaultTimeseriesMetrics
	}
	if _, err := query.ParseMetrics(result.MetricNames(metrics)); err != nil {
		return nil, err
	}
	ts := &result.Timeseries{Interval: q.Interval, Metrics: metrics}
	est := &sketched{}
	points, rates, err := s.series(ctx, q, metrics, est)
	if err != nil {
		return nil, err
	}
	// With filters, fewer than k visitors and the points are withheld: a
	// bucket of k visitors or more settles it, else the range's visitors
	// are counted.
	k := s.kOf(ctx, q.Site)
	if len(q.Filters) > 0 && !slices.ContainsFunc(points, func(pt result.Point) bool { return pt.Metrics.Visitors >= int64(k) }) {
		p, err := s.newPlan(ctx, q, planSums)
		if err != nil {
			return nil, err
		}
		t, err := s.totals(ctx, p, &sketched{})
		if err != nil {
			return nil, err
		}
		if why := withheld(q, t.metrics(p.Sample).Visitors, k); why != "" {
			ts.Points = []result.Point{}
			ts.Meta = s.meta(q, nil)
			ts.Withheld = why
			return ts, nil
		}
	}
	ts.Points = points
	days, err := s.importedDays(ctx, q)
	if err != nil {
		return nil, err
	}
	if im := imported(days); im != nil {
		ts.ImportedFormat, ts.Imported = im.Format, importedPoints(days, q.Interval)
	}
	if q.Compare {
		prev, prates, err := s.series(ctx, q.Previous(), metrics, est)
		if err != nil {
			return nil, err
		}
		ts.Previous = prev
		rates = append(rates, prates...)
	}
	ts.Meta = s.meta(q, est, rates...)
	return ts, nil
}

// readSeries reads a statement of bucket and sums rows into out; with
// extra, each row has one more column, handed to it with its bucket.
func (s *Service) readSeries(ctx context.Context, st *plan.Stmt, out map[time.Time]sums, extra func(b time.Time, v uint64)) error {
	rows, err := s.query(ctx, st)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b time.Time
		var t sums
		dest := append([]any{&b}, t.dest()...)
		var more uint64
		if extra != nil {
			dest = append(dest, &more)
		}
		if err := rows.Scan(dest...); err != nil {
			return s.wrap(ctx, err)
		}
		out[b.UTC()] = t
		if extra != nil {
			extra(b.UTC(), more)
		}
	}
	return s.wrap(ctx, rows.Err())
}

// seriesSums reads the sums of every bucket: daily ones of the
// pre-aggregated tables from the sealed days (exact counts), every other
// one with the plan's distinct counts, small estimates counted again
// exactly on their buckets' days.
func (s *Service) seriesSums(ctx context.Context, p *plan.Plan, iv query.Interval, out map[time.Time]sums, est *sketched) error {
	if p.UseMV() && iv == query.Day {
		return s.daySeries(ctx, p, out)
	}
	if err := s.readSeries(ctx, plan.SeriesSQL(p, iv), out, nil); err != nil {
		return err
	}
	if !p.Estimate {
		return nil
	}
	var days []string
	for b, t := range out {
		if s.exactBelow(t.visitors) || s.exactBelow(t.visits) {
			days = append(days, bucketDays(b, iv, p.From, p.To)...)
		}
	}
	exact := map[time.Time]sums{}
	if len(days) > 0 {
		if err := s.readSeries(ctx, plan.SeriesSQL(p.Exact(days...), iv), exact, nil); err != nil {
			return err
		}
	}
	for b, t := range out {
		x := exact[b]
		t, _ = s.recount(ctx, p, t, est, func(_ *plan.Plan, into *sums) error { *into = x; return nil })
		out[b] = t
	}
	return nil
}

// daySeries reads the days of a pre-aggregated range: sums from
// report_daily, visitors and visits from the sealed days whose event count
// still matches, and from the exact states for the other days (today, a
// day with late events or a rebuilt one).
func (s *Service) daySeries(ctx context.Context, p *plan.Plan, out map[time.Time]sums) error {
	type sealed struct{ visitors, visits, events uint64 }
	live := map[time.Time]uint64{}
	seals := map[time.Time]sealed{}
	err := parallel(
		func() error {
			return s.readSeries(ctx, plan.DaySeriesSumsSQL(p), out, func(b time.Time, n uint64) { live[b] = n })
		},
		func() error {
			rows, err := s.query(ctx, plan.DayCountsSQL(p))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var b time.Time
				var d sealed
				if err := rows.Scan(&b, &d.visitors, &d.visits, &d.events); err != nil {
					return s.wrap(ctx, err)
				}
				seals[b.UTC()] = d
			}
			return s.wrap(ctx, rows.Err())
		})
	if err != nil {
		return err
	}
	var days []string
	for b, t := range out {
		if d, ok := seals[b]; ok && d.events == live[b] {
			t.visitors, t.visits = d.visitors, d.visits
			out[b] = t
			continue
		}
		days = append(days, b.Format(time.DateOnly))
	}
	if len(days) == 0 {
		return nil
	}
	exact := map[time.Time]sums{}
	if err := s.readSeries(ctx, plan.SeriesSQL(p.Exact(days...), query.Day), exact, nil); err != nil {
		return err
	}
	for b, x := range exact {
		t := out[b]
		t.visitors, t.visits = x.visitors, x.visits
		out[b] = t
	}
	return nil
}

// bucketDays lists the days (YYYY-MM-DD) of bucket b within [from, to].
func bucketDays(b time.Time, iv query.Interval, from, to time.Time) []string {
	start, end := b, b.AddDate(0, 0, 1)
	switch iv {
	case query.Hour:
		start = time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
		end = start.AddDate(0, 0, 1)
	case query.Week:
		end = b.AddDate(0, 0, 7)
	case query.Month:
		end = b.AddDate(0, 1, 0)
	}
	var out []string
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		if !d.Before(from) && !d.After(to) {
			out = append(out, d.Format(time.DateOnly))
		}
	}
	return out
}

func (s *Service) series(ctx context.Context, q query.Query, metrics []query.Metric, est *sketched) ([]result.Point, []float64, error) {
	needSessions := slices.ContainsFunc(metrics, query.Metric.NeedsSessions)
	bySums := map[time.Time]sums{}
	bySessions := map[time.Time]sessionStats{}
	var p, ps *plan.Plan
	fns := []func() error{func() (err error) {
		if p, err = s.newPlan(ctx, q, planSums); err != nil {
			return err
		}
		return s.seriesSums(ctx, p, q.Interval, bySums, est)
	}}
	if needSessions {
		fns = append(fns, func() (err error) {
			if ps, err = s.newPlan(ctx, q, planSessions); err != nil {
				return err
			}
			rows, err := s.query(ctx, plan.SessionSeriesSQL(ps, q.Interval))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var b time.Time
				var st sessionStats
				if err := rows.Scan(&b, &st.visits, &st.bounces, &st.duration); err != nil {
					return s.wrap(ctx, err)
				}
				bySessions[b.UTC()] = st
			}
			return s.wrap(ctx, rows.Err())
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, nil, err
	}
	rates := []float64{p.Sample.Rate}
	if ps != nil {
		rates = append(rates, ps.Sample.Rate)
	}
	var out []result.Point
	for _, b := range buckets(q) {
		m := bySums[b].metrics(p.Sample)
		if ps != nil {
			bySessions[b].apply(&m, ps.Sample)
		}
		out = append(out, result.Point{Time: b, Metrics: m})
	}
	return out, rates, nil
}

// buckets lists the starts of every bucket of q's range.
func buckets(q query.Query) []time.Time {
	var out []time.Time
	end := q.To.AddDate(0, 0, 1)
	switch q.Interval {
	case query.Hour:
		for t := q.From; t.Before(end); t = t.Add(time.Hour) {
			out = append(out, t)
		}
	case query.Week:
		t := q.From.AddDate(0, 0, -((int(q.From.Weekday()) + 6) % 7))
		for ; t.Before(end); t = t.AddDate(0, 0, 7) {
			out = append(out, t)
		}
	case query.Month:
		for t := time.Date(q.From.Year(), q.From.Month(), 1, 0, 0, 0, 0, time.UTC); t.Before(end); t = t.AddDate(0, 1, 0) {
			out = append(out, t)
		}
	default:
		for t := q.From; t.Before(end); t = t.AddDate(0, 0, 1) {
			out = append(out, t)
		}
	}
	return out
}

// BreakdownOptions select a page of rows and, for DimEventProp, the
// custom event (required) and the property key (empty: list the keys).
type BreakdownOptions struct {
	Page     query.Page
	Event    string
	Property string
}

// Breakdown returns the values of dim in q's period, most visitors first,
// folded to the site's k. Compared (q.Compare), each row and the totals
// carry their numbers in the previous period (or year): a row's are null
// when the value had fewer than k visitors then, or was not among the
// previous period's first 1,000 rows.
func (s *Service) Breakdown(ctx context.Context, q query.Query, dim query.Dimension, o BreakdownOptions) (*result.Breakdown, error) {
	if !q.Compare {
		return s.breakdown(ctx, q, dim, o)
	}
	var cur, prev *result.Breakdown
	err := parallel(func() (err error) {
		cur, err = s.breakdown(ctx, q, dim, o)
		return err
	}, func() (err error) {
		prev, err = s.breakdown(ctx, q.Previous(), dim, BreakdownOptions{Page: query.Page{Limit: query.MaxLimit, Number: 1}, Event: o.Event, Property: o.Property})
		return err
	})
	if err != nil {
		return nil, err
	}
	before := make(map[string]*result.Row, len(prev.Rows))
	if cur.Withheld != "" {
		return cur, nil
	}
	for i := range prev.Rows {
		before[prev.Rows[i].Value] = &prev.Rows[i]
	}
	cur.Compared = true
	for i := range cur.Rows {
		cur.Rows[i].Previous = before[cur.Rows[i].Value]
	}
	if prev.Withheld == "" {
		cur.Totals.Previous = &prev.Totals
	}
	for _, how := range prev.Estimation {
		cur.Meta.Note(how, prev.Estimated...)
	}
	cur.SampleRate = min(cur.SampleRate, prev.SampleRate)
	return cur, nil
}

func (s *Service) breakdown(ctx context.Context, q query.Query, dim query.Dimension, o BreakdownOptions) (*result.Breakdown, error) {
	d, ok := query.Lookup(dim)
	if !ok {
		return nil, query.BadParam("dimension", "unknown dimension %q", query.Clip(string(dim), 40))
	}
	if d.Kind == query.KindGoal {
		return nil, query.BadParam("dimension", "goals are reported by /goals; goal is a filter")
	}
	if o.Page == (query.Page{}) {
		o.Page = query.Page{Limit: query.DefaultLimit, Number: 1}
	}
	if err := o.Page.Validate(); err != nil {
		return nil, err
	}
	if dim == query.DimEventProp {
		if o.Event == "" {
			return nil, query.BadParam("event", "the event_prop breakdown needs event (a custom event name)")
		}
		if len(o.Event) > 200 || len(o.Property) > 200 {
			return nil, query.BadParam("event", "event and property are at most 200 bytes")
		}
	}
	kind := planSums
	switch d.Kind {
	case query.KindSession:
		kind = planSessionRows
	}
	p, err := s.newPlan(ctx, q, kind)
	if err != nil {
		return nil, err
	}
	b := &result.Breakdown{Dimension: dim, Event: o.Event, Property: o.Property, K: p.K, Metrics: d.RowMetrics(),
		Page: o.Page.Number, Limit: o.Page.Limit}
	if dim == query.DimEventProp && o.Property == "" {
		b.Metrics = []query.Metric{query.MetricVisitors, query.MetricEvents, query.MetricConversionRate}
	}
	offset := (o.Page.Number - 1) * o.Page.Limit
	want := offset + o.Page.Limit + 1 // one more tells whether there is a next page

	var rows []result.Row
	var total sums
	var periodVisitors int64
	sk := &sketched{}
	period := &sketched{} // the conversion rates' denominator
	fns := []func() error{func() (err error) {
		switch {
		case d.Kind == query.KindSession:
			rows, b.Other, b.Totals, err = s.sessionBreakdown(ctx, p, dim, want)
		case d.Kind == query.KindLoyalty:
			rows, b.Other, b.Totals, err = s.loyaltyBreakdown(ctx, p, dim)
		case p.UseMV():
			rows, b.Other, b.Totals, err = s.mvBreakdown(ctx, p, dim, o.Event, o.Property, want, sk)
		default:
			rows, b.Other, b.Totals, err = s.rawBreakdown(ctx, p, dim, o.Event, o.Property, want)
		}
		return err
	}}
	if slices.Contains(b.Metrics, query.MetricConversionRate) {
		fns = append(fns, func() error {
			var err error
			if total, err = s.totals(ctx, p, period); err != nil {
				return err
			}
			periodVisitors = total.metrics(p.Sample).Visitors
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	if periodVisitors > 0 {
		conv := func(r *result.Row) {
			r.ConversionRate = result.Round1(100 * float64(r.Visitors) / float64(periodVisitors))
		}
		for i := range rows {
			conv(&rows[i])
		}
		if b.Other != nil {
			conv(b.Other)
		}
		conv(&b.Totals)
	}
	matched := b.Totals.Visitors
	// Rows carry only the dimension's metrics.
	keep := func(r *result.Row) {
		z := result.Row{Value: r.Value}
		for _, m := range b.Metrics {
			switch m {
			case query.MetricVisitors:
				z.Visitors = r.Visitors
			case query.MetricVisits:
				z.Visits = r.Visits
			case query.MetricPageviews:
				z.Pageviews = r.Pageviews
			case query.MetricEvents:
				z.Events = r.Events
			case query.MetricTimeOnPage:
				z.TimeOnPage = r.TimeOnPage
			case query.MetricBounceRate:
				z.BounceRate = r.BounceRate
			case query.MetricVisitDuration:
				z.VisitDuration = r.VisitDuration
			case query.MetricConversionRate:
				z.ConversionRate = r.ConversionRate
			}
		}
		*r = z
	}
	for i := range rows {
		keep(&rows[i])
	}
	if b.Other != nil {
		keep(b.Other)
	}
	keep(&b.Totals)
	if len(rows) > offset+o.Page.Limit {
		b.More = true
	}
	if offset < len(rows) {
		b.Rows = rows[offset:min(len(rows), offset+o.Page.Limit)]
	}
	if b.Rows == nil {
		b.Rows = []result.Row{}
	}
	b.Meta = s.meta(q, sk, p.Sample.Rate)
	// A conversion rate is estimated when its row's visitors are, or the
	// period's.
	if periodVisitors > 0 && slices.Contains(sk.rows, query.MetricVisitors) {
		b.Meta.Note(s.rowsNote(), query.MetricConversionRate)
	}
	if periodVisitors > 0 && slices.Contains(period.m, query.MetricVisitors) {
		b.Meta.Note(s.sketchNote(), query.MetricConversionRate)
	}
	if why := withheld(q, matched, p.K); why != "" {
		b.Rows, b.Other, b.Totals, b.More = []result.Row{}, nil, result.Row{Value: b.Totals.Value}, false
		b.Meta = s.meta(q, nil)
		b.Withheld = why
	}
	return b, nil
}

// foldRow is one result row of plan.FoldSQL.
type foldRow struct {
	folded bool
	label  string
	vals   []uint64
	k      uint64
}

// readFold runs a plan.FoldSQL statement with ncols columns; it returns the
// unfolded rows, the folded row (nil when there is none or it covers fewer
// than k visitors) and the totals.
func (s *Service) readFold(ctx context.Context, st *plan.Stmt, ncols, k int) (rows []foldRow, other *foldRow, totals foldRow, err error) {
	return s.readFoldExact(ctx, st, ncols, k, 0)
}

// readFoldExact is readFold whose rows' exact visitors (for the k check
// above plan.ExactK) are column exact.
func (s *Service) readFoldExact(ctx context.Context, st *plan.Stmt, ncols, k, exact int) (rows []foldRow, other *foldRow, totals foldRow, err error) {
	rs, err := s.query(ctx, st)
	if err != nil {
		return nil, nil, foldRow{}, err
	}
	defer rs.Close()
	scan := func(into func(dest ...any) error) (foldRow, error) {
		var folded uint8
		r := foldRow{vals: make([]uint64, ncols)}
		dest := []any{&folded, &r.label}
		for i := range r.vals {
			dest = append(dest, &r.vals[i])
		}
		dest = append(dest, &r.k)
		err := into(dest...)
		r.folded = folded == 1
		return r, err
	}
	for rs.Next() {
		r, err := scan(rs.Scan)
		if err != nil {
			return nil, nil, foldRow{}, s.wrap(ctx, err)
		}
		if r.folded {
			if enough(r, k, exact) {
				r.label = query.Other
				other = &r
			}
			continue
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, foldRow{}, s.wrap(ctx, err)
	}
	if totals, err = scan(rs.Totals); err != nil {
		// No totals: no rows at all.
		totals = foldRow{vals: make([]uint64, ncols)}
	}
	totals.label = "(total)"
	return rows, other, totals, nil
}

// enough reports whether a folded row covers at least k visitors: its
// small exact count when k ≤ plan.ExactK, else its exact visitors
// (vals[exact]).
func enough(r foldRow, k, exact int) bool {
	if k <= plan.ExactK {
		return r.k >= uint64(k)
	}
	return r.vals[exact] >= uint64(k)
}

func label(v string) string {
	if v == "" {
		return query.None
	}
	return v
}

func trafficRow(value string, t sums, smp plan.Sampling) result.Row {
	m := t.metrics(smp)
	return result.Row{Value: value, Visitors: m.Visitors, Visits: m.Visits, Pageviews: m.Pageviews, Events: m.Events, TimeOnPage: m.TimeOnPage}
}

func sumsOf(v []uint64) sums {
	return sums{visitors: v[0], visits: v[1], pv: v[2], apv: v[3], eng: v[4], engn: v[5], ec: v[6]}
}

func (s *Service) rawBreakdown(ctx context.Context, p *plan.Plan, dim query.Dimension, event, key string, want int) ([]result.Row, *result.Row, result.Row, error) {
	frs, other, totals, err := s.readFold(ctx, plan.RawBreakdownSQL(p, dim, event, key, want+1), len(plan.TrafficCols), p.K)
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	rows := make([]result.Row, len(frs))
	for i, r := range frs {
		rows[i] = trafficRow(label(r.label), sumsOf(r.vals), p.Sample)
	}
	var o *result.Row
	if other != nil {
		r := trafficRow(query.Other, sumsOf(other.vals), p.Sample)
		o = &r
	}
	return rows, o, trafficRow(totals.label, sumsOf(totals.vals), p.Sample), nil
}

// mvValueRow is one value of a pre-aggregated breakdown.
type mvValueRow struct {
	value string
	k     uint64 // exact visitors up to 26
	est   uint64 // visitors, read when k > plan.ExactK
	t     sums
}

func (v mvValueRow) small(k int) bool {
	if k <= plan.ExactK {
		return v.k < uint64(k)
	}
	return v.est < uint64(k)
}

// mvBreakdown answers from report_dims in two steps: every value's exact
// small visitor count and sums, then the visitor sketches of only the
// values shown, of the small values together and of all.
func (s *Service) mvBreakdown(ctx context.Context, p *plan.Plan, dim query.Dimension, event, key string, want int, sk *sketched) ([]result.Row, *result.Row, result.Row, error) {
	rs, err := s.query(ctx, plan.MVValuesSQL(p, dim, event, key))
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	var big []mvValueRow
	var small, all sums
	nSmall := 0
	for rs.Next() {
		var v mvValueRow
		if err := rs.Scan(&v.value, &v.k, &v.est, &v.t.pv, &v.t.apv, &v.t.eng, &v.t.engn, &v.t.ec); err != nil {
			rs.Close()
			return nil, nil, result.Row{}, s.wrap(ctx, err)
		}
		all = add(all, v.t)
		if v.small(p.K) {
			small = add(small, v.t)
			nSmall++
			continue
		}
		big = append(big, v)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, nil, result.Row{}, s.wrap(ctx, err)
	}
	// Candidates by the count that bounds visitors from above (every
	// visitor of a row has at least one of its page views or events).
	bound := func(v mvValueRow) uint64 {
		if v.t.ec > v.t.pv {
			return v.t.ec
		}
		return v.t.pv
	}
	sort.Slice(big, func(i, j int) bool {
		if bound(big[i]) != bound(big[j]) {
			return bound(big[i]) > bound(big[j])
		}
		return big[i].value < big[j].value
	})

	var other *result.Row
	var totalVis, totalVisits uint64
	visitors := map[string][2]uint64{}
	// Few values: merge them all at once; many: the likely top ones first.
	m := len(big)
	if m > 4*want+20 {
		m = want + 5
	}
	for {
		values := make([]string, m)
		for i := range values {
			values[i] = big[i].value
		}
		fns := []func() error{func() error {
			if len(values) == 0 {
				return nil
			}
			// Estimated: the rows with more page views (events) than
			// ExactRowEvents from the sketches, the others exactly.
			var exact, sketch []string
			for i, v := range values {
				if p.Estimate && bound(big[i]) > s.opts.ExactRowEvents {
					sketch = append(sketch, v)
				} else {
					exact = append(exact, v)
				}
			}
			var mu sync.Mutex
			read := func(x *plan.Plan, vals []string) error {
				if len(vals) == 0 {
					return nil
				}
				rows, err := s.query(ctx, plan.MVVisitorsSQL(x, dim, event, key, vals))
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var v string
					var vs, ss uint64
					if err := rows.Scan(&v, &vs, &ss); err != nil {
						return s.wrap(ctx, err)
					}
					mu.Lock()
					visitors[v] = [2]uint64{vs, ss}
					mu.Unlock()
				}
				return s.wrap(ctx, rows.Err())
			}
			if len(sketch) > 0 {
				sk.addRows(query.MetricVisitors, query.MetricVisits)
			}
			return parallel(func() error { return read(p.Exact(), exact) }, func() error { return read(p, sketch) })
		}}
		if other == nil && totalVis == 0 {
			if nSmall > 0 {
				fns = append(fns, func() error {
					var vs, ss, k uint64
					// The small values together (estimated like the raw path's
					// folded row).
					if err := s.queryRow(ctx, plan.MVOtherSQL(p, dim, event, key), &vs, &ss, &k); err != nil {
						return err
					}
					r := foldRow{vals: []uint64{vs}, k: k}
					if enough(r, p.K, 0) {
						small.visitors, small.visits = vs, ss
						row := trafficRow(query.Other, small, p.Sample)
						other = &row
					}
					return nil
				})
			}
			fns = append(fns, func() error {
				read := func(x *plan.Plan, into *sums) error {
					return s.queryRow(ctx, plan.MVDimTotalsSQL(x, dim, event, key), &into.visitors, &into.visits)
				}
				var t sums
				if err := read(p, &t); err != nil || !p.Estimate {
					totalVis, totalVisits = t.visitors, t.visits
					return err
				}
				// Totals under ExactCount (plus the sketch's margin) are
				// counted again exactly, like an overview's; the others
				// keep the rows' sketch.
				est := &sketched{}
				t, err := s.recount(ctx, p, t, est, read)
				for _, m := range est.m {
					if m == query.MetricVisitors || m == query.MetricVisits {
						sk.addRows(m)
					}
				}
				totalVis, totalVisits = t.visitors, t.visits
				return err
			})
		}
		if err := parallel(fns...); err != nil {
			return nil, nil, result.Row{}, err
		}
		// The top rows are exact when no value left out could have more
		// visitors than the last row wanted.
		cands := big[:m]
		for i := range cands {
			vv := visitors[cands[i].value]
			cands[i].t.visitors, cands[i].t.visits = vv[0], vv[1]
		}
		sorted := slices.Clone(cands)
		sortByVisitors(sorted)
		if m == len(big) || (len(sorted) >= want && sorted[want-1].t.visitors >= bound(big[m])) {
			rows := make([]result.Row, min(len(sorted), want))
			for i := range rows {
				rows[i] = trafficRow(label(sorted[i].value), sorted[i].t, p.Sample)
			}
			all.visitors, all.visits = totalVis, totalVisits
			return rows, other, trafficRow("(total)", all, p.Sample), nil
		}
		m = min(len(big), 4*m)
	}
}

func sortByVisitors(vs []mvValueRow) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i].t, vs[j].t
		switch {
		case a.visitors != b.visitors:
			return a.visitors > b.visitors
		case a.ec != b.ec:
			return a.ec > b.ec
		case a.pv != b.pv:
			return a.pv > b.pv
		}
		return vs[i].value < vs[j].value
	})
}

func add(a, b sums) sums {
	return sums{a.visitors + b.visitors, a.visits + b.visits, a.pv + b.pv, a.apv + b.apv, a.eng + b.eng, a.engn + b.engn, a.ec + b.ec}
}

func (s *Service) sessionBreakdown(ctx context.Context, p *plan.Plan, dim query.Dimension, want int) ([]result.Row, *result.Row, result.Row, error) {
	frs, other, totals, err := s.readFold(ctx, plan.SessionBreakdownSQL(p, dim, want+1), len(plan.SessionCols), p.K)
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	conv := func(value string, v []uint64) result.Row {
		return result.Row{Value: value, Visitors: p.Sample.Scale(v[0]), Visits: p.Sample.Scale(v[1]),
			BounceRate: result.Round1(100 * result.Ratio(float64(v[2]), float64(v[1]))), VisitDuration: result.Round1(result.Ratio(float64(v[3]), float64(v[1])))}
	}
	rows := make([]result.Row, len(frs))
	for i, r := range frs {
		rows[i] = conv(label(r.label), r.vals)
	}
	var o *result.Row
	if other != nil {
		r := conv(query.Other, other.vals)
		o = &r
	}
	return rows, o, conv(totals.label, totals.vals), nil
}

// Paths returns where the visitors of page came from and went next, at
// most limit steps each way.
func (s *Service) Paths(ctx context.Context, q query.Query, page string, limit int) (*result.Paths, error) {
	if page == "" {
		return nil, query.BadParam("page", "give the page path, such as /pricing")
	}
	if len(page) > query.MaxFilterValue {
		return nil, query.BadParam("page", "longer than %d bytes", query.MaxFilterValue)
	}
	if limit < 1 || limit > query.MaxLimit {
		return nil, query.BadParam("limit", "must be 1 to %d", query.MaxLimit)
	}
	p, err := s.newPlan(ctx, q, planSessionRows)
	if err != nil {
		return nil, err
	}
	out := &result.Paths{Page: page, K: p.K}
	read := func(next bool, rows *[]result.PathRow, other **result.PathRow) func() error {
		return func() error {
			frs, o, _, err := s.readFold(ctx, plan.PathsSQL(p, page, next, limit), len(plan.PathCols), p.K)
			if err != nil {
				return err
			}
			*rows = make([]result.PathRow, 0, len(frs))
			for _, r := range frs[:min(len(frs), limit)] {
				*rows = append(*rows, result.PathRow{Value: r.label, Visitors: p.Sample.Scale(r.vals[0]), Transitions: p.Sample.Scale(r.vals[1])})
			}
			if o != nil {
				*other = &result.PathRow{Value: query.Other, Visitors: p.Sample.Scale(o.vals[0]), Transitions: p.Sample.Scale(o.vals[1])}
			}
			return nil
		}
	}
	if err := parallel(read(false, &out.Previous, &out.PreviousOther), read(true, &out.Next, &out.NextOther)); err != nil {
		return nil, err
	}
	out.Meta = result.MetaOf(q, p.Sample.Rate)
	return out, nil
}

// RealtimeWindow is how far back "realtime" looks.
const RealtimeWindow = 5 * time.Minute

// Realtime returns the visitors and page views of the last five minutes,
// with the pages viewed (folded to k).
func (s *Service) Realtime(ctx context.Context, site string, limit int) (*result.Realtime, error) {
	q := query.Query{Site: site}
	if len(site) == 0 || len(site) > query.MaxSiteID {
		return nil, query.BadParam("site", "not a site ID")
	}
	if limit < 1 || limit > query.MaxLimit {
		return nil, query.BadParam("limit", "must be 1 to %d", query.MaxLimit)
	}
	st, ok := s.sites.Get(ctx, q.Site)
	if !ok {
		return nil, ErrUnknownSite
	}
	k := siteK(st)
	since := s.opts.Now().UTC().Add(-RealtimeWindow).Truncate(time.Second)
	out := &result.Realtime{Site: site, Minutes: int(RealtimeWindow / time.Minute), K: k, Pages: []result.PathRow{}}
	var vis, pv uint64
	err := parallel(
		func() error { return s.queryRow(ctx, plan.RealtimeSQL(site, since), &vis, &pv) },
		func() error {
			frs, o, _, err := s.readFold(ctx, plan.RealtimePagesSQL(site, since, k, limit), len(plan.PathCols), k)
			if err != nil {
				return err
			}
			for _, r := range frs[:min(len(frs), limit)] {
				out.Pages = append(out.Pages, result.PathRow{Value: r.label, Visitors: int64(r.vals[0]), Transitions: int64(r.vals[1])})
			}
			if o != nil {
				out.PageOther = &result.PathRow{Value: query.Other, Visitors: int64(o.vals[0]), Transitions: int64(o.vals[1])}
			}
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	out.Visitors, out.Pageviews = int64(vis), int64(pv)
	return out, nil
}
