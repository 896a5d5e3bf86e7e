package report

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestDimensions_MVMatchesRaw checks that the materialized views and the
// queries on events compute every dimension alike: the same column
// expressions, the same metrics, the same folding.
func TestDimensions_MVMatchesRaw(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	now := func() time.Time { return reporttest.Now }
	// The closed days of the current and the previous period, sealed as
	// days and windows: plans read them.
	sealFixture(t, db)
	t.Run("exact", func(t *testing.T) { compareMVRaw(t, db.Conn(), &f, Options{Now: now}) })
	// Every range is large: the pre-aggregated path reads its sketches
	// (exact on sets this small), events are counted exactly; the numbers
	// agree, and the pre-aggregated answers say they are estimates.
	t.Run("estimated", func(t *testing.T) {
		compareMVRaw(t, db.Conn(), &f, Options{Now: now, ExactEvents: 1, ExactCount: 1})
	})
}

func compareMVRaw(t *testing.T, conn driver.Conn, f *reporttest.Fixture, clock Options) {
	sites := reporttest.Sites{f.Site.ID: &f.Site}
	estimated := clock.ExactEvents == 1
	mv := New(conn, sites, clock)
	raw := New(conn, sites, clock)
	raw.forceRaw = true
	ctx := context.Background()
	q := current()
	q.Compare = true

	om, err := mv.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	or, err := raw.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !estimated && dump(t, om) != dump(t, or) || dump(t, om.Metrics) != dump(t, or.Metrics) || dump(t, om.Previous) != dump(t, or.Previous) {
		t.Errorf("overview:\nMV  %s\nraw %s", dump(t, om), dump(t, or))
	}
	if estimated != (om.Estimate && slices.Contains(om.Estimated, query.MetricVisitors) && len(om.Estimation) > 0) {
		t.Errorf("overview meta: estimate %v, estimated %v, estimation %v", om.Estimate, om.Estimated, om.Estimation)
	}
	tm, err := mv.Timeseries(ctx, q, query.TimeseriesMetrics)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := raw.Timeseries(ctx, q, query.TimeseriesMetrics)
	if err != nil {
		t.Fatal(err)
	}
	// The pre-aggregated daily series counts the days exactly (sealed or
	// from the exact sets): the numbers agree, the meta need not.
	if dump(t, tm.Points) != dump(t, tr.Points) || dump(t, tm.Previous) != dump(t, tr.Previous) {
		t.Errorf("timeseries:\nMV  %s\nraw %s", dump(t, tm), dump(t, tr))
	}

	type tc struct {
		dim  query.Dimension
		opts BreakdownOptions
	}
	var cases []tc
	for _, d := range query.All() {
		if d.Name == query.DimEventProp {
			cases = append(cases, tc{d.Name, BreakdownOptions{Event: "signup"}}, tc{d.Name, BreakdownOptions{Event: "signup", Property: "plan"}})
			continue
		}
		cases = append(cases, tc{d.Name, BreakdownOptions{}})
	}
	for _, c := range cases {
		t.Run(string(c.dim)+c.opts.Property, func(t *testing.T) {
			bm, err := mv.Breakdown(ctx, current(), c.dim, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			br, err := raw.Breakdown(ctx, current(), c.dim, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if dump(t, rowsOf(bm)) != dump(t, rowsOf(br)) || bm.More != br.More {
				t.Errorf("MV:\n%s\nraw:\n%s", dump(t, rowsOf(bm)), dump(t, rowsOf(br)))
			}
			if len(bm.Rows)+len(rowsOf(bm)) == 1 && c.dim != query.DimOutbound {
				t.Logf("%s has no rows at all", c.dim)
			}
		})
	}

	cm, err := mv.ConsentOverview(ctx, current())
	if err != nil {
		t.Fatal(err)
	}
	raw2 := New(conn, sites, clock)
	raw2.forceRaw = true
	cr, err := raw2.ConsentOverview(ctx, current())
	if err != nil {
		t.Fatal(err)
	}
	if !estimated && dump(t, cm) != dump(t, cr) || dump(t, cm.ConsentMetrics) != dump(t, cr.ConsentMetrics) {
		t.Errorf("consent overview:\nMV  %s\nraw %s", dump(t, cm), dump(t, cr))
	}
	for _, d := range query.ConsentDimensions {
		bm, err := mv.ConsentBreakdown(ctx, current(), d, query.Page{})
		if err != nil {
			t.Fatal(err)
		}
		br, err := raw.ConsentBreakdown(ctx, current(), d, query.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if !estimated && dump(t, bm) != dump(t, br) || dump(t, bm.Rows) != dump(t, br.Rows) || dump(t, bm.Totals) != dump(t, br.Totals) {
			t.Errorf("consent by %s:\nMV  %s\nraw %s", d, dump(t, bm), dump(t, br))
		}
	}
	for _, byPage := range []bool{false, true} {
		a, err := mv.UndeclaredCookies(ctx, current(), byPage, 10)
		if err != nil {
			t.Fatal(err)
		}
		b, err := raw.UndeclaredCookies(ctx, current(), byPage, 10)
		if err != nil {
			t.Fatal(err)
		}
		if dump(t, a) != dump(t, b) {
			t.Errorf("cookies (by page %v):\nMV  %s\nraw %s", byPage, dump(t, a), dump(t, b))
		}
	}
}

// job is one call of the report API.
type job struct {
	name string
	run  func() error
}

// everyQuery lists every kind of report query the API can make — every
// breakdown under every filter dimension, every filter operator, every
// time series metric and interval, paths, realtime, consent, proof — on
// the fixture.
func everyQuery(ctx context.Context, svc *Service, f reporttest.Fixture) []job {
	var filters [][]string
	values := map[query.Dimension]string{query.DimEventProp: "plan=pro", query.DimPage: "/", query.DimEntryPage: "/", query.DimExitPage: "/", query.DimCountry: "DE",
		query.DimSource: "Google", query.DimEvent: "signup", query.DimChannel: "Direct", query.DimRegion: "(none)"}
	for _, d := range query.All() {
		if d.Kind == query.KindLoyalty {
			continue // breakdowns only
		}
		v := values[d.Name]
		if v == "" {
			v = "x'\\\"%_" // quotes, a backslash and LIKE wildcards must stay data
		}
		for _, op := range []query.Op{query.Is, query.IsNot, query.Contains} {
			if op == query.Contains && v == query.None {
				continue
			}
			filters = append(filters, []string{fmt.Sprintf("%s:%s:%s", d.Name, op, v)})
		}
	}
	filters = append(filters, nil, []string{"country:is:DE", "source:is:Google", "page:is_not:/", "event:contains:sign", "entry_page:is:/"},
		[]string{"goal:is:Signup"}, []string{"goal:is_not:Pricing", "country:is:DE"})
	windows := []query.FunnelWindow{query.WindowVisit, query.Window1d, query.Window7d, query.Window30d}

	var jobs []job
	for i, fl := range filters {
		q := current(fl...)
		q.Compare = i%4 == 0 // the same statements on other dates; a quarter suffices
		name := fmt.Sprint(fl)
		jobs = append(jobs,
			job{name + " overview", func() error { _, err := svc.Overview(ctx, q); return err }},
			job{name + " timeseries", func() error { _, err := svc.Timeseries(ctx, q, query.TimeseriesMetrics); return err }},
			job{name + " paths", func() error { _, err := svc.Paths(ctx, q, "/", 10); return err }},
			job{name + " goals", func() error { _, err := svc.Goals(ctx, q); return err }},
			job{name + " funnel", func() error {
				f, err := query.ParseFunnelSteps([]string{"page:/", "page:/pri*", "event:signup:plan=pro"}, string(windows[i%len(windows)]))
				if err == nil {
					_, err = svc.Funnel(ctx, q, f)
				}
				return err
			}},
			job{name + " retention", func() error {
				_, err := svc.Retention(ctx, q, []query.Interval{query.Week, query.Month}[i%2])
				return err
			}},
		)
		for _, d := range query.All() {
			// Every dimension under every filter dimension; the other
			// operators change only the filter's condition, which the
			// queries above and the page breakdown already carry.
			if len(fl) == 1 && !strings.Contains(fl[0], ":is:") && d.Name != query.DimPage && d.Name != query.DimEntryPage {
				continue
			}
			opts := BreakdownOptions{Page: query.Page{Limit: 5, Number: 1}}
			if d.Name == query.DimEventProp {
				opts.Event, opts.Property = "signup", "plan"
			}
			jobs = append(jobs, job{name + " breakdown " + string(d.Name), func() error { _, err := svc.Breakdown(ctx, q, d.Name, opts); return err }})
			if d.Name == query.DimEventProp {
				jobs = append(jobs, job{name + " breakdown event_prop keys", func() error {
					_, err := svc.Breakdown(ctx, q, d.Name, BreakdownOptions{Event: "signup"})
					return err
				}})
			}
		}
		cq := q
		cq.Filters = nil
		for _, fi := range q.Filters {
			if _, ok := plan.ConsentFilterColumns[fi.Dimension]; ok {
				cq.Filters = append(cq.Filters, fi)
			}
		}
		jobs = append(jobs, job{name + " consent", func() error {
			if _, err := svc.ConsentOverview(ctx, cq); err != nil {
				return err
			}
			if _, err := svc.ConsentTimeseries(ctx, cq); err != nil {
				return err
			}
			for _, d := range query.ConsentDimensions {
				if _, err := svc.ConsentBreakdown(ctx, cq, d, query.Page{}); err != nil {
					return err
				}
			}
			if _, err := svc.UndeclaredCookies(ctx, cq, false, 10); err != nil {
				return err
			}
			_, err := svc.UndeclaredCookies(ctx, cq, true, 10)
			return err
		}})
	}
	for _, iv := range []query.Interval{query.Hour, query.Day, query.Week, query.Month} {
		q := current("country:is:DE")
		q.Interval = iv
		jobs = append(jobs, job{"interval " + string(iv), func() error {
			if _, err := svc.Timeseries(ctx, q, query.TimeseriesMetrics); err != nil {
				return err
			}
			_, err := svc.ConsentTimeseries(ctx, q)
			return err
		}})
		q2 := current()
		q2.Interval = iv
		jobs = append(jobs, job{"interval MV " + string(iv), func() error {
			if _, err := svc.Timeseries(ctx, q2, query.TimeseriesMetrics); err != nil {
				return err
			}
			_, err := svc.ConsentTimeseries(ctx, q2)
			return err
		}})
	}
	jobs = append(jobs,
		job{"realtime", func() error { _, err := svc.Realtime(ctx, reporttest.Site, 10); return err }},
		job{"proof", func() error { _, err := svc.ConsentHistory(ctx, reporttest.Site, f.Consent1.String()); return err }},
		job{"export", func() error {
			return svc.ExportDecisions(ctx, reporttest.Site, reporttest.From, reporttest.To, func(result.ProofDecision) error { return nil })
		}},
	)
	return jobs
}

// runJobs runs jobs on n goroutines and reports their errors.
func runJobs(t *testing.T, jobs []job, n int) {
	work := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := j.run(); err != nil {
					mu.Lock()
					t.Errorf("%s: %v", j.name, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
}

// TestQueries_EveryDimensionAndFilter runs every query on the test server
// (ClickHouse 18.16 here), so that none is refused.
func TestQueries_EveryDimensionAndFilter(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }})
	jobs := everyQuery(context.Background(), svc, f)
	runJobs(t, jobs, 4)
	t.Logf("%d query sets on ClickHouse", len(jobs))
}

// joinSide finds each join and the word before it (and its alias).
var joinSide = regexp.MustCompile(`(\S+)(?:\s+AS\s+\w+)?\s+(?:(?:ANY|ALL)\s+)?(?:(?:LEFT|INNER)\s+)?JOIN\b`)

// tableJoin reports whether sql joins a table, not a subquery, on its left
// (an ARRAY JOIN is no join of tables).
func tableJoin(sql string) bool {
	for _, m := range joinSide.FindAllStringSubmatch(sql, -1) {
		if !strings.HasSuffix(m[1], ")") && m[1] != "ARRAY" {
			return true
		}
	}
	return false
}

// TestQueries_ClusterModeGlobalIn runs every query as cluster mode sends
// it: each IN subquery must be GLOBAL, or a cluster refuses it
// (distributed_product_mode = 'deny') or reads only one shard's rows.
func TestQueries_ClusterModeGlobalIn(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Cluster: true, Now: func() time.Time { return reporttest.Now }})
	var mu sync.Mutex
	subqueries := 0
	svc.trace = func(sql string, _ []any) {
		all := len(inSubquery.FindAllString(sql, -1))
		global := strings.Count(sql, "GLOBAL IN (SELECT") + strings.Count(sql, "GLOBAL NOT IN (SELECT")
		mu.Lock()
		defer mu.Unlock()
		subqueries += all
		// A join is run where its sides are read: only subqueries may be
		// joined, never a table (which the shards would join alone).
		if all != global || tableJoin(sql) || strings.Contains(sql, "IN (\n") {
			t.Errorf("a subquery is not GLOBAL, or a table is joined:\n%s", sql)
		}
	}
	runJobs(t, everyQuery(context.Background(), svc, f), 4)
	if subqueries == 0 {
		t.Fatal("no IN subquery seen")
	}
}

