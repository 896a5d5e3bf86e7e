package report

import (
	"context"
	"slices"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// ImportedDims are the dimensions an import fills.
var ImportedDims = []string{"page", "source", "country", "browser", "device", "event"}

type importedDay struct {
	date                                    time.Time
	format                                  string
	visitors, visits, pv, bounces, duration uint64
	hasVisits                               bool
}

// importedDays reads the imported days of q's range: none with filters
// (imports cannot be filtered) or hourly buckets.
func (s *Service) importedDays(ctx context.Context, q query.Query) ([]importedDay, error) {
	if len(q.Filters) > 0 || q.Interval == query.Hour {
		return nil, nil
	}
	rows, err := s.query(ctx, plan.ImportedDaysSQL(q.Site, q.From, q.To))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []importedDay
	for rows.Next() {
		var d importedDay
		var hv uint8
		if err := rows.Scan(&d.date, &d.format, &d.visitors, &d.visits, &d.pv, &d.bounces, &d.duration, &hv); err != nil {
			return nil, s.wrap(ctx, err)
		}
		d.hasVisits = hv == 1
		out = append(out, d)
	}
	return out, s.wrap(ctx, rows.Err())
}

// imported sums imported days; nil for none.
func imported(days []importedDay) *result.Imported {
	if len(days) == 0 {
		return nil
	}
	im := &result.Imported{Format: days[0].format, From: days[0].date.Format(query.DateLayout), To: days[len(days)-1].date.Format(query.DateLayout), Days: len(days)}
	var bounces, duration, visitsKnown uint64
	all := true
	for _, d := range days {
		im.Visitors += int64(d.visitors)
		im.Visits += int64(d.visits)
		im.Pageviews += int64(d.pv)
		if d.hasVisits {
			bounces += d.bounces
			duration += d.duration
			visitsKnown += d.visits
		} else {
			all = false
		}
		if d.format != im.Format {
			im.Format = "several"
		}
	}
	if all && visitsKnown > 0 {
		br := result.Round1(100 * float64(bounces) / float64(visitsKnown))
		vd := result.Round1(float64(duration) / float64(visitsKnown))
		im.BounceRate, im.VisitDuration = &br, &vd
	}
	return im
}

// importedPoints buckets imported days by the series' interval.
func importedPoints(days []importedDay, iv query.Interval) []result.ImportedPoint {
	var out []result.ImportedPoint
	for _, d := range days {
		b := d.date
		switch iv {
		case query.Week:
			b = result.IntervalStart(b, false)
		case query.Month:
			b = result.IntervalStart(b, true)
		}
		label := b.Format(query.DateLayout)
		if n := len(out); n > 0 && out[n-1].Date == label {
			out[n-1].Visitors += int64(d.visitors)
			out[n-1].Visits += int64(d.visits)
			out[n-1].Pageviews += int64(d.pv)
			continue
		}
		out = append(out, result.ImportedPoint{Date: label, Visitors: int64(d.visitors), Visits: int64(d.visits), Pageviews: int64(d.pv)})
	}
	return out
}

// ImportedBreakdown returns a dimension's imported values in q's range,
// folded to the site's k.
func (s *Service) ImportedBreakdown(ctx context.Context, q query.Query, dim string, limit int) (*result.ImportedBreakdown, error) {
	if !slices.Contains(ImportedDims, dim) {
		return nil, query.BadParam("dimension", "imports hold page, source, country, browser, device and event, not %q", query.Clip(dim, 40))
	}
	if len(q.Filters) > 0 {
		return nil, query.BadParam("filter", "imported numbers cannot be filtered")
	}
	p, err := s.newPlan(ctx, q, planSessionRows)
	if err != nil {
		return nil, err
	}
	out := &result.ImportedBreakdown{Meta: s.meta(q, nil), Dimension: dim, K: p.K, Rows: []result.ImportedRow{}}
	var days []importedDay
	err = parallel(func() (err error) {
		q := q
		q.Interval = query.Day
		days, err = s.importedDays(ctx, q)
		return err
	}, func() error {
		rows, err := s.query(ctx, plan.ImportedRowsSQL(q.Site, dim, q.From, q.To, 100_000))
		if err != nil {
			return err
		}
		defer rows.Close()
		var other result.ImportedRow
		for rows.Next() {
			var r result.ImportedRow
			var v, pv uint64
			if err := rows.Scan(&r.Value, &v, &pv); err != nil {
				return s.wrap(ctx, err)
			}
			r.Visitors, r.Pageviews = int64(v), int64(pv)
			if r.Visitors < int64(p.K) {
				other.Visitors += r.Visitors
				other.Pageviews += r.Pageviews
				continue
			}
			if len(out.Rows) < limit {
				out.Rows = append(out.Rows, r)
			}
		}
		if other.Visitors >= int64(p.K) {
			other.Value = query.Other
			out.Other = &other
		}
		return s.wrap(ctx, rows.Err())
	})
	if err != nil {
		return nil, err
	}
	out.Imported = imported(days)
	return out, nil
}
