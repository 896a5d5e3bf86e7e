package report

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// setup loads the fixture into a new database once per test.
func setup(t *testing.T) (*Service, reporttest.Fixture) {
	t.Helper()
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }})
	return svc, f
}

// current is the fixture's period, 2026-03-08 … 10, with filters.
func current(filters ...string) query.Query {
	v := url.Values{"site": {reporttest.Site}, "period": {"custom"}, "from": {"2026-03-08"}, "to": {"2026-03-10"}, "filter": filters}
	q, err := query.ParseQuery(v, reporttest.Now)
	if err != nil {
		panic(err)
	}
	return q
}

func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestService_Overview(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	q := current()
	q.Compare = true
	o, err := svc.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// Worked out from the fixture's table (reporttest): 8 visitors V1…V8,
	// 9 visits S1…S9, 14 consented + 3 anonymous page views, bounces S2,
	// S5, S9 (S3 and S7 have ≥ 10 s of engagement), durations 55+5+40+60+
	// 0+40+12+25+0 = 237 s, engagement 30+20+5+40+10+12 = 117 s, V1
	// returned, 27 consented events + 3 anonymous.
	want := result.Metrics{Visitors: 8, ReturningVisitors: 1, Visits: 9, Pageviews: 17, AnonymousPageviews: 3,
		ViewsPerVisit: 1.56, BounceRate: 33.3, VisitDuration: 26.3, TimeOnPage: 8.4, Events: 30}
	if o.Metrics != want {
		t.Errorf("metrics = %+v\nwant      %+v", o.Metrics, want)
	}
	// Previous period: V9, V10, V1; S11 and S12 bounce; 20 s of
	// engagement on 3 consented page views; one anonymous page view.
	prev := result.Metrics{Visitors: 3, ReturningVisitors: 0, Visits: 3, Pageviews: 4, AnonymousPageviews: 1,
		ViewsPerVisit: 1, BounceRate: 66.7, VisitDuration: 6.7, TimeOnPage: 6.7, Events: 5}
	if o.Previous == nil || *o.Previous != prev {
		t.Errorf("previous = %+v\nwant       %+v", o.Previous, prev)
	}
	for m, want := range map[query.Metric]float64{query.MetricVisitors: 166.7, query.MetricVisits: 200, query.MetricPageviews: 325, query.MetricBounceRate: -33.4, query.MetricEvents: 500} {
		if got := o.Change[m]; got == nil || *got != want {
			t.Errorf("change[%s] = %v, want %v", m, got, want)
		}
	}
	if o.Change[query.MetricReturningVisitors] != nil {
		t.Errorf("change of returning visitors from 0 = %v, want null", *o.Change[query.MetricReturningVisitors])
	}
	if o.SampleRate != 1 {
		t.Errorf("sample rate = %v", o.SampleRate)
	}
}

