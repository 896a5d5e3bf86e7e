package report

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// analysisCrowd builds visits of known shape: each is a list of steps
// ("/pricing" a page view, "signup" or "signup:plan=pro" a custom event)
// at offsets from the visit's start.
type analysisCrowd struct {
	t      *testing.T
	site   string
	events []model.Event
}

type hit struct {
	what string
	at   time.Duration
}

// visit adds one visit of visitor starting at start.
func (c *analysisCrowd) visit(visitor uuid.UUID, country string, start time.Time, hits ...hit) {
	s := uuid.New()
	for _, h := range hits {
		e := model.Event{ID: uuid.New(), SiteID: c.site, Time: start.Add(h.at), VisitorID: visitor, SessionID: s,
			Hostname: c.site, Path: "/", Device: "desktop", Country: country}
		if strings.HasPrefix(h.what, "/") {
			e.Type, e.Path = model.Pageview, h.what
		} else {
			name, prop, _ := strings.Cut(h.what, ":")
			e.Type, e.Name = model.Custom, name
			if k, v, ok := strings.Cut(prop, "="); ok {
				e.PropKeys, e.PropValues = []string{k}, []string{v}
			}
		}
		c.events = append(c.events, e)
	}
}

func (c *analysisCrowd) insert(db *clickhouse.DB) {
	c.t.Helper()
	if err := db.InsertEvents(context.Background(), c.events); err != nil {
		c.t.Fatal(err)
	}
	c.events = nil
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnalysis_KnownCrowd: funnels (each window, a filter, k), goals (and
// goal filters) and retention cohorts of a crowd whose every number is
// known, on both query paths.
func TestAnalysis_KnownCrowd(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 30, 18, 0, 0, 0, time.UTC)
	site := model.NewSite("funnels", "funnels.test", "", now.AddDate(-1, 0, 0))
	site.K = 3
	site.Goals = []model.Goal{{Name: "Pricing", Match: "page:/pricing"}, {Name: "Signup", Match: "event:signup"},
		{Name: "Pro", Match: "event:signup:plan=pro"}, {Name: "Docs", Match: "page:/docs/*"}, {Name: "Upgrade", Match: "event:upgrade"}}
	cohorts := model.NewSite("cohorts", "cohorts.test", "", now.AddDate(-1, 0, 0))
	cohorts.K = 3
	for _, s := range []model.Site{site, cohorts} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}

	c := &analysisCrowd{t: t, site: site.ID}
	day := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	minute := time.Minute
	// A: 10 visitors, one visit: pricing, signup a minute later (5 of
	// them on the pro plan), thanks a minute after; the first 4 in
	// Germany, the last 2 upgrade afterwards.
	for i := 0; i < 10; i++ {
		plan, country := "free", ""
		if i < 5 {
			plan = "pro"
		}
		if i < 4 {
			country = "DE"
		}
		hits := []hit{{"/pricing", 0}, {"signup:plan=" + plan, minute}, {"/thanks", 2 * minute}}
		if i >= 8 {
			hits = append(hits, hit{"upgrade", 3 * minute})
		}
		c.visit(uuid.New(), country, day.Add(time.Duration(i)*time.Hour), hits...)
	}
	// B: 6 visitors: pricing; 20 hours later, a second visit: signup,
	// thanks a minute later. The first 3 in Germany.
	for i := 0; i < 6; i++ {
		v, country := uuid.New(), ""
		if i < 3 {
			country = "DE"
		}
		c.visit(v, country, day.Add(time.Duration(i)*time.Minute), hit{"/pricing", 0})
		c.visit(v, country, day.Add(20*time.Hour+time.Duration(i)*time.Minute), hit{"signup:plan=free", 0}, hit{"/thanks", minute})
	}
	// C: 5 visitors: pricing, then thanks without signing up.
	for i := 0; i < 5; i++ {
		c.visit(uuid.New(), "", day.Add(time.Duration(i)*time.Minute), hit{"/pricing", 0}, hit{"/thanks", minute})
	}
	// D: 2 visitors: pricing, signup 30 s later.
	for i := 0; i < 2; i++ {
		c.visit(uuid.New(), "", day.Add(time.Duration(i)*time.Minute), hit{"/pricing", 0}, hit{"signup:plan=free", 30 * time.Second})
	}
	// E: 4 visitors read two docs pages.
	for i := 0; i < 4; i++ {
		c.visit(uuid.New(), "", day.Add(time.Duration(i)*time.Minute), hit{"/docs/a", 0}, hit{"/docs/b", minute})
	}
	// F: 3 visitors sign up, then see pricing: the wrong order.
	for i := 0; i < 3; i++ {
		c.visit(uuid.New(), "", day.Add(time.Duration(i)*time.Minute), hit{"signup:plan=free", 0}, hit{"/pricing", minute})
	}
	// G: 3 visitors see pricing; four days later, pricing again and an
	// hour later a signup: only the later start completes in a day.
	for i := 0; i < 3; i++ {
		v := uuid.New()
		c.visit(v, "", day.Add(time.Duration(i)*time.Minute), hit{"/pricing", 0})
		c.visit(v, "", day.Add(4*24*time.Hour+time.Duration(i)*time.Minute), hit{"/pricing", 0}, hit{"signup:plan=free", time.Hour})
	}
	c.insert(db)

	// Retention: the weeks of June 2026 from Monday the 1st.
	r := &analysisCrowd{t: t, site: cohorts.ID}
	june := func(d int) time.Time { return time.Date(2026, 6, d, 12, 0, 0, 0, time.UTC) }
	// 3 visitors came in May: never a cohort.
	for i := 0; i < 3; i++ {
		v := uuid.New()
		r.visit(v, "", june(1).AddDate(0, 0, -12), hit{"/", 0})
		r.visit(v, "", june(2), hit{"/", 0})
		r.visit(v, "", june(9), hit{"/", 0})
	}
	// Week of 1 June: 8 new visitors (the first 4 in Germany); 5 come
	// back the next week (3 of the Germans), 2 the week after, 3 in the
	// last week.
	for i := 0; i < 8; i++ {
		v, country := uuid.New(), ""
		if i < 4 {
			country = "DE"
		}
		r.visit(v, country, june(2), hit{"/", 0}, hit{"/pricing", minute})
		if i >= 1 && i < 6 {
			r.visit(v, country, june(9), hit{"/", 0})
		}
		if i >= 6 {
			r.visit(v, country, june(16), hit{"/", 0})
		}
		if i < 3 {
			r.visit(v, country, june(23), hit{"/", 0})
		}
	}
	// Week of 8 June: 4 new, 3 back the next week.
	for i := 0; i < 4; i++ {
		v := uuid.New()
		r.visit(v, "", june(8), hit{"/", 0})
		if i < 3 {
			r.visit(v, "", june(17), hit{"/", 0})
		}
	}
	// Week of 15 June: 2 new.
	for i := 0; i < 2; i++ {
		r.visit(uuid.New(), "", june(15), hit{"/", 0})
	}
	r.insert(db)

	sites := reporttest.Sites{site.ID: &site, cohorts.ID: &cohorts}
	svc := New(db.Conn(), sites, Options{Now: func() time.Time { return now }})
	raw := New(db.Conn(), sites, Options{Now: func() time.Time { return now }})
	raw.forceRaw = true
	q := func(s string, extra ...string) query.Query {
		t.Helper()
		v := url.Values{"site": {s}, "period": {"custom"}, "from": {"2026-06-01"}, "to": {"2026-06-28"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Add(extra[i], extra[i+1])
		}
		qq, err := query.ParseQuery(v, now)
		if err != nil {
			t.Fatal(err)
		}
		return qq
	}
	steps := func(window string, ss ...string) query.Funnel {
		t.Helper()
		f, err := query.ParseFunnelSteps(ss, window)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	stepsJSON := func(f *result.Funnel) string {
		var out []string
		for _, s := range f.Steps {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", s.Step, show(s.Visitors), show(s.ConversionFromPrevious), show(s.ConversionFromFirst), show(s.MedianSecondsFromPrevious)))
		}
		return strings.Join(out, " | ")
	}

	t.Run("funnel", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			q      query.Query
			f      query.Funnel
			expect string
		}{
			{"visit", q(site.ID), steps("", "page:/pricing", "event:signup", "page:/thanks"),
				"page:/pricing 29 - 100 - | event:signup 15 51.7 51.7 60 | page:/thanks 10 66.7 34.5 60"},
			{"a day", q(site.ID), steps("1d", "page:/pricing", "event:signup", "page:/thanks"),
				"page:/pricing 29 - 100 - | event:signup 21 72.4 72.4 60 | page:/thanks 16 76.2 55.2 60"},
			{"a week, pro plan", q(site.ID), steps("7d", "page:/pricing", "event:signup:plan=pro", "page:/thanks"),
				"page:/pricing 29 - 100 - | event:signup:plan=pro 5 17.2 17.2 60 | page:/thanks 5 100 17.2 60"},
			{"wildcard", q(site.ID), steps("visit", "page:/docs/*", "page:/docs/b"),
				"page:/docs/* 4 - 100 - | page:/docs/b 4 100 100 60"},
			{"Germany", q(site.ID, "filter", "country:is:DE"), steps("", "page:/pricing", "event:signup", "page:/thanks"),
				"page:/pricing 7 - 100 - | event:signup 4 57.1 57.1 60 | page:/thanks 4 100 57.1 60"},
			{"under k", q(site.ID), steps("", "page:/pricing", "event:signup", "page:/thanks", "event:upgrade"),
				"page:/pricing 29 - 100 - | event:signup 15 51.7 51.7 60 | page:/thanks 10 66.7 34.5 60 | event:upgrade - - - -"},
			// One event is one step, on both paths: a pro signup is not
			// also the signup before it.
			{"one event, one step", q(site.ID), steps("7d", "event:signup", "event:signup:plan=pro"),
				"event:signup 24 - 100 - | event:signup:plan=pro - - - -"},
			{"goal filter", q(site.ID, "filter", "goal:is:Pro"), steps("", "page:/pricing", "page:/thanks"),
				"page:/pricing 5 - 100 - | page:/thanks 5 100 100 120"},
		} {
			for _, s := range []*Service{svc, raw} {
				got, err := s.Funnel(ctx, tc.q, tc.f)
				if err != nil {
					t.Fatal(tc.name, err)
				}
				if js := stepsJSON(got); js != tc.expect {
					t.Errorf("%s (raw %v):\n got %s\nwant %s", tc.name, s.forceRaw, js, tc.expect)
				}
			}
		}
	})

	t.Run("goals", func(t *testing.T) {
		for _, s := range []*Service{svc, raw} {
			g, err := s.Goals(ctx, q(site.ID))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range g.Goals {
				out = append(out, fmt.Sprintf("%s %s %s %s", r.Name, show(r.Visitors), show(r.Conversions), show(r.ConversionRate)))
			}
			want := "33: Pricing 29 32 87.9 | Signup 24 24 72.7 | Pro 5 5 15.2 | Docs 4 8 12.1 | Upgrade - - -"
			if got := fmt.Sprintf("%d: %s", g.Visitors, strings.Join(out, " | ")); got != want {
				t.Errorf("goals:\n got %s\nwant %s", got, want)
			}
		}
		// Goals as filters of other reports.
		for _, tc := range []struct {
			filter   string
			visitors int64
		}{{"goal:is:Pro", 5}, {"goal:is:Signup", 24}, {"goal:is_not:Signup", 18}, {"goal:is:Docs", 4}} {
			o, err := svc.Overview(ctx, q(site.ID, "filter", tc.filter))
			if err != nil {
				t.Fatal(err)
			}
			if o.Metrics.Visitors != tc.visitors {
				t.Errorf("%s: %d visitors, want %d", tc.filter, o.Metrics.Visitors, tc.visitors)
			}
		}
		b, err := svc.Breakdown(ctx, q(site.ID, "filter", "goal:is:Signup"), query.DimPage, BreakdownOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Rows {
			if r.Value == "/thanks" && r.Visits != 16 {
				t.Errorf("/thanks in visits with a signup: %d visits, want 16", r.Visits)
			}
		}
		if _, err := svc.Overview(ctx, q(site.ID, "filter", "goal:is:Nope")); err == nil || !strings.Contains(err.Error(), "no goal called") {
			t.Errorf("an unknown goal: %v", err)
		}
	})

	t.Run("breakdown compared", func(t *testing.T) {
		for _, s := range []*Service{svc, raw} {
			v := url.Values{"site": {cohorts.ID}, "period": {"custom"}, "from": {"2026-06-08"}, "to": {"2026-06-14"}, "compare": {"previous_period"}}
			qq, err := query.ParseQuery(v, now)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Breakdown(ctx, qq, query.DimPage, BreakdownOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Rows) != 1 || b.Rows[0].Value != "/" || b.Rows[0].Visitors != 12 || b.Rows[0].Previous == nil || b.Rows[0].Previous.Visitors != 11 {
				t.Fatalf("raw %v: rows %+v", s.forceRaw, b.Rows)
			}
			js := jsonOf(t, b)
			if !strings.Contains(js, `"previous":{"value":"/","visitors":11,`) || !strings.Contains(js, `"change":{"visitors":9.1,`) {
				t.Errorf("compared row: %s", js)
			}
			v.Set("compare", "previous_year")
			if qq, err = query.ParseQuery(v, now); err != nil {
				t.Fatal(err)
			}
			if b, err = s.Breakdown(ctx, qq, query.DimPage, BreakdownOptions{}); err != nil {
				t.Fatal(err)
			}
			if b.Rows[0].Previous != nil || !strings.Contains(jsonOf(t, b), `"previous":null,"change":null`) {
				t.Errorf("a year before, nothing: %s", jsonOf(t, b))
			}
		}
	})

	t.Run("retention", func(t *testing.T) {
		want := map[string]string{
			"week":       "2026-06-01 8 [2026-06-08 5 62.5, 2026-06-15 - -, 2026-06-22 3 37.5] | 2026-06-08 4 [2026-06-15 3 75, 2026-06-22 - -] | 2026-06-15 - [2026-06-22 - -] | 2026-06-22 - []",
			"month":      "2026-06-01 14 []",
			"week in DE": "2026-06-01 4 [2026-06-08 3 75, 2026-06-15 - -, 2026-06-22 3 75] | 2026-06-08 - [2026-06-15 - -, 2026-06-22 - -] | 2026-06-15 - [2026-06-22 - -] | 2026-06-22 - []",
		}
		for _, s := range []*Service{svc, raw} {
			for name, expect := range want {
				iv, qq := query.Week, q(cohorts.ID)
				if name == "month" {
					iv = query.Month
				}
				if name == "week in DE" {
					qq = q(cohorts.ID, "filter", "country:is:DE")
				}
				got, err := s.Retention(ctx, qq, iv)
				if err != nil {
					t.Fatal(err)
				}
				var rows []string
				for _, co := range got.Cohorts {
					var cells []string
					for _, cell := range co.Returning {
						cells = append(cells, fmt.Sprintf("%s %s %s", cell.Interval, show(cell.Visitors), show(cell.Share)))
					}
					rows = append(rows, fmt.Sprintf("%s %s [%s]", co.Cohort, show(co.Visitors), strings.Join(cells, ", ")))
				}
				if g := strings.Join(rows, " | "); g != expect {
					t.Errorf("%s (raw %v):\n got %s\nwant %s", name, s.forceRaw, g, expect)
				}
			}
		}
	})
}

// show writes a withheld number as "-".
func show[T int64 | float64](v *T) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func TestMedian_OfCountedValues(t *testing.T) {
	for _, tc := range []struct {
		counts map[int64]int64
		want   float64
	}{
		{map[int64]int64{}, 0}, {map[int64]int64{7: 1}, 7}, {map[int64]int64{1: 1, 3: 1}, 2},
		{map[int64]int64{5: 2, 10: 1}, 5}, {map[int64]int64{2: 2, 4: 2}, 3}, {map[int64]int64{60: 3, 1: 1, 120: 1}, 60},
	} {
		if got := median(tc.counts); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.counts, got, tc.want)
		}
	}
}

