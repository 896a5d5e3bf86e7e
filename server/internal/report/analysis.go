package report

import (
	"context"
	"slices"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// Goals, funnels and retention follow consented visitors across events and
// days. Every number is exact (counted from events or visits, never a
// sketch or a sample), and every number of fewer than k visitors is
// withheld.

// Goals returns each of the site's goals' visitors, conversions and
// conversion rate in q's period. Without filters each goal is read from
// the exact visitor sets of report_dims; with filters from the events.
// The period's visitors are the overview's (an estimate only where the
// overview's is, and then noted, with the conversion rates).
func (s *Service) Goals(ctx context.Context, q query.Query) (*result.Goals, error) {
	p, err := s.newPlan(ctx, q, planSums)
	if err != nil {
		return nil, err
	}
	site, _ := s.sites.Get(ctx, q.Site)
	out := &result.Goals{K: p.K, Goals: []result.GoalRow{}}
	if site == nil || len(site.Goals) == 0 {
		out.Meta = s.meta(q, nil)
		return out, nil
	}
	steps := make([]query.Step, len(site.Goals))
	for i, g := range site.Goals {
		if steps[i], err = query.ParseStep(g.Match); err != nil {
			return nil, err
		}
	}
	vals := make([]uint64, 2*len(steps))
	var visitors int64
	sk := &sketched{}
	var fns []func() error
	if p.UseMV() || p.Sample.Sampled() {
		fns = append(fns, func() error {
			total, err := s.totals(ctx, p, sk)
			visitors = total.metrics(p.Sample).Visitors
			return err
		})
	}
	if p.UseMV() {
		for i, st := range steps {
			fns = append(fns, func() error { return s.queryRow(ctx, plan.GoalDimsSQL(p, st), &vals[2*i], &vals[2*i+1]) })
		}
	} else {
		fns = append(fns, func() error {
			// The filtered range's visitors come with the goals.
			var all uint64
			dest := []any{&all}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := s.queryRow(ctx, plan.GoalsSQL(p, steps), dest...); err != nil {
				return err
			}
			if !p.Sample.Sampled() {
				visitors = int64(all)
			}
			return nil
		})
	}
	// A site may have 50 goals: four reads at a time, not 50 of the
	// connections ingest shares.
	if err := parallelN(4, fns...); err != nil {
		return nil, err
	}
	if why := withheld(q, visitors, p.K); why != "" {
		for _, g := range site.Goals {
			out.Goals = append(out.Goals, result.GoalRow{Name: g.Name, Match: g.Match})
		}
		out.Meta = s.meta(q, nil)
		out.Withheld = why
		return out, nil
	}
	out.Visitors = visitors
	for i, g := range site.Goals {
		row := result.GoalRow{Name: g.Name, Match: g.Match}
		if v := int64(vals[2*i]); v >= int64(p.K) {
			c := int64(vals[2*i+1])
			r := result.Round1(100 * result.Ratio(float64(v), float64(visitors)))
			row.Visitors, row.Conversions, row.ConversionRate = &v, &c, &r
		}
		out.Goals = append(out.Goals, row)
	}
	out.Meta = s.meta(q, sk)
	if len(out.Meta.Estimated) > 0 {
		out.Meta.Note(s.sketchNote(), query.MetricConversionRate)
	}
	return out, nil
}

// Funnel follows f's steps in q's period: a visitor reaches a step when
// they did every step before it, in order, within the window (one visit,
// or a time from the first step). The first step may be any of the
// visitor's occurrences of it; the one that reaches the most steps
// counts, the earliest when several do, and its times give the medians.
func (s *Service) Funnel(ctx context.Context, q query.Query, f query.Funnel) (*result.Funnel, error) {
	if len(f.Steps) < query.MinSteps || len(f.Steps) > query.MaxSteps {
		return nil, query.BadParam("step", "a funnel has %d to %d steps", query.MinSteps, query.MaxSteps)
	}
	p, err := s.newPlan(ctx, q, planSessionRows)
	if err != nil {
		return nil, err
	}
	n := len(f.Steps)
	reached := make([]int64, n)
	// The seconds between steps, counted by value: as many entries as
	// distinct gaps (at most the window's seconds), not one per visitor.
	gaps := make([]map[int64]int64, n)
	for i := range gaps {
		gaps[i] = map[int64]int64{}
	}
	rows, err := s.query(ctx, plan.FunnelSQL(p, f.Steps))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fl follower
	for rows.Next() {
		var ev, ss []uint64
		if err := rows.Scan(&ev, &ss); err != nil {
			return nil, s.wrap(ctx, err)
		}
		if len(ev) == 0 { // the first step only
			reached[0]++
			continue
		}
		level, times := fl.visitor(ev, ss, n, f.Window)
		for i := 0; i < level; i++ {
			reached[i]++
			if i > 0 {
				gaps[i][times[i]-times[i-1]]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, err)
	}

	out := &result.Funnel{Meta: s.meta(q, nil), K: p.K, Window: string(f.Window)}
	k := int64(p.K)
	shown := func(i int) bool { return reached[i] >= k }
	for i, st := range f.Steps {
		fs := result.FunnelStep{Step: st.String()}
		if shown(i) {
			v := reached[i]
			fs.Visitors = &v
			if shown(0) {
				r := result.Round1(100 * result.Ratio(float64(v), float64(reached[0])))
				fs.ConversionFromFirst = &r
			}
			if i > 0 {
				if shown(i - 1) {
					r := result.Round1(100 * result.Ratio(float64(v), float64(reached[i-1])))
					fs.ConversionFromPrevious = &r
				}
				m := median(gaps[i])
				fs.MedianSecondsFromPrevious = &m
			}
		}
		out.Steps = append(out.Steps, fs)
	}
	return out, nil
}

// median is the middle of the values counted in counts (the mean of the
// two middle ones for an even count).
func median(counts map[int64]int64) float64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	keys := make([]int64, 0, len(counts))
	for v := range counts {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	// at returns the i-th value (0-based) in sorted order.
	at := func(i int64) int64 {
		for _, v := range keys {
			if i < counts[v] {
				return v
			}
			i -= counts[v]
		}
		return keys[len(keys)-1]
	}
	if n%2 == 1 {
		return float64(at(n / 2))
	}
	return float64(at(n/2-1)+at(n/2)) / 2
}

// funnelEvent is one event of a visitor that is some step of a funnel.
type funnelEvent struct {
	ts   int64
	mask uint64
	sess uint64
}

// follower follows one visitor's events through a funnel's steps,
// reusing its buffers from visitor to visitor.
type follower struct {
	evs  []funnelEvent
	next [query.MaxSteps][]int32
}

// visitor returns how many steps the visitor reached and the time of each.
// ev holds each event as time << 8 | steps, ss the hash of its visit.
func (fl *follower) visitor(ev, ss []uint64, n int, w query.FunnelWindow) (int, [query.MaxSteps]int64) {
	fl.evs = fl.evs[:0]
	for i, e := range ev {
		fe := funnelEvent{ts: int64(e >> plan.FunnelBits), mask: e & (1<<plan.FunnelBits - 1)}
		if w == query.WindowVisit && i < len(ss) {
			fe.sess = ss[i]
		}
		fl.evs = append(fl.evs, fe)
	}
	// By visit, then time; at the same second the earlier steps first.
	slices.SortFunc(fl.evs, func(a, b funnelEvent) int {
		switch {
		case a.sess != b.sess:
			return cmp(a.sess, b.sess)
		case a.ts != b.ts:
			return cmp(a.ts, b.ts)
		}
		return cmp(a.mask, b.mask)
	})
	best, bestTimes := 0, [query.MaxSteps]int64{}
	for lo := 0; lo < len(fl.evs); {
		hi := lo + 1
		for hi < len(fl.evs) && fl.evs[hi].sess == fl.evs[lo].sess {
			hi++
		}
		if l, t := fl.follow(fl.evs[lo:hi], n, w.Seconds()); l > best {
			best, bestTimes = l, t
		}
		if best == n {
			break
		}
		lo = hi
	}
	return best, bestTimes
}

// follow walks one run of events (one visit, or all of a visitor's) from
// each occurrence of the first step, taking each next step at its first
// occurrence after the previous one and within window seconds of the first
// (0: no limit). Without a limit the earliest start reaches the most
// steps; with one, later starts are tried too.
func (fl *follower) follow(evs []funnelEvent, n int, window int64) (int, [query.MaxSteps]int64) {
	// next[s][j]: the first index at or after j of an event that is step s.
	for s := 1; s < n; s++ {
		nx := fl.next[s][:0]
		nx = slices.Grow(nx, len(evs)+1)[:len(evs)+1]
		nx[len(evs)] = -1
		for j := len(evs) - 1; j >= 0; j-- {
			if evs[j].mask&(1<<s) != 0 {
				nx[j] = int32(j)
			} else {
				nx[j] = nx[j+1]
			}
		}
		fl.next[s] = nx
	}
	best, bestTimes := 0, [query.MaxSteps]int64{}
	for i := range evs {
		if evs[i].mask&1 == 0 {
			continue
		}
		var times [query.MaxSteps]int64
		times[0] = evs[i].ts
		level, cur := 1, i
		for s := 1; s < n; s++ {
			j := fl.next[s][cur+1]
			if j < 0 || (window > 0 && evs[j].ts-evs[i].ts > window) {
				break
			}
			cur = int(j)
			times[s] = evs[j].ts
			level++
		}
		if level > best {
			best, bestTimes = level, times
		}
		if best == n || window == 0 {
			break
		}
	}
	return best, bestTimes
}

func cmp[T int64 | uint64](a, b T) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// Retention returns q's new visitors (no page view before the range) by
// the interval of their first page view in it, and how many of each
// cohort have a page view in each later interval of the range. Filters
// restrict the page views counted.
func (s *Service) Retention(ctx context.Context, q query.Query, iv query.Interval) (*result.Retention, error) {
	if iv != query.Week && iv != query.Month {
		return nil, query.BadParam("interval", "retention cohorts are by week or month")
	}
	p, err := s.newPlan(ctx, q, planSessionRows)
	if err != nil {
		return nil, err
	}
	monthly := iv == query.Month
	first := result.IntervalStart(q.From, monthly)
	last := result.IntervalStart(q.To, monthly)
	n := 0
	for c := first; !c.After(last); c = result.NextInterval(c, monthly) {
		n++
	}
	if n > plan.MaxRetentionIntervals {
		return nil, query.BadParam("interval", "cohorts cover at most %d %ss: choose a shorter range or monthly cohorts", plan.MaxRetentionIntervals, iv)
	}
	// size[c]: the cohort of interval c; back[c][b]: of those, the ones
	// with a page view in interval b.
	size := make([]int64, n)
	back := make([][]int64, n)
	for i := range back {
		back[i] = make([]int64, n)
	}
	rows, err := s.query(ctx, plan.RetentionSQL(p, iv))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c uint8
		var mask, visitors uint64
		if err := rows.Scan(&c, &mask, &visitors); err != nil {
			return nil, s.wrap(ctx, err)
		}
		if int(c) >= n {
			continue
		}
		size[c] += int64(visitors)
		for b := int(c) + 1; b < n; b++ {
			if mask&(1<<b) != 0 {
				back[c][b] += int64(visitors)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(ctx, err)
	}

	out := &result.Retention{Meta: s.meta(q, nil), K: p.K, Interval: string(iv), Cohorts: []result.Cohort{}}
	k := int64(p.K)
	c := first
	for i := 0; i < n; i++ {
		co := result.Cohort{Cohort: c.Format(query.DateLayout), Returning: []result.RetentionCell{}}
		if size[i] >= k {
			co.Visitors = &size[i]
		}
		b := result.NextInterval(c, monthly)
		for j := i + 1; j < n; j++ {
			cell := result.RetentionCell{Interval: b.Format(query.DateLayout), Offset: j - i}
			if v := back[i][j]; size[i] >= k && v >= k {
				sh := result.Round1(100 * result.Ratio(float64(v), float64(size[i])))
				cell.Visitors, cell.Share = &v, &sh
			}
			co.Returning = append(co.Returning, cell)
			b = result.NextInterval(b, monthly)
		}
		out.Cohorts = append(out.Cohorts, co)
		c = result.NextInterval(c, monthly)
	}
	return out, nil
}

// CurrentVisitors returns the realtime number of visitors (the last 5
// minutes) at each of the last minutes, the latest first: what a traffic
// alert watches.
func (s *Service) CurrentVisitors(ctx context.Context, site string, minutes int) ([]int64, error) {
	if minutes < 1 || minutes > 24*60 {
		return nil, query.BadParam("minutes", "must be 1 to 1440")
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	out := make([]int64, minutes)
	rows, err := s.query(ctx, plan.CurrentVisitorsSQL(site, now, minutes))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k uint32
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, s.wrap(ctx, err)
		}
		if int(k) < minutes {
			out[k] = int64(n)
		}
	}
	return out, s.wrap(ctx, rows.Err())
}
