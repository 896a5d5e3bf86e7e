package report

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// loyaltyBreakdown answers the loyalty dimensions, exactly: visitors and
// visits per bucket, in the buckets' order. Without filters the closed
// days come from their seals (days since the last visit) or the range's
// sealed window (visits per visitor), and only the other days from the
// visits; with filters every visit of the range that matches is read.
func (s *Service) loyaltyBreakdown(ctx context.Context, p *plan.Plan, dim query.Dimension) ([]result.Row, *result.Row, result.Row, error) {
	var sessions *plan.Stmt
	if len(p.Filters) > 0 {
		sessions = plan.FilteredSessionsSQL(p)
	}
	if dim == query.DimDaysSinceLastVisit {
		return s.daysSince(ctx, p, sessions)
	}
	st := plan.VisitsPerVisitorSQL(p.Site, plan.Days(p.From, p.To), sessions)
	if p.UseMV() && p.Window != nil {
		var live []string
		if !p.Window.Live.IsZero() {
			live = []string{p.Window.Live.Format(time.DateOnly)}
		}
		st = plan.VisitsPerVisitorWindowSQL(p.Site, *p.Window, live)
	}
	rs, err := s.query(ctx, st)
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	defer rs.Close()
	var rows []result.Row
	for rs.Next() {
		var r result.Row
		var visitors, visits uint64
		if err := rs.Scan(&r.Value, &visitors, &visits); err != nil {
			return nil, nil, result.Row{}, s.wrap(ctx, err)
		}
		r.Visitors, r.Visits = int64(visitors), int64(visits)
		if r.Visitors > 0 {
			rows = append(rows, r)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, nil, result.Row{}, s.wrap(ctx, err)
	}
	// Each visitor is in one bucket: the folded row and the totals add up.
	var kept []result.Row
	var other, totals result.Row
	for _, r := range rows {
		totals.Visitors += r.Visitors
		totals.Visits += r.Visits
		if r.Visitors < int64(p.K) {
			other.Visitors += r.Visitors
			other.Visits += r.Visits
			continue
		}
		kept = append(kept, r)
	}
	sortBuckets(kept, query.VisitsPerVisitorBuckets)
	totals.Value = "(total)"
	if other.Visitors >= int64(p.K) {
		other.Value = query.Other
		return kept, &other, totals, nil
	}
	return kept, nil, totals, nil
}

// daysSince reads the sealed days of the range and counts the others. A
// day's seal holds while its event count matches, and while every earlier
// day's does too: a visit's bucket depends on its visitor's earlier days,
// so once a day changed (a late event, an erasure), the seals of the days
// after it are read live until the sealing job seals them again.
func (s *Service) daysSince(ctx context.Context, p *plan.Plan, sessions *plan.Stmt) ([]result.Row, *result.Row, result.Row, error) {
	live := plan.Days(p.From, p.To)
	var seals []string
	if p.UseMV() {
		var events map[string]uint64
		var sealed map[string]daySeal
		before := p.To.AddDate(0, 0, 1)
		err := parallel(func() (err error) {
			events, err = s.dayCounts(ctx, new(plan.Stmt).Add(plan.SiteDayEventsSQL, p.Site, epoch, before))
			return err
		}, func() (err error) {
			sealed, err = s.daySeals(ctx, p.Site, epoch, before)
			return err
		})
		if err != nil {
			return nil, nil, result.Row{}, err
		}
		valid := validSeals(events, sealed)
		if w := p.Window; w != nil && windowHolds(*w, events, valid) {
			return s.daysSinceWindow(ctx, p, events, valid)
		}
		live = live[:0]
		for _, day := range plan.Days(p.From, p.To) {
			switch sl, ok := valid[day]; {
			case events[day] == 0:
				// No events, no visits.
			case ok:
				seals = append(seals, day+"|"+strconv.FormatUint(sl.ms, 10))
			default:
				live = append(live, day)
			}
		}
		if len(seals) == 0 && len(live) == 0 {
			return nil, nil, result.Row{Value: "(total)"}, nil
		}
	}
	frs, other, totals, err := s.readFold(ctx, plan.DaysSinceSQL(p.Site, seals, live, sessions, p.K), len(plan.LoyaltyCols), p.K)
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	conv := func(value string, v []uint64) result.Row {
		return result.Row{Value: value, Visitors: int64(v[0]), Visits: int64(v[1])}
	}
	rows := make([]result.Row, len(frs))
	for i, r := range frs {
		rows[i] = conv(r.label, r.vals)
	}
	sortBuckets(rows, query.DaysSinceLastVisitBuckets)
	var o *result.Row
	if other != nil {
		r := conv(query.Other, other.vals)
		o = &r
	}
	return rows, o, conv(totals.label, totals.vals), nil
}

// sortBuckets puts rows in the order of their buckets.
func sortBuckets(rows []result.Row, order []string) {
	slices.SortStableFunc(rows, func(a, b result.Row) int { return slices.Index(order, a.Value) - slices.Index(order, b.Value) })
}

// daySeal is a day's complete loyalty seal: the event count it was
// taken at, and when.
type daySeal struct {
	events, ms uint64
}

// windowHolds reports whether a sealed window's days since the last visit
// hold: every day of it with events has a seal that holds, taken before
// the window's (a day sealed after it changed since).
func windowHolds(w plan.Window, events map[string]uint64, valid map[string]daySeal) bool {
	for _, day := range plan.Days(w.End.AddDate(0, 0, 1-w.Days), w.End) {
		if events[day] == 0 {
			continue
		}
		if sl, ok := valid[day]; !ok || sl.ms > w.SealedMS {
			return false
		}
	}
	return true
}

// daysSinceWindow answers the days since the last visit of a range from
// its sealed window and the live days after it (today): each bucket's
// visitors and visits at once, then, when buckets fold, the visitors of
// the folded ones.
func (s *Service) daysSinceWindow(ctx context.Context, p *plan.Plan, events map[string]uint64, valid map[string]daySeal) ([]result.Row, *result.Row, result.Row, error) {
	w := *p.Window
	var seals, live []string
	for _, day := range plan.Days(p.From, p.To) {
		switch sl, ok := valid[day]; {
		case events[day] == 0:
		case day <= w.End.Format(time.DateOnly) && ok:
			seals = append(seals, day+"|"+strconv.FormatUint(sl.ms, 10))
		default:
			live = append(live, day)
		}
	}
	if len(seals) == 0 {
		return nil, nil, result.Row{Value: "(total)"}, nil
	}
	rs, err := s.query(ctx, plan.DaysSinceWindowSQL(p.Site, w, seals, live))
	if err != nil {
		return nil, nil, result.Row{}, err
	}
	defer rs.Close()
	buckets := query.DaysSinceLastVisitBuckets
	counts := make([]result.Row, plan.TotalBucket+1)
	for rs.Next() {
		var bi uint8
		var vs, n uint64
		if err := rs.Scan(&bi, &vs, &n); err != nil {
			return nil, nil, result.Row{}, s.wrap(ctx, err)
		}
		if int(bi) < len(counts) {
			counts[bi].Visitors, counts[bi].Visits = int64(vs), int64(n)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, nil, result.Row{}, s.wrap(ctx, err)
	}
	totals := result.Row{Value: "(total)", Visitors: counts[plan.TotalBucket].Visitors}
	var rows []result.Row
	var other result.Row
	var folded uint8
	for i, b := range buckets {
		c := counts[i]
		totals.Visits += c.Visits
		switch {
		case c.Visitors == 0:
		case c.Visitors < int64(p.K):
			folded |= 1 << i
			other.Visits += c.Visits
		default:
			c.Value = b
			rows = append(rows, c)
		}
	}
	if folded == 0 {
		return rows, nil, totals, nil
	}
	var vs uint64
	if err := s.queryRow(ctx, plan.DaysSinceWindowVisitorsSQL(p.Site, w, live, folded), &vs); err != nil {
		return nil, nil, result.Row{}, err
	}
	if other.Visitors = int64(vs); other.Visitors < int64(p.K) {
		return rows, nil, totals, nil
	}
	other.Value = query.Other
	return rows, &other, totals, nil
}

// epoch is before every stored day.
var epoch = time.Unix(0, 0).UTC()

// validSeals keeps the seals that hold: in the order of the days with
// events, those whose count matches, up to the first day whose does not.
func validSeals(events map[string]uint64, sealed map[string]daySeal) map[string]daySeal {
	days := make([]string, 0, len(events))
	for day, n := range events {
		if n > 0 {
			days = append(days, day)
		}
	}
	slices.Sort(days)
	out := map[string]daySeal{}
	for _, day := range days {
		sl, ok := sealed[day]
		if !ok || sl.events != events[day] {
			break
		}
		out[day] = sl
	}
	return out
}

// daySeals reads the newest complete seal of each of a site's days in
// [from, before).
func (s *Service) daySeals(ctx context.Context, site string, from, before time.Time) (map[string]daySeal, error) {
	rs, err := s.query(ctx, new(plan.Stmt).Add(plan.DaySealsSQL, site, from, before))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[string]daySeal{}
	for rs.Next() {
		var day string
		var sl daySeal
		if err := rs.Scan(&day, &sl.events, &sl.ms); err != nil {
			return nil, s.wrap(ctx, err)
		}
		out[day] = sl
	}
	return out, s.wrap(ctx, rs.Err())
}

// dayCounts reads (day, count) rows.
func (s *Service) dayCounts(ctx context.Context, st *plan.Stmt) (map[string]uint64, error) {
	rs, err := s.query(ctx, st)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[string]uint64{}
	for rs.Next() {
		var day string
		var n uint64
		if err := rs.Scan(&day, &n); err != nil {
			return nil, s.wrap(ctx, err)
		}
		out[day] = n
	}
	return out, s.wrap(ctx, rs.Err())
}

// SealLoyalty seals the days since the last visit of a site's closed days
// in [from, before) (report_day_loyalty) whose seal does not hold
// (validSeals): the first day without a seal at its current event count
// and every day after it. Each batch writes the days' visits by bucket,
// then the markers of the seal with the event counts read before: a day
// with events arriving meanwhile keeps a marker that does not match and is
// read live until the next run. The sealing job calls it with clickhouse.DB.SealDays; it
// returns how many days it sealed.
func (s *Service) SealLoyalty(ctx context.Context, site string, from, before time.Time) (int, error) {
	from, before = from.UTC(), before.UTC()
	live, err := s.dayCounts(ctx, new(plan.Stmt).Add(plan.SiteDayEventsSQL, site, from, before))
	if err != nil {
		return 0, err
	}
	sealed, err := s.daySeals(ctx, site, from, before)
	if err != nil {
		return 0, err
	}
	valid := validSeals(live, sealed)
	var stale []string
	for day := range live {
		if _, ok := valid[day]; !ok {
			stale = append(stale, day)
		}
	}
	slices.Sort(stale)
	n := 0
	// A week at a time: the visitors of a few days in memory.
	for len(stale) > 0 {
		batch := stale[:min(7, len(stale))]
		stale = stale[len(batch):]
		events := make([]uint64, len(batch))
		for i, day := range batch {
			events[i] = live[day]
		}
		ms := uint64(time.Now().UnixMilli())
		if err := s.exec(ctx, plan.SealDaysSinceSQL(ms, site, batch)); err != nil {
			return n, err
		}
		if err := s.exec(ctx, plan.SealDaysSinceDoneSQL(ms, site, batch, events)); err != nil {
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}

// SealWindowVisitors writes every visitor's number of visits in the window
// [end-days+1, end] as sealed at ms (report_window_visitors): the sealing
// job calls it within clickhouse.DB.SealWindows, before the window's seal
// is marked complete.
func (s *Service) SealWindowVisitors(ctx context.Context, site string, end time.Time, days int, ms uint64) error {
	end = end.UTC()
	return s.exec(ctx, plan.SealWindowVisitorsSQL(site, end.AddDate(0, 0, 1-days), end, days, ms))
}
