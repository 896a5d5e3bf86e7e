package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestLoyalty_KnownCrowd: a crowd whose visits span 120 days; the days
// since each visit's visitor was last seen (before the range too) and the
// visits per visitor in a 30-day range equal a count made here from the
// same events, on both query paths, folded to k: with and without a
// filter, before and after the sealing job, after a late event on a
// sealed day, and after an erasure.
func TestLoyalty_KnownCrowd(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 30, 18, 0, 0, 0, time.UTC)
	site := model.NewSite("loyal", "loyal.test", "", now.AddDate(-1, 0, 0))
	site.K = 2
	if err := db.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 5))
	from, to := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	// Every visit: its visitor, start and events' times; a visitor of
	// every fourth is in Germany.
	type visit struct {
		visitor uuid.UUID
		times   []time.Time
	}
	var visits []visit
	var crowd []uuid.UUID
	german := map[uuid.UUID]bool{}
	insert := func(vs []visit) {
		t.Helper()
		var events []model.Event
		for _, v := range vs {
			s := uuid.New()
			country := ""
			if german[v.visitor] {
				country = "DE"
			}
			for k, ts := range v.times {
				events = append(events, model.Event{ID: uuid.New(), SiteID: site.ID, Time: ts, Type: model.Pageview, VisitorID: v.visitor,
					SessionID: s, Hostname: "loyal.test", Path: fmt.Sprintf("/p%d", k), Device: "desktop", Country: country})
			}
		}
		if err := db.InsertEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		visits = append(visits, vs...)
	}
	var first []visit
	for i := 0; i < 150; i++ {
		v := uuid.New()
		crowd = append(crowd, v)
		german[v] = i%4 == 0
		n := 1 + r.IntN(12)
		if i%3 == 0 {
			n = 1
		}
		for j := 0; j < n; j++ {
			start := now.AddDate(0, 0, -r.IntN(120)).Add(-time.Duration(r.IntN(600)) * time.Minute)
			vi := visit{visitor: v}
			for k := 0; k < 1+r.IntN(3); k++ {
				vi.times = append(vi.times, start.Add(time.Duration(k)*time.Minute))
			}
			first = append(first, vi)
		}
	}
	insert(first)

	// The count made here, of the visits of the visitors in keep.
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	bucket := func(gap int) string {
		switch {
		case gap == 1:
			return "1 day"
		case gap <= 7:
			return "2-7 days"
		case gap <= 30:
			return "8-30 days"
		case gap <= 90:
			return "31-90 days"
		}
		return "more than 90 days"
	}
	type cell struct {
		visitors map[uuid.UUID]bool
		visits   int
	}
	count := func(keep func(uuid.UUID) bool) (days, per map[string]*cell) {
		days, per = map[string]*cell{}, map[string]*cell{}
		add := func(m map[string]*cell, k string, v uuid.UUID, n int) {
			if m[k] == nil {
				m[k] = &cell{visitors: map[uuid.UUID]bool{}}
			}
			m[k].visitors[v] = true
			m[k].visits += n
		}
		seen := map[uuid.UUID][]time.Time{}
		for _, v := range visits {
			seen[v.visitor] = append(seen[v.visitor], v.times...)
		}
		n := map[uuid.UUID]int{}
		for _, v := range visits {
			start := v.times[0]
			if !keep(v.visitor) || day(start).Before(from) || day(start).After(to) {
				continue
			}
			n[v.visitor]++
			// Same day: an event earlier that day; else the last day
			// before with one.
			since, last := "first visit", time.Time{}
			for _, ts := range seen[v.visitor] {
				switch {
				case day(ts).Equal(day(start)) && ts.Before(start):
					since = "same day"
				case day(ts).Before(day(start)) && day(ts).After(last):
					last = day(ts)
				}
			}
			if since != "same day" && !last.IsZero() {
				since = bucket(int(day(start).Sub(last).Hours() / 24))
			}
			add(days, since, v.visitor, 1)
		}
		for v, c := range n {
			b := "more than 10"
			switch {
			case c == 1:
				b = "1"
			case c == 2:
				b = "2"
			case c <= 5:
				b = "3-5"
			case c <= 10:
				b = "6-10"
			}
			add(per, b, v, c)
		}
		return days, per
	}
	expect := func(m map[string]*cell, order []string) string {
		var out []string
		var small []string
		for _, k := range order {
			if c := m[k]; c != nil {
				if len(c.visitors) < site.K {
					small = append(small, k)
					continue
				}
				out = append(out, fmt.Sprintf("%s=%d/%d", k, len(c.visitors), c.visits))
			}
		}
		if len(small) > 0 {
			vs, n := map[uuid.UUID]bool{}, 0
			for _, k := range small {
				for v := range m[k].visitors {
					vs[v] = true
				}
				n += m[k].visits
			}
			if len(vs) >= site.K {
				out = append(out, fmt.Sprintf("%s=%d/%d", query.Other, len(vs), n))
			}
		}
		return fmt.Sprint(out)
	}

	sites := reporttest.Sites{site.ID: &site}
	// check compares both paths with the count, and reports which sealed
	// tables the pre-aggregated path read.
	check := func(when string) map[string]bool {
		t.Helper()
		read := map[string]bool{}
		for _, filtered := range []bool{false, true} {
			params := url.Values{"site": {site.ID}, "period": {"custom"}, "from": {"2026-06-01"}, "to": {"2026-06-30"}}
			keep := func(uuid.UUID) bool { return true }
			if filtered {
				params.Set("filter", "country:is:DE")
				keep = func(v uuid.UUID) bool { return german[v] }
			}
			days, per := count(keep)
			q, err := query.ParseQuery(params, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range []bool{false, true} {
				// Every range is large: the sealed window is read.
				svc := New(db.Conn(), sites, Options{Now: func() time.Time { return now }, ExactEvents: 1})
				svc.forceRaw = raw
				svc.trace = func(sql string, _ []any) {
					for _, table := range []string{"report_day_loyalty", "report_window_visitors", "since_mask"} {
						if strings.Contains(sql, table) && !raw && !filtered && !strings.Contains(sql, "since = ''") {
							read[table] = true
						}
					}
				}
				for _, c := range []struct {
					dim   query.Dimension
					cells map[string]*cell
					order []string
				}{
					{query.DimDaysSinceLastVisit, days, query.DaysSinceLastVisitBuckets},
					{query.DimVisitsPerVisitor, per, query.VisitsPerVisitorBuckets},
				} {
					b, err := svc.Breakdown(ctx, q, c.dim, BreakdownOptions{Page: query.Page{Limit: 100, Number: 1}})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, row := range rowsOf(b)[:len(rowsOf(b))-1] {
						got = append(got, fmt.Sprintf("%s=%d/%d", row.Value, row.Visitors, row.Visits))
					}
					if want := expect(c.cells, c.order); fmt.Sprint(got) != want || (len(got) < 3 && site.K == 2) {
						t.Errorf("%s: %s (events path %v, filtered %v):\n got %v\nwant %s", when, c.dim, raw, filtered, got, want)
					}
				}
			}
		}
		return read
	}
	seal := func() {
		t.Helper()
		svc := New(db.Conn(), sites, Options{})
		if n, err := svc.SealLoyalty(ctx, site.ID, from.AddDate(0, 0, -100), to); err != nil || n == 0 {
			t.Fatalf("sealed %d days: %v", n, err)
		}
		if n, err := svc.SealLoyalty(ctx, site.ID, from.AddDate(0, 0, -100), to); err != nil || n != 0 {
			t.Fatalf("sealing again sealed %d days: %v", n, err)
		}
		if n, err := db.SealWindows(ctx, site.ID, []clickhouse.Window{{End: to.AddDate(0, 0, -1), Days: 29}}, svc.SealWindowVisitors); err != nil || n != 1 {
			t.Fatalf("sealed %d windows: %v", n, err)
		}
	}

	if read := check("live"); len(read) > 0 {
		t.Errorf("read seals before sealing: %v", read)
	}
	seal()
	if read := check("sealed"); !read["report_day_loyalty"] || !read["report_window_visitors"] || !read["since_mask"] {
		t.Errorf("sealed answers not read: %v", read)
	}
	// A larger k folds the smaller buckets into one row.
	site.K = 12
	check("sealed, k = 12")
	site.K = 2
	// A late visit on a sealed day: that day is counted again.
	late := visit{visitor: crowd[1], times: []time.Time{time.Date(2026, 6, 10, 23, 50, 0, 0, time.UTC)}}
	insert([]visit{late})
	check("late visit")
	// An erased visitor is gone from every bucket, sealed or not.
	erased := crowd[1]
	if err := db.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: site.ID, VisitorID: erased}}); err != nil {
		t.Fatal(err)
	}
	kept := visits[:0]
	for _, v := range visits {
		if v.visitor != erased {
			kept = append(kept, v)
		}
	}
	visits = kept
	check("erased")
	seal()
	check("erased and sealed again")
}