func TestService_OverviewFilters(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		filter string
		want   result.Metrics
	}{
		// DE: V1 (S1, S4), V2 (S2), V7 (S8) and A1. Visit metrics over S1,
		// S2, S4, S8: S2 bounces; 55+5+60+25 s; 50+5+10 s engaged on 8 views.
		{"country:is:DE", result.Metrics{Visitors: 3, ReturningVisitors: 1, Visits: 4, Pageviews: 9, AnonymousPageviews: 1,
			ViewsPerVisit: 2, BounceRate: 25, VisitDuration: 36.3, TimeOnPage: 8.1, Events: 17}},
		// Events on /pricing: S1, S4, S6, S8 (page views, engagement,
		// signups, the outbound click) and A2; visits S1, S4, S6, S8 whole.
		{"page:is:/pricing", result.Metrics{Visitors: 3, ReturningVisitors: 1, Visits: 4, Pageviews: 5, AnonymousPageviews: 1,
			ViewsPerVisit: 1, BounceRate: 0, VisitDuration: 45, TimeOnPage: 7.5, Events: 11}},
		// Visits that arrived from Google: S1, S3, S6, S8 whole, and A2.
		{"source:is:Google", result.Metrics{Visitors: 4, ReturningVisitors: 0, Visits: 4, Pageviews: 8, AnonymousPageviews: 1,
			ViewsPerVisit: 1.75, BounceRate: 0, VisitDuration: 40, TimeOnPage: 12.9, Events: 16}},
		// Everything but Google's visits: S2, S4, S5, S7, S9, A1, A3.
		{"source:is_not:Google", result.Metrics{Visitors: 5, ReturningVisitors: 0, Visits: 5, Pageviews: 9, AnonymousPageviews: 2,
			ViewsPerVisit: 1.4, BounceRate: 60, VisitDuration: 15.4, TimeOnPage: 3.9, Events: 14}},
		{"page:contains:PRI", result.Metrics{Visitors: 3, ReturningVisitors: 1, Visits: 4, Pageviews: 5, AnonymousPageviews: 1,
			ViewsPerVisit: 1, BounceRate: 0, VisitDuration: 45, TimeOnPage: 7.5, Events: 11}},
		// Visits with a signup: S1, S6, S8.
		{"event:is:signup", result.Metrics{Visitors: 3, ReturningVisitors: 0, Visits: 3, Pageviews: 6, AnonymousPageviews: 0,
			ViewsPerVisit: 2, BounceRate: 0, VisitDuration: 40, TimeOnPage: 8.3, Events: 13}},
		// Visits that entered on /blog: S3, S4, two visitors, fewer than
		// the fixture's k of 3: withheld.
		{"entry_page:is:/blog", result.Metrics{}},
		// Direct visits have no source, "(none)": S2, S7, S9, A1, A3.
		{"source:is:(none)", result.Metrics{Visitors: 3, ReturningVisitors: 0, Visits: 3, Pageviews: 5, AnonymousPageviews: 2,
			ViewsPerVisit: 1, BounceRate: 66.7, VisitDuration: 5.7, TimeOnPage: 5.7, Events: 8}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			o, err := svc.Overview(ctx, current(tc.filter))
			if err != nil {
				t.Fatal(err)
			}
			if o.Metrics != tc.want {
				t.Errorf("metrics = %+v\nwant      %+v", o.Metrics, tc.want)
			}
			if small := tc.want.Visitors < reporttest.K; small != (o.Withheld != "") {
				t.Errorf("withheld %q with %d visitors", o.Withheld, tc.want.Visitors)
			}
		})
	}
}

func rowsOf(b *result.Breakdown) []result.Row {
	out := append([]result.Row(nil), b.Rows...)
	if b.Other != nil {
		out = append(out, *b.Other)
	}
	return append(out, b.Totals)
}