// TestFunnel_OneStepPerRow: the funnel statement merges the rows of one
// second and page (or event) only when a row could be two steps.
func TestFunnel_OneStepPerRow(t *testing.T) {
	for _, tc := range []struct {
		steps []string
		one   bool
	}{
		{[]string{"page:/pricing", "event:signup", "page:/thanks"}, true},
		{[]string{"page:/pricing", "event:signup:plan=pro"}, true},
		{[]string{"event:signup", "event:signup:plan=pro"}, false}, // one event, both steps
		{[]string{"page:/docs/*", "page:/docs/b"}, false},          // a pattern
		{[]string{"page:/a", "page:/b", "page:/a"}, false},         // a page twice
		{[]string{"page:/signup", "event:/signup"}, true},          // a page and an event of one name
	} {
		f, err := query.ParseFunnelSteps(tc.steps, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := plan.OneStepPerRow(f.Steps); got != tc.one {
			t.Errorf("%v: one step per row = %v, want %v", tc.steps, got, tc.one)
		}
		merged := strings.Contains(plan.FunnelSQL(&plan.Plan{MV: true}, f.Steps).String(), "GROUP BY v, s, ts, e1")
		if merged == tc.one {
			t.Errorf("%v: rows merged = %v", tc.steps, merged)
		}
	}
}
