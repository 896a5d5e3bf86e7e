package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/privacy"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

// staticSites serves the sites read once from the database.
type staticSites map[string]*model.Site

func (s staticSites) Get(_ context.Context, id string) (*model.Site, bool) {
	site, ok := s[id]
	return site, ok
}

// panel is one request of the dashboard.
type panel struct {
	name string
	run  func(ctx context.Context) error
}

// dashboard is what the dashboard loads by default for the last 30 days:
// the headline numbers, the visitors graph, sources (channels), top pages,
// countries, browsers, custom events, current visitors and the consent
// summary.
func dashboard(svc *report.Service, site string, now time.Time, filters []string, compare bool) ([]panel, error) {
	v := url.Values{"site": {site}, "period": {"30d"}, "filter": filters}
	if compare {
		v.Set("compare", "previous_period")
	}
	q, err := query.ParseQuery(v, now)
	if err != nil {
		return nil, err
	}
	// The consent panel takes only the filters consent analytics support.
	qc := q
	qc.Filters = nil
	for _, f := range q.Filters {
		switch f.Dimension {
		case query.DimCountry, query.DimDevice, query.DimPage, query.DimLanguage:
			qc.Filters = append(qc.Filters, f)
		}
	}
	page := report.BreakdownOptions{Page: query.Page{Limit: 10, Number: 1}}
	bd := func(d query.Dimension) panel {
		return panel{"breakdown/" + string(d), func(ctx context.Context) error {
			_, err := svc.Breakdown(ctx, q, d, page)
			return err
		}}
	}
	return []panel{
		{"overview", func(ctx context.Context) error { _, err := svc.Overview(ctx, q); return err }},
		{"timeseries", func(ctx context.Context) error { _, err := svc.Timeseries(ctx, q, nil); return err }},
		bd(query.DimChannel), bd(query.DimPage), bd(query.DimCountry), bd(query.DimBrowser), bd(query.DimEvent),
		{"realtime", func(ctx context.Context) error { _, err := svc.Realtime(ctx, site, 10); return err }},
		{"consent/overview", func(ctx context.Context) error { _, err := svc.ConsentOverview(ctx, qc); return err }},
		// The Loyalty panel (below the fold, loaded when scrolled to) and
		// two other tabs: measured by the loyalty case alone.
		bd(query.DimVisitsPerVisitor), bd(query.DimDaysSinceLastVisit), bd(query.DimDomainType),
	}, nil
}

// analysisViews are the goals card, a three-step funnel in one visit and
// in 7 days, and weekly retention cohorts, over the last 30 days.
func analysisViews(svc *report.Service, site string, now time.Time, filters []string) []panel {
	q, _ := query.ParseQuery(url.Values{"site": {site}, "period": {"30d"}, "filter": filters}, now)
	funnel := func(w query.FunnelWindow) panel {
		return panel{"funnel " + string(w), func(ctx context.Context) error {
			f, err := query.ParseFunnelSteps([]string{"page:/", "page:/pricing", "event:signup"}, string(w))
			if err == nil {
				_, err = svc.Funnel(ctx, q, f)
			}
			return err
		}}
	}
	return []panel{
		{"goals", func(ctx context.Context) error { _, err := svc.Goals(ctx, q); return err }},
		funnel(query.WindowVisit), funnel(query.Window7d),
		{"retention week", func(ctx context.Context) error { _, err := svc.Retention(ctx, q, query.Week); return err }},
	}
}