func TestService_Breakdown(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		dim    query.Dimension
		opts   BreakdownOptions
		filter string
		want   []result.Row // rows, then (other) if shown, then totals
	}{
		// / and /pricing have ≥ 3 visitors; /blog (V3, V1) and /docs (V6)
		// fold into (other) with exactly 3 visitors. Time on page: 35 s
		// on 7 consented views of /, 30 s on 4 of /pricing, 52 s on 3.
		{query.DimPage, BreakdownOptions{}, "", []result.Row{
			{Value: "/", Visitors: 6, Visits: 7, Pageviews: 9, TimeOnPage: 5},
			{Value: "/pricing", Visitors: 3, Visits: 4, Pageviews: 5, TimeOnPage: 7.5},
			{Value: query.Other, Visitors: 3, Visits: 3, Pageviews: 3, TimeOnPage: 17.3},
			{Value: "(total)", Visitors: 8, Visits: 9, Pageviews: 17, TimeOnPage: 8.4},
		}},
		// Entry pages: / for S1, S2, S5, S8, S9 (3 bounces); (other) is
		// /blog (S3, S4), /pricing (S6), /docs (S7).
		{query.DimEntryPage, BreakdownOptions{}, "", []result.Row{
			{Value: "/", Visitors: 5, Visits: 5, BounceRate: 60, VisitDuration: 17},
			{Value: query.Other, Visitors: 4, Visits: 4, BounceRate: 0, VisitDuration: 38},
			{Value: "(total)", Visitors: 8, Visits: 9, BounceRate: 33.3, VisitDuration: 26.3},
		}},
		// Exit pages: / for S2, S5, S6, S9; /pricing (V1 twice, V7) has
		// only 2 visitors and folds.
		{query.DimExitPage, BreakdownOptions{}, "", []result.Row{
			{Value: "/", Visitors: 4, Visits: 4, BounceRate: 75, VisitDuration: 11.3},
			{Value: query.Other, Visitors: 4, Visits: 5, BounceRate: 0, VisitDuration: 38.4},
			{Value: "(total)", Visitors: 8, Visits: 9, BounceRate: 33.3, VisitDuration: 26.3},
		}},
		// Channels from landing page views; Email (V1) and Referral (V4)
		// fold into 2 visitors, fewer than k: no (other) row.
		{query.DimChannel, BreakdownOptions{}, "", []result.Row{
			{Value: "Organic Search", Visitors: 4, Visits: 4},
			{Value: "Direct", Visitors: 3, Visits: 3},
			{Value: "(total)", Visitors: 8, Visits: 9},
		}},
		{query.DimSource, BreakdownOptions{}, "", []result.Row{
			{Value: "Google", Visitors: 4, Visits: 4},
			{Value: query.None, Visitors: 3, Visits: 3},
			{Value: "(total)", Visitors: 8, Visits: 9},
		}},
		{query.DimCountry, BreakdownOptions{}, "", []result.Row{
			{Value: "DE", Visitors: 3, Visits: 4, Pageviews: 9},
			{Value: "US", Visitors: 3, Visits: 3, Pageviews: 4},
			{Value: "(total)", Visitors: 8, Visits: 9, Pageviews: 17},
		}},
		// Tablet (V6) and mobile (V2, V4, A1) fold into 3 visitors.
		{query.DimDevice, BreakdownOptions{}, "", []result.Row{
			{Value: "desktop", Visitors: 5, Visits: 6, Pageviews: 13},
			{Value: query.Other, Visitors: 3, Visits: 3, Pageviews: 4},
			{Value: "(total)", Visitors: 8, Visits: 9, Pageviews: 17},
		}},
		// Only the consented German visitors have a region.
		{query.DimRegion, BreakdownOptions{}, "", []result.Row{
			{Value: query.None, Visitors: 5, Visits: 5, Pageviews: 9},
			{Value: "Bavaria, DE", Visitors: 3, Visits: 4, Pageviews: 8},
			{Value: "(total)", Visitors: 8, Visits: 9, Pageviews: 17},
		}},
		// Signups: V1, V5, V7 of 8 visitors.
		{query.DimEvent, BreakdownOptions{}, "", []result.Row{
			{Value: "signup", Visitors: 3, Events: 3, ConversionRate: 37.5},
			{Value: "(total)", Visitors: 3, Events: 3, ConversionRate: 37.5},
		}},
		// plan=pro (V1, V5) and plan=free (V7) fold into 3 visitors.
		{query.DimEventProp, BreakdownOptions{Event: "signup", Property: "plan"}, "", []result.Row{
			{Value: query.Other, Visitors: 3, Events: 3, ConversionRate: 37.5},
			{Value: "(total)", Visitors: 3, Events: 3, ConversionRate: 37.5},
		}},
		{query.DimEventProp, BreakdownOptions{Event: "signup"}, "", []result.Row{
			{Value: "plan", Visitors: 3, Events: 3, ConversionRate: 37.5},
			{Value: "(total)", Visitors: 3, Events: 3, ConversionRate: 37.5},
		}},
		// One visitor each: everything folds, (other) has 1.
		{query.DimOutbound, BreakdownOptions{}, "", []result.Row{{Value: "(total)", Visitors: 1, Events: 1, ConversionRate: 12.5}}},
		{query.DimErrorPage, BreakdownOptions{}, "", []result.Row{{Value: "(total)", Visitors: 1, Events: 1, ConversionRate: 12.5}}},
		// Filtered (from events): visits that arrived from Google (S1,
		// S3, S6, S8) and A2. Ties break by page views, then by value.
		{query.DimPage, BreakdownOptions{}, "source:is:Google", []result.Row{
			{Value: "/", Visitors: 3, Visits: 3, Pageviews: 3, TimeOnPage: 10},
			{Value: "/pricing", Visitors: 3, Visits: 3, Pageviews: 4, TimeOnPage: 6.7},
			{Value: "(total)", Visitors: 4, Visits: 4, Pageviews: 8, TimeOnPage: 12.9},
		}},
		// Page-view filters keep events: DE page views by device.
		{query.DimDevice, BreakdownOptions{}, "country:is:DE", []result.Row{
			{Value: "desktop", Visitors: 2, Visits: 3, Pageviews: 7}, // fewer than k: folded…
		}},
	} {
		name := string(tc.dim) + "/" + tc.filter + tc.opts.Property
		t.Run(name, func(t *testing.T) {
			b, err := svc.Breakdown(ctx, current(filterList(tc.filter)...), tc.dim, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := rowsOf(b)
			if name == "device/country:is:DE" {
				// desktop (V1, V7) and mobile (V2, A1) both fold; (other)
				// has 3 visitors.
				tc.want = []result.Row{
					{Value: query.Other, Visitors: 3, Visits: 4, Pageviews: 9},
					{Value: "(total)", Visitors: 3, Visits: 4, Pageviews: 9},
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rows:\n%s\nwant\n%s", dump(t, got), dump(t, tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("row %d = %+v\nwant     %+v", i, got[i], tc.want[i])
				}
			}
			if b.K != reporttest.K {
				t.Errorf("k = %d", b.K)
			}
		})
	}
}

