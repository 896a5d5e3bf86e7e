package main

import (
	"archive/zip"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/sites"
)

// zipOf writes files into a zip and returns its path.
func zipOf(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	p := filepath.Join(dir, "export.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range files {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// TestImport_ShowsBeforeOwnDataAndTwiceIsOnce: a Plausible export of 1 to
// 12 June goes in with crumb import; the site's own data starts on 10 June,
// so the overview and the time series show the imported numbers of 1 to 9
// June, apart from Crumb's own and marked as imported; importing it again
// changes nothing; a changed export replaces its days; a bad row or an
// unknown format stores nothing.
func TestImport_ShowsBeforeOwnDataAndTwiceIsOnce(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	out, err := e.crumb("site", "add", "--domain", "shop.test")
	if err != nil {
		t.Fatal(err)
	}
	site := regexp.MustCompile(`site (\S+) added`).FindStringSubmatch(out)[1]
	// Crumb's own data from 10 June: one visitor, two page views.
	v, s := uuid.New(), uuid.New()
	own := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	if err := e.db.InsertEvents(ctx, []model.Event{
		{ID: uuid.New(), SiteID: site, Time: own, Type: model.Pageview, VisitorID: v, SessionID: s, Hostname: "shop.test", Path: "/"},
		{ID: uuid.New(), SiteID: site, Time: own.Add(time.Minute), Type: model.Pageview, VisitorID: v, SessionID: s, Hostname: "shop.test", Path: "/a"},
	}); err != nil {
		t.Fatal(err)
	}
	visitors := "date,visitors,pageviews,bounces,visits,visit_duration\n"
	pages := "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n"
	for d := 1; d <= 12; d++ {
		day := time.Date(2026, 6, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		visitors += day + ",10,30,4,12,600\n"
		pages += day + ",shop.test,/,12,10,20,,0\n" + day + ",shop.test,/old,3,2,3,,0\n"
	}
	files := map[string]string{"imported_visitors_20260601_20260612.csv": visitors, "imported_pages_20260601_20260612.csv": pages}
	export := zipOf(t, e.dir, files)

	registry := sites.NewRegistry(e.db, time.Hour, nil)
	rep := report.New(e.db.Conn(), registry, report.Options{Now: func() time.Time { return time.Date(2026, 6, 12, 18, 0, 0, 0, time.UTC) }})
	june := func() query.Query {
		if err := registry.Load(ctx); err != nil {
			t.Fatal(err)
		}
		q, err := query.ParseQuery(url.Values{"site": {site}, "period": {"custom"}, "from": {"2026-06-01"}, "to": {"2026-06-12"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	check := func(when string, perDay int64) {
		t.Helper()
		o, err := rep.Overview(ctx, june())
		if err != nil {
			t.Fatal(err)
		}
		if o.Metrics.Visitors != 1 || o.Metrics.Pageviews != 2 {
			t.Errorf("%s: own numbers %+v mixed with imported ones", when, o.Metrics)
		}
		im := o.Imported
		if im == nil || im.Days != 9 || im.From != "2026-06-01" || im.To != "2026-06-09" || im.Visitors != 9*perDay || im.Pageviews != 9*3*perDay || im.Format != "plausible" {
			t.Fatalf("%s: imported %+v", when, im)
		}
		if *im.BounceRate != 33.3 || *im.VisitDuration != 50 {
			t.Errorf("%s: imported bounce rate %v, duration %v", when, *im.BounceRate, *im.VisitDuration)
		}
		ts, err := rep.Timeseries(ctx, june(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.Imported) != 9 || ts.Imported[0].Date != "2026-06-01" || ts.Imported[8].Date != "2026-06-09" || ts.Imported[0].Visitors != perDay {
			t.Fatalf("%s: imported points %+v", when, ts.Imported)
		}
		b, err := rep.ImportedBreakdown(ctx, june(), "page", 10)
		if err != nil {
			t.Fatal(err)
		}
		// /old has 2 visitors a day: 18 over 9 days, over k.
		if len(b.Rows) != 2 || b.Rows[0].Value != "/" || b.Rows[0].Visitors != 9*perDay || b.Rows[1].Visitors != 18 {
			t.Errorf("%s: imported pages %+v", when, b.Rows)
		}
	}
	out, err = e.crumb("import", "--site", site, "--format", "plausible", export)
	if err != nil || !strings.Contains(out, "imported 12 days of plausible (2026-06-01 to 2026-06-12)") {
		t.Fatalf("import: %v %s", err, out)
	}
	check("after the import", 10)
	if _, err := e.crumb("import", "--site", site, "--format", "plausible", export); err != nil {
		t.Fatal(err)
	}
	check("after importing twice", 10)
	// A corrected export replaces the days.
	files["imported_visitors_20260601_20260612.csv"] = strings.ReplaceAll(visitors, ",10,30,", ",11,33,")
	files["imported_pages_20260601_20260612.csv"] = strings.ReplaceAll(pages, ",12,10,20,", ",12,11,20,")
	if _, err := e.crumb("import", "--site", site, "--format", "plausible", zipOf(t, e.dir, files)); err != nil {
		t.Fatal(err)
	}
	check("after a corrected export", 11)
	// A bad row: the whole file is refused, nothing changes.
	files["imported_pages_20260601_20260612.csv"] = pages + "2026-06-13,shop.test,/x,1,-1,1,,0\n"
	if _, err := e.crumb("import", "--site", site, "--format", "plausible", zipOf(t, e.dir, files)); err == nil || !strings.Contains(err.Error(), `line 26: visitors "-1" is not a count`) {
		t.Errorf("a bad row: %v", err)
	}
	if _, err := e.crumb("import", "--site", site, "--format", "umami", export); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("an unknown format: %v", err)
	}
	if _, err := e.crumb("import", "--site", "nope", "--format", "plausible", export); err == nil || !strings.Contains(err.Error(), "no site") {
		t.Errorf("an unknown site: %v", err)
	}
	check("after the refusals", 11)
}