// TestService_Sampling checks the sampled path on the fixture: with a
// budget of one event, queries read a range of visitor IDs and say so.
func TestService_Sampling(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{
		Now: func() time.Time { return reporttest.Now }, SessionSampleEvents: 1, MinEstimated: 1})
	ctx := context.Background()
	o, err := svc.Overview(ctx, current("country:is:DE"))
	if err != nil {
		t.Fatal(err)
	}
	// The time series' session metrics are estimated on the sample, and
	// say so.
	ts, err := svc.Timeseries(ctx, current("country:is:DE"), []query.Metric{query.MetricVisitors, query.MetricBounceRate})
	if err != nil {
		t.Fatal(err)
	}
	if ts.SampleRate >= 1 || ts.SampleRate <= 0 || !ts.Estimate || !slices.Contains(ts.Estimated, query.MetricBounceRate) ||
		slices.Contains(ts.Estimated, query.MetricVisitors) || len(ts.Estimation) != 1 {
		t.Errorf("sampled time series meta: %+v", ts.Meta)
	}
	// Anonymous page views are never sampled.
	if o.Metrics.AnonymousPageviews != 1 {
		t.Errorf("anonymous page views = %d, want 1", o.Metrics.AnonymousPageviews)
	}
	for _, d := range []query.Dimension{query.DimEntryPage, query.DimPage} {
		if _, err := svc.Breakdown(ctx, current("country:is:DE"), d, BreakdownOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The range holds about its share of random visitor IDs.
	s, err := svc.sampleRange(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	var in, all uint64
	err = svc.queryRow(ctx, new(plan.Stmt).Add("SELECT toUInt64(countIf(u >= toUUID(?) AND u < toUUID(?))), toUInt64(count()) FROM (SELECT generateUUIDv4() AS u FROM system.numbers LIMIT 80000)", s.Lo, s.Hi), &in, &all)
	if err != nil {
		t.Fatal(err)
	}
	if share := float64(in) / float64(all); share < 0.115 || share > 0.135 {
		t.Errorf("range %s…%s holds %.3f of random UUIDs, want 1/8", s.Lo, s.Hi, share)
	}
}

// TestQueries_LargeK runs the breakdowns of a site whose k is above
// plan.ExactK, where rows are checked with the visitor estimate: the fixture's
// rows all fold, and no (other) row is shown.
func TestQueries_LargeK(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	site := f.Site
	site.K = 30
	svc := New(db.Conn(), reporttest.Sites{site.ID: &site}, Options{Now: func() time.Time { return reporttest.Now }})
	ctx := context.Background()
	for _, fl := range [][]string{nil, {"country:is_not:FR"}} {
		for _, d := range query.All() {
			opts := BreakdownOptions{Event: "signup", Property: "plan"}
			b, err := svc.Breakdown(ctx, current(fl...), d.Name, opts)
			if err != nil {
				t.Fatalf("%s %v: %v", d.Name, fl, err)
			}
			if len(b.Rows) != 0 || b.Other != nil {
				t.Errorf("%s %v: rows %v other %v with k = 30", d.Name, fl, b.Rows, b.Other)
			}
		}
		for _, d := range query.ConsentDimensions {
			cq := current()
			if fl != nil {
				cq = current("country:is_not:FR")
			}
			b, err := svc.ConsentBreakdown(ctx, cq, d, query.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rows) != 0 || b.Other != nil {
				t.Errorf("consent %s: rows %v with k = 30", d, b.Rows)
			}
		}
		p, err := svc.Paths(ctx, current(fl...), "/", 10)
		if err != nil || len(p.Previous)+len(p.Next) != 0 {
			t.Errorf("paths: %v %v", p, err)
		}
	}
}

// sealFixture seals what the sealing job seals: the fixture's closed days
// (exact counts, days since the last visit) and the windows of its
// periods, the closed days of the current one (03-08, 03-09) and the
// previous one, with their visits per visitor.
func sealFixture(t *testing.T, db *clickhouse.DB) {
	t.Helper()
	ctx := context.Background()
	svc := New(db.Conn(), nil, Options{})
	if _, err := db.SealDays(ctx, reporttest.Site, reporttest.PrevFrom, reporttest.To); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.SealLoyalty(ctx, reporttest.Site, reporttest.PrevFrom, reporttest.To); err != nil || n == 0 {
		t.Fatalf("sealed the loyalty of %d days: %v", n, err)
	}
	n, err := db.SealWindows(ctx, reporttest.Site, []clickhouse.Window{
		{End: reporttest.To.AddDate(0, 0, -1), Days: 2}, {End: reporttest.PrevTo, Days: 3}}, svc.SealWindowVisitors, svc.SealWindowDecisions)
	if err != nil || n != 2 {
		t.Fatalf("sealed %d windows: %v", n, err)
	}
}

// TestConsentOverview_DecisionTimesFromTheWindow: without filters, the
// times to decision of the sealed window's days are read from its
// distribution, with today's decisions, and give the same median and
// buckets as every decision; a decision added to a sealed day makes the
// seal stale, and the decisions are read again.
func TestConsentOverview_DecisionTimesFromTheWindow(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	sealFixture(t, db)
	sites := reporttest.Sites{f.Site.ID: &f.Site}
	now := func() time.Time { return reporttest.Now }
	svc := New(db.Conn(), sites, Options{Now: now})
	raw := New(db.Conn(), sites, Options{Now: now})
	raw.forceRaw = true
	var mu sync.Mutex
	fromWindow := 0
	svc.trace = func(sql string, _ []any) {
		if strings.Contains(sql, "FROM "+migrations.ReportWindowDecisions+" WHERE site_id = ? AND date = toDate(?) AND days = ? AND sealed_ms = ?") {
			mu.Lock()
			fromWindow++
			mu.Unlock()
		}
	}
	ctx := context.Background()
	check := func(wantWindow bool, wantDecisions int64) {
		t.Helper()
		fromWindow = 0
		got, err := svc.ConsentOverview(ctx, current())
		if err != nil {
			t.Fatal(err)
		}
		want, err := raw.ConsentOverview(ctx, current())
		if err != nil {
			t.Fatal(err)
		}
		if dump(t, got.TimeToDecision) != dump(t, want.TimeToDecision) || got.TimeToDecision.Decisions != wantDecisions {
			t.Errorf("time to decision %s\nevery decision  %s (want %d decisions)", dump(t, got.TimeToDecision), dump(t, want.TimeToDecision), wantDecisions)
		}
		if (fromWindow > 0) != wantWindow {
			t.Errorf("read the sealed window %d times; want it read: %v", fromWindow, wantWindow)
		}
	}
	check(true, 9)
	// A late decision on the window's last day (five 800 ms decisions, so
	// that the median moves): the seal's count no longer holds.
	var late []model.Decision
	for range 5 {
		late = append(late, model.Decision{ID: uuid.New(), SiteID: reporttest.Site, Time: reporttest.To.Add(-2 * time.Hour),
			ConsentID: uuid.New(), PolicyVersion: 1, TextsHash: "fixture-texts-v1", Action: model.AcceptAll,
			Granted: model.Categories{Performance: true}, Language: "en", Country: "DE", Device: "desktop", DecisionMS: 800})
	}
	if err := db.InsertDecisions(ctx, late); err != nil {
		t.Fatal(err)
	}
	check(false, 14)
}

// TestBreakdown_EstimatedRowsSayHow: in a large range, a breakdown's big
// rows are estimated with the small sketches of report_dims, and the
// answer says so with their own error (not the totals' 0.3%); its totals
// under 100,000 are counted again exactly.
func TestBreakdown_EstimatedRowsSayHow(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	sites := reporttest.Sites{f.Site.ID: &f.Site}
	now := func() time.Time { return reporttest.Now }
	// Every range is large and every row big.
	est := New(db.Conn(), sites, Options{Now: now, ExactEvents: 1, ExactRowEvents: 1})
	exact := New(db.Conn(), sites, Options{Now: now})
	raw := New(db.Conn(), sites, Options{Now: now})
	raw.forceRaw = true
	ctx := context.Background()
	for _, dim := range []query.Dimension{query.DimCountry, query.DimPage, query.DimEvent} {
		b, err := est.Breakdown(ctx, current(), dim, BreakdownOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(b.Estimated, query.MetricVisitors) || len(b.Estimation) != 1 ||
			!strings.Contains(b.Estimation[0], "2^12 registers (standard error 1.6%)") {
			t.Errorf("%s: estimated %v, estimation %q; want the rows' sketch named", dim, b.Estimated, b.Estimation)
		}
		for _, want := range []*Service{exact, raw} {
			w, err := want.Breakdown(ctx, current(), dim, BreakdownOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if b.Totals.Visitors != w.Totals.Visitors || b.Totals.Visits != w.Totals.Visits {
				t.Errorf("%s: totals %d visitors, %d visits; recounted %d, %d", dim, b.Totals.Visitors, b.Totals.Visits, w.Totals.Visitors, w.Totals.Visits)
			}
		}
	}
}

// TestService_FewFilteredVisitorsSkipTheSample: a filter that leaves far
// fewer visitors than a sample could estimate returning visitors from
// counts them on every visitor at once, without reading the sample first.
func TestService_FewFilteredVisitorsSkipTheSample(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	now := func() time.Time { return reporttest.Now }
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: now, SessionSampleEvents: 1})
	var mu sync.Mutex
	sampled := 0
	svc.trace = func(sql string, _ []any) {
		if strings.Contains(sql, "n_ret") && strings.Contains(sql, "visitor_id >= toUUID(?)") {
			mu.Lock()
			sampled++
			mu.Unlock()
		}
	}
	ctx := context.Background()
	o, err := svc.Overview(ctx, current("country:is:DE"))
	if err != nil {
		t.Fatal(err)
	}
	if sampled != 0 || o.Estimate {
		t.Errorf("filtered to a few visitors: %d sampled reads, estimate %v; want none", sampled, o.Estimate)
	}
	exact := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: now})
	want, err := exact.Overview(ctx, current("country:is:DE"))
	if err != nil {
		t.Fatal(err)
	}
	if dump(t, o) != dump(t, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(t, o), dump(t, want))
	}
	// Without filters the range is sampled, as its budget says.
	if _, err := svc.Overview(ctx, current()); err != nil {
		t.Fatal(err)
	}
	if sampled == 0 {
		t.Error("no sampled read without filters")
	}
}