// runBench loads the default dashboard runs times, its panels at once as
// a browser requests them, and prints p50 and p95 per panel and for the
// whole page; then the same with a filter and with comparison.
func runBench(ctx context.Context, db *clickhouse.DB, site string, now time.Time, runs int, cases string) error {
	list, err := db.Sites(ctx)
	if err != nil {
		return err
	}
	sites := staticSites{}
	for i := range list {
		sites[list[i].ID] = &list[i]
	}
	// The analysis views ask about these goals; a seeded site has none.
	if s := sites[site]; s != nil && len(s.Goals) == 0 {
		s.Goals = []model.Goal{{Name: "Signup", Match: "event:signup"}, {Name: "Pro signup", Match: "event:signup:plan=pro"},
			{Name: "Pricing", Match: "page:/pricing"}, {Name: "Docs", Match: "page:/docs/*"}}
	}
	svc := report.New(db.Conn(), sites, report.Options{})
	for _, c := range []struct {
		name    string
		title   string
		filters []string
		compare bool
	}{
		{"default", "default dashboard, last 30 days", nil, false},
		{"compare", "with comparison to the previous 30 days", nil, true},
		{"country", "filtered by country:is:DE", []string{"country:is:DE"}, false},
		{"alone-de", "filtered by country:is:DE, each panel alone", []string{"country:is:DE"}, false},
		{"source", "filtered by source:is:Google (consent panel: country only)", []string{"source:is:Google"}, false},
		{"loyalty", "the loyalty and network panels: visits per visitor, days since the last visit, domain types", nil, false},
		{"analysis", "goals, funnels (a visit, 7 days), weekly retention: each view alone", nil, false},
		{"analysis-de", "the same filtered by country:is:DE", []string{"country:is:DE"}, false},
	} {
		if cases != "" && !strings.Contains(cases, c.name) {
			continue
		}
		panels, err := dashboard(svc, site, now, c.filters, c.compare)
		if err != nil {
			return err
		}
		if strings.HasPrefix(c.name, "analysis") {
			// Separate views: each measured on its own.
			for _, p := range analysisViews(svc, site, now, c.filters) {
				if err := measure(ctx, c.title+": "+p.name, []panel{p}, runs); err != nil {
					return err
				}
			}
			continue
		}
		if c.name == "alone-de" {
			for _, p := range panels[:len(panels)-3] {
				if err := measure(ctx, c.title+": "+p.name, []panel{p}, runs); err != nil {
					return err
				}
			}
			continue
		}
		if c.name == "loyalty" {
			panels = panels[len(panels)-3:]
		} else {
			panels = panels[:len(panels)-3]
		}
		if err := measure(ctx, c.title, panels, runs); err != nil {
			return err
		}
	}
	if cases == "" || strings.Contains(cases, "me") {
		if err := benchMe(ctx, db, sites, site, runs); err != nil {
			return err
		}
	}
	// Last: it deletes rows.
	if strings.Contains(cases, "erase") {
		return benchErase(ctx, db, site)
	}
	return nil
}

