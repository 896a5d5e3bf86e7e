package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
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
	}, nil
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
		{"source", "filtered by source:is:Google (consent panel: country only)", []string{"source:is:Google"}, false},
	} {
		if cases != "" && !strings.Contains(cases, c.name) {
			continue
		}
		panels, err := dashboard(svc, site, now, c.filters, c.compare)
		if err != nil {
			return err
		}
		if err := measure(ctx, c.title, panels, runs); err != nil {
			return err
		}
	}
	return nil
}

func measure(ctx context.Context, title string, panels []panel, runs int) error {
	times := map[string][]time.Duration{}
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
		fmt.Printf("%-22s %8s %8s\n", n, pct(d, 50), pct(d, 95))
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