func filterList(f string) []string {
	if f == "" {
		return nil
	}
	return []string{f}
}

func TestService_BreakdownPaging(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	b, err := svc.Breakdown(ctx, current(), query.DimPage, BreakdownOptions{Page: query.Page{Limit: 1, Number: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 1 || b.Rows[0].Value != "/" || !b.More {
		t.Errorf("page 1 = %+v more=%v", b.Rows, b.More)
	}
	b, err = svc.Breakdown(ctx, current(), query.DimPage, BreakdownOptions{Page: query.Page{Limit: 1, Number: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 1 || b.Rows[0].Value != "/pricing" || b.More {
		t.Errorf("page 2 = %+v more=%v", b.Rows, b.More)
	}
	if b.Other == nil || b.Other.Visitors != 3 || b.Totals.Visitors != 8 {
		t.Errorf("other %+v totals %+v", b.Other, b.Totals)
	}
}

func TestService_Timeseries(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	q := current()
	q.Compare = true
	ts, err := svc.Timeseries(ctx, q, []query.Metric{query.MetricVisitors, query.MetricVisits, query.MetricPageviews, query.MetricBounceRate, query.MetricVisitDuration})
	if err != nil {
		t.Fatal(err)
	}
	// 03-08: V1, V2, V3 (S1, S2, S3), 4 page views + A1, S2 bounces,
	// (55+5+40)/3 s. 03-09: V1, V4, V5 (S4, S5, S6), 6 + A2, S5 bounces,
	// (60+0+40)/3. 03-10: V6, V7, V8 (S7, S8, S9), 4 + A3, S9 bounces,
	// (12+25+0)/3.
	want := []result.Metrics{
		{Visitors: 3, Visits: 3, Pageviews: 5, BounceRate: 33.3, VisitDuration: 33.3},
		{Visitors: 3, Visits: 3, Pageviews: 7, BounceRate: 33.3, VisitDuration: 33.3},
		{Visitors: 3, Visits: 3, Pageviews: 5, BounceRate: 33.3, VisitDuration: 12.3},
	}
	if len(ts.Points) != 3 {
		t.Fatalf("points: %s", dump(t, ts))
	}
	for i, p := range ts.Points {
		if p.Time != reporttest.From.AddDate(0, 0, i) {
			t.Errorf("point %d at %v", i, p.Time)
		}
		for _, m := range ts.Metrics {
			if p.Metrics.Get(m) != want[i].Get(m) {
				t.Errorf("point %d %s = %v, want %v", i, m, p.Metrics.Get(m), want[i].Get(m))
			}
		}
	}
	// Previous: 03-05 nothing; 03-06 V9 (+A4); 03-07 V10, V1.
	prev := []result.Metrics{{}, {Visitors: 1, Visits: 1, Pageviews: 2, VisitDuration: 20}, {Visitors: 2, Visits: 2, Pageviews: 2, BounceRate: 100}}
	for i, p := range ts.Previous {
		for _, m := range ts.Metrics {
			if p.Metrics.Get(m) != prev[i].Get(m) {
				t.Errorf("previous %d %s = %v, want %v", i, m, p.Metrics.Get(m), prev[i].Get(m))
			}
		}
	}
	// Hourly buckets: 72 of them; S1 at 03-08 10:00.
	q.Interval, q.Compare = query.Hour, false
	ts, err = svc.Timeseries(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Points) != 72 || ts.Points[10].Metrics.Visitors != 1 || ts.Points[10].Metrics.Pageviews != 2 {
		t.Errorf("hourly: %d points, 10:00 = %+v", len(ts.Points), ts.Points[10].Metrics)
	}
}

func TestService_Paths(t *testing.T) {
	svc, _ := setup(t)
	p, err := svc.Paths(context.Background(), current(), "/", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Views of /: S1 first, S2 only, S4 after /blog, S5 only, S6 after
	// /pricing, S8 first, S9 only. Before: (entrance) for V1, V2, V4, V7,
	// V8; /blog (V1) and /pricing (V5) fold into 2, fewer than k. After:
	// (exit) for V2, V4, V5, V8; /pricing (V1 twice, V7) folds.
	want := result.Paths{Previous: []result.PathRow{{Value: "(entrance)", Visitors: 5, Transitions: 5}}, Next: []result.PathRow{{Value: "(exit)", Visitors: 4, Transitions: 4}}}
	if dump(t, p.Previous) != dump(t, want.Previous) || dump(t, p.Next) != dump(t, want.Next) || p.PreviousOther != nil || p.NextOther != nil {
		t.Errorf("paths = %s", dump(t, p))
	}
	// From /pricing: before it / (S1, S4, S8: V1, V7) and entrance (S6:
	// V5); after it / (S6, V5) and exit (S1, S4, S8).
	p, err = svc.Paths(context.Background(), current(), "/pricing", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Previous) != 0 || p.PreviousOther == nil || p.PreviousOther.Visitors != 3 || p.PreviousOther.Transitions != 4 {
		t.Errorf("previous of /pricing = %s", dump(t, p))
	}
	if len(p.Next) != 0 || p.NextOther == nil || p.NextOther.Visitors != 3 || p.NextOther.Transitions != 4 {
		t.Errorf("next of /pricing = %s", dump(t, p))
	}
}

func TestService_Realtime(t *testing.T) {
	svc, _ := setup(t)
	r, err := svc.Realtime(context.Background(), reporttest.Site, 10)
	if err != nil {
		t.Fatal(err)
	}
	// 12:58–13:03 holds A3 only: one page view, no visitor.
	if r.Visitors != 0 || r.Pageviews != 1 || len(r.Pages) != 0 || r.PageOther != nil {
		t.Errorf("realtime = %s", dump(t, r))
	}
}

func TestService_Consent(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	o, err := svc.ConsentOverview(ctx, current())
	if err != nil {
		t.Fatal(err)
	}
	// 10 impressions (2 GPC, 4 with undeclared cookies), 10 decisions by
	// 9 consent IDs: 6 accept_all, 1 reject_all, 2 custom, 1 withdraw;
	// performance granted 8 times, functionality 7, targeting 5; GPC 2.
	want := result.ConsentMetrics{Impressions: 10, Decisions: 10, Consents: 9, AcceptAll: 6, RejectAll: 1, Custom: 2, Withdraw: 1,
		InteractionRate: 100, OptInPerformance: 80, OptInFunctionality: 70, OptInTargeting: 50,
		GPCShareImpressions: 20, GPCShareDecisions: 20, UndeclaredImpressions: 4}
	if o.ConsentMetrics != want {
		t.Errorf("consent = %+v\nwant      %+v", o.ConsentMetrics, want)
	}
	if o.ConsentedPageviews != 14 || o.AnonymousPageviews != 3 || o.MeasuredShare == nil || *o.MeasuredShare != 82.4 || o.EstimatedCoverage != 80 {
		t.Errorf("coverage = %s", dump(t, o))
	}
	// Time to decision (reporttest.DecisionTimes): nine decisions made in
	// the banner; the buckets under k (3) show null.
	ttd, _ := json.Marshal(o.TimeToDecision)
	if got, want := string(ttd), `{"k":3,"decisions":9,"median_ms":4000,"buckets":[{"label":"under 2 s","decisions":null},`+
		`{"label":"2-5 s","decisions":4},{"label":"5-10 s","decisions":null},{"label":"10-30 s","decisions":null},`+
		`{"label":"30-60 s","decisions":null},{"label":"60 s or more","decisions":null}]}`; got != want {
		t.Errorf("time to decision = %s\nwant               %s", got, want)
	}

	b, err := svc.ConsentBreakdown(ctx, current(), query.ConsentCountry, query.Page{})
	if err != nil {
		t.Fatal(err)
	}
	// DE: D1, D2, D7, D9, D10 by C1, C2, C7, C9; impressions I1, I2, I7,
	// I10. US: D3, D4, D8 by C3, C4, C8; impressions I3, I4, I8, I9. GB
	// and FR (one consent ID each) fold into 2: no (other). Undeclared
	// cookies were present on I7 (DE), I3 and I8 (US), and I5.
	de := result.ConsentMetrics{Impressions: 4, Decisions: 5, Consents: 4, AcceptAll: 3, RejectAll: 1, Withdraw: 1,
		InteractionRate: 125, OptInPerformance: 60, OptInFunctionality: 60, OptInTargeting: 60, UndeclaredImpressions: 1}
	us := result.ConsentMetrics{Impressions: 4, Decisions: 3, Consents: 3, AcceptAll: 2, Custom: 1, InteractionRate: 75,
		OptInPerformance: 100, OptInFunctionality: 66.7, OptInTargeting: 33.3, GPCShareImpressions: 50, GPCShareDecisions: 66.7,
		UndeclaredImpressions: 2}
	if len(b.Rows) != 2 || b.Rows[0].Value != "DE" || b.Rows[0].ConsentMetrics != de || b.Rows[1].Value != "US" || b.Rows[1].ConsentMetrics != us || b.Other != nil {
		t.Errorf("by country = %s", dump(t, b))
	}
	if b.Totals.Decisions != 10 || b.Totals.Consents != 9 || b.Totals.Impressions != 10 || b.Totals.UndeclaredImpressions != 4 {
		t.Errorf("totals = %+v", b.Totals)
	}

	c, err := svc.UndeclaredCookies(ctx, current(), false, 10)
	if err != nil {
		t.Fatal(err)
	}
	// _ga on I3, I7, I8; _hjSessionUser on I5 only (folded, 1 < k).
	if len(c.Rows) != 1 || c.Rows[0] != (result.CookieRow{Cookie: "_ga", Impressions: 3}) || c.Other != nil {
		t.Errorf("cookies = %s", dump(t, c))
	}
	c, err = svc.UndeclaredCookies(ctx, current(), true, 10)
	if err != nil {
		t.Fatal(err)
	}
	// By page every pair is seen fewer than 3 times: / _ga 2, /blog _ga
	// 1, /pricing _hjSessionUser 1 — (other) 4.
	if len(c.Rows) != 0 || c.Other == nil || c.Other.Impressions != 4 {
		t.Errorf("cookies by page = %s", dump(t, c))
	}

	ts, err := svc.ConsentTimeseries(ctx, current())
	if err != nil {
		t.Fatal(err)
	}
	// 03-10: I6–I10 (I8 GPC), D6–D10: accept_all 3, reject 1, withdraw 1.
	day := ts.Points[2].ConsentMetrics
	if len(ts.Points) != 3 || day.Impressions != 5 || day.Decisions != 5 || day.AcceptAll != 3 || day.OptInPerformance != 60 || day.GPCShareImpressions != 20 {
		t.Errorf("consent series = %s", dump(t, ts))
	}

	// Filtered (from the raw tables): DE.
	o, err = svc.ConsentOverview(ctx, current("country:is:DE"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Impressions != 4 || o.Decisions != 5 || o.Consents != 4 || o.OptInPerformance != 60 || o.ConsentedPageviews != 8 || o.AnonymousPageviews != 1 {
		t.Errorf("DE consent = %s", dump(t, o))
	}
	// DE's four decisions in the banner: 900, 1200, 3400, 4000 ms.
	if d := o.TimeToDecision; d.Decisions != 4 || d.MedianMS == nil || *d.MedianMS != 3400 {
		t.Errorf("DE time to decision = %s", dump(t, d))
	}
	if _, err := svc.ConsentOverview(ctx, current("browser:is:Chrome")); !isQueryError(err) {
		t.Errorf("browser filter on consent: err = %v, want a QueryError", err)
	}
}

func isQueryError(err error) bool {
	_, ok := err.(*query.QueryError)
	return ok
}

func TestService_Proof(t *testing.T) {
	svc, f := setup(t)
	ctx := context.Background()
	h, err := svc.ConsentHistory(ctx, reporttest.Site, f.Consent1.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Decisions) != 2 || h.Decisions[0].Action != model.AcceptAll || h.Decisions[1].Action != model.Withdraw ||
		h.Decisions[1].Granted.Performance || h.Decisions[0].TextsHash != "fixture-texts-v1" {
		t.Errorf("history = %s", dump(t, h))
	}
	if _, err := svc.ConsentHistory(ctx, reporttest.Site, "6f0c1d7e-1a2b-4c3d-8e4f-5a6b7c8d9e0f"); err != ErrNotFound {
		t.Errorf("unknown consent ID: err = %v", err)
	}
	if _, err := svc.ConsentHistory(ctx, reporttest.Site, "not-a-uuid"); !isQueryError(err) {
		t.Errorf("bad consent ID: err = %v", err)
	}
	var n int
	err = svc.ExportDecisions(ctx, reporttest.Site, reporttest.From, reporttest.To, func(result.ProofDecision) error { n++; return nil })
	if err != nil || n != 10 {
		t.Errorf("export: %d decisions, err %v", n, err)
	}
}

func TestService_UnknownSite(t *testing.T) {
	svc, _ := setup(t)
	q := current()
	q.Site = "nope"
	if _, err := svc.Overview(context.Background(), q); err != ErrUnknownSite {
		t.Errorf("err = %v", err)
	}
}

// TestService_FilteredBelowKIsWithheld: filters that leave fewer than k
// visitors (here two, entering on /blog, against k = 3) would show those
// visitors one by one: every traffic answer withholds its numbers and says
// why. Without filters, or with k visitors, nothing is withheld.
func TestService_FilteredBelowKIsWithheld(t *testing.T) {
	svc, f := setup(t)
	ctx := context.Background()
	f.Site.Goals = []model.Goal{{Name: "Signup", Match: "event:signup"}}
	q := current("entry_page:is:/blog")
	o, err := svc.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(o)
	if o.Withheld == "" || !strings.Contains(string(js), `"metrics":null`) || !strings.Contains(string(js), `"withheld":"fewer than 3 visitors`) {
		t.Errorf("overview: %s", js)
	}
	ts, err := svc.Timeseries(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Withheld == "" || len(ts.Points) != 0 {
		t.Errorf("time series: withheld %q, %d points", ts.Withheld, len(ts.Points))
	}
	for _, dim := range []query.Dimension{query.DimPage, query.DimCountry, query.DimEntryPage, query.DimVisitsPerVisitor} {
		b, err := svc.Breakdown(ctx, q, dim, BreakdownOptions{})
		if err != nil {
			t.Fatal(dim, err)
		}
		js, _ := json.Marshal(b)
		if b.Withheld == "" || len(b.Rows) != 0 || b.Other != nil || !strings.Contains(string(js), `"totals":null`) {
			t.Errorf("%s: %s", dim, js)
		}
	}
	g, err := svc.Goals(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	js, _ = json.Marshal(g)
	if g.Withheld == "" || !strings.Contains(string(js), `"visitors":null`) {
		t.Errorf("goals: %s", js)
	}
	// Consent numbers of a country without k consents.
	cq := current("country:is:ZZ")
	co, err := svc.ConsentOverview(ctx, cq)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := svc.ConsentTimeseries(ctx, cq)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := svc.ConsentBreakdown(ctx, cq, query.ConsentCountry, query.Page{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ = json.Marshal(co)
	if co.Withheld == "" || !strings.Contains(string(js), `"consents":null`) || cs.Withheld == "" || len(cs.Points) != 0 || cb.Withheld == "" || len(cb.Rows) != 0 {
		t.Errorf("consent: %s; series %q %d points; breakdown %q %d rows", js, cs.Withheld, len(cs.Points), cb.Withheld, len(cb.Rows))
	}
	if all, err := svc.ConsentOverview(ctx, current()); err != nil || all.Withheld != "" {
		t.Errorf("consent without filters: %v %q", err, all.Withheld)
	}
	// Three visitors from Germany, and the whole site: shown.
	for _, q := range []query.Query{current("country:is:DE"), current()} {
		o, err := svc.Overview(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := svc.Breakdown(ctx, q, query.DimPage, BreakdownOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Withheld != "" || o.Metrics.Visitors < 3 || b.Withheld != "" || b.Totals.Visitors < 3 {
			t.Errorf("%v: withheld %q %q", q.Filters, o.Withheld, b.Withheld)
		}
	}
}

// TestService_SharesIdenticalReads: the panels of one dashboard load ask
// ClickHouse for the same totals (the overview, the custom events'
// conversion rates, the consent view's page views); asked at once, the
// statement runs once and every panel gets the same numbers as alone.
func TestService_SharesIdenticalReads(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	q := current("country:is:DE")
	alone, err := svc.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	aloneConsent, err := svc.ConsentOverview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	runs := map[string]int{}
	first := make(chan struct{})
	var once sync.Once
	svc.trace = func(sql string, _ []any) {
		if !strings.Contains(sql, "AS t_visitors") || strings.Contains(sql, "GROUP BY") {
			return
		}
		mu.Lock()
		runs[sql]++
		mu.Unlock()
		// The first reader waits while the others ask.
		once.Do(func() { <-first })
	}
	const n = 6
	overviews := make([]*result.Overview, n)
	consents := make([]*result.ConsentOverview, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			o, err := svc.Overview(ctx, q)
			overviews[i] = o
			errs <- err
		}()
		go func() {
			defer wg.Done()
			c, err := svc.ConsentOverview(ctx, q)
			consents[i] = c
			errs <- err
		}()
	}
	time.Sleep(500 * time.Millisecond)
	close(first)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("totals statements: %d distinct, want 1 (the consent view's page views read the overview's totals)", len(runs))
	}
	for sql, c := range runs {
		if c != 1 {
			t.Errorf("the totals ran %d times for %d overviews and %d consent views asked at once, want once:\n%s", c, n, n, sql)
		}
	}
	for i := 0; i < n; i++ {
		if dump(t, overviews[i]) != dump(t, alone) || dump(t, consents[i]) != dump(t, aloneConsent) {
			t.Fatalf("answer %d differs from the answer alone:\n%s\n%s", i, dump(t, overviews[i]), dump(t, alone))
		}
	}
}

// TestService_SharedReadOutlivesItsFirstAsker: when the request that
// started a shared read goes away, the others still get their answer.
func TestService_SharedReadOutlivesItsFirstAsker(t *testing.T) {
	svc, _ := setup(t)
	q := current("country:is:DE")
	alone, err := svc.Overview(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	svc.trace = func(sql string, _ []any) {
		if strings.Contains(sql, "AS t_visitors") && !strings.Contains(sql, "GROUP BY") {
			once.Do(func() { <-release })
		}
	}
	first, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := svc.Overview(first, q)
		firstErr <- err
	}()
	time.Sleep(200 * time.Millisecond)
	var got *result.Overview
	done := make(chan error, 1)
	go func() {
		var err error
		got, err = svc.Overview(context.Background(), q)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	close(release)
	if err := <-firstErr; err == nil {
		t.Error("the cancelled request got an answer")
	}
	if err := <-done; err != nil {
		t.Fatalf("the other request: %v", err)
	}
	if dump(t, got) != dump(t, alone) {
		t.Errorf("answer:\n%s\nwant\n%s", dump(t, got), dump(t, alone))
	}
}