func measure(ctx context.Context, title string, panels []panel, runs int) error {
	times := map[string][]time.Duration{}
	timeouts := map[string]int{}
	const warmup = 2
	for i := 0; i < runs+warmup; i++ {
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for _, p := range panels {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.Now()
				err := p.run(ctx)
				d := time.Since(t)
				mu.Lock()
				defer mu.Unlock()
				if errors.Is(err, report.ErrTimeout) {
					// Over the server-side limit: counted, not fatal.
					timeouts[p.name]++
					return
				}
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", p.name, err)
				}
				if i >= warmup {
					times[p.name] = append(times[p.name], d)
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		if i >= warmup {
			times["whole page"] = append(times["whole page"], time.Since(start))
		}
	}
	fmt.Printf("\n== %s: %d loads, panels concurrent\n", title, runs)
	fmt.Printf("%-22s %8s %8s\n", "panel", "p50", "p95")
	names := make([]string, 0, len(panels)+1)
	for _, p := range panels {
		names = append(names, p.name)
	}
	names = append(names, "whole page")
	for _, n := range names {
		d := times[n]
		note := ""
		if timeouts[n] > 0 {
			note = fmt.Sprintf("   %d over the %s limit", timeouts[n], "max_execution_time")
		}
		fmt.Printf("%-22s %8s %8s%s\n", n, pct(d, 50), pct(d, 95), note)
	}
	return nil
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return strings.TrimSuffix(fmt.Sprintf("%.0fms", float64(s[i].Microseconds())/1000), ".0")
}

func (s staticSites) All() []*model.Site {
	out := make([]*model.Site, 0, len(s))
	for _, site := range s {
		out = append(out, site)
	}
	return out
}

// sampleVisitors returns n of the site's visitor IDs, spread over the
// stored ones.
func sampleVisitors(ctx context.Context, db *clickhouse.DB, site string, n int) ([]uuid.UUID, error) {
	rows, err := db.Conn().Query(ctx, "SELECT visitor_id FROM "+migrations.VisitorIndex+
		" WHERE site_id = ? GROUP BY visitor_id ORDER BY cityHash64(toString(visitor_id)) LIMIT ?", site, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// benchMe measures GET /api/me's work (privacy.Service.Export) for runs
// stored visitors, one after the other, and prints p50 and p95.
func benchMe(ctx context.Context, db *clickhouse.DB, sites staticSites, site string, runs int) error {
	ids, err := sampleVisitors(ctx, db, site, runs+2)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("no visitors stored for site %s", site)
	}
	var events uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM "+migrations.Events+" WHERE site_id = ?", site).Scan(&events); err != nil {
		return err
	}
	svc := privacy.New(db, nil, sites, nil, nil)
	var times []time.Duration
	found := 0
	for i, id := range ids {
		start := time.Now()
		exp, err := svc.Export(ctx, privacy.Who{Site: site, Visitor: id.String()})
		if err != nil {
			return fmt.Errorf("/api/me: %w", err)
		}
		if i >= 2 { // warm-up
			times = append(times, time.Since(start))
			if len(exp.Events) > 0 {
				found++
			}
		}
	}
	fmt.Printf("\n== GET /api/me (a visitor's events and consent records), %d events stored\n", events)
	fmt.Printf("%d visitors, %d with events found: p50 %s, p95 %s\n", len(times), found, pct(times, 50), pct(times, 95))
	return nil
}

// benchErase measures erasure batches: 20 requests for IDs without rows
// (nothing may be sent), then 20 stored visitors erased together, with the
// mutations each table got and the time until every row is gone and the
// pre-aggregated days are rebuilt.
func benchErase(ctx context.Context, db *clickhouse.DB, site string) error {
	mutations := func() (map[string]uint64, error) {
		rows, err := db.Conn().Query(ctx, "SELECT table, count() FROM system.mutations WHERE database = currentDatabase() GROUP BY table")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]uint64{}
		for rows.Next() {
			var t string
			var n uint64
			if err := rows.Scan(&t, &n); err != nil {
				return nil, err
			}
			out[t] = n
		}
		return out, rows.Err()
	}
	diff := func(before, after map[string]uint64) string {
		var parts []string
		for t, n := range after {
			if d := n - before[t]; d > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", t, d))
			}
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
	batch := func(ids []uuid.UUID) []model.Erasure {
		out := make([]model.Erasure, len(ids))
		for i, id := range ids {
			out[i] = model.Erasure{ID: uuid.New(), SiteID: site, Time: time.Now().UTC(), VisitorID: id}
		}
		return out
	}
	fmt.Printf("\n== erasure batches (20 requests each)\n")
	unknown := make([]uuid.UUID, 20)
	for i := range unknown {
		unknown[i] = uuid.New()
	}
	before, err := mutations()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := db.Erase(ctx, batch(unknown)); err != nil {
		return err
	}
	after, err := mutations()
	if err != nil {
		return err
	}
	fmt.Printf("20 unknown IDs: %s, mutations: %s\n", time.Since(start).Round(time.Millisecond), diff(before, after))
	ids, err := sampleVisitors(ctx, db, site, 20)
	if err != nil {
		return err
	}
	var days uint64
	if err := db.Conn().QueryRow(ctx, "SELECT uniqExact(date) FROM "+migrations.VisitorIndex+" WHERE site_id = ? AND has(?, toString(visitor_id))", site, uuidStrings(ids)).Scan(&days); err != nil {
		return err
	}
	before = after
	start = time.Now()
	if err := db.Erase(ctx, batch(ids)); err != nil {
		return err
	}
	took := time.Since(start)
	after, err = mutations()
	if err != nil {
		return err
	}
	var left uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM "+migrations.Events+" WHERE site_id = ? AND has(?, toString(visitor_id))", site, uuidStrings(ids)).Scan(&left); err != nil {
		return err
	}
	fmt.Printf("20 stored visitors (%d days to rebuild): %s until every row is gone and the days rebuilt (%d rows left), mutations: %s\n",
		days, took.Round(time.Millisecond), left, diff(before, after))
	return nil
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
