package report

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestTimeseries_SealedDays: a daily series reads the closed days' sealed
// exact counts while a day's event count matches its seal, and the day's
// exact sets as soon as it does not (a late event, an erasure), so the
// numbers always equal a recount of the rows.
func TestTimeseries_SealedDays(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	ctx := context.Background()
	svc := New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }})
	series := func() map[string][2]int64 {
		t.Helper()
		ts, err := svc.Timeseries(ctx, current(), []query.Metric{query.MetricVisitors, query.MetricVisits})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]int64{}
		for _, p := range ts.Points {
			out[p.Time.Format(time.DateOnly)] = [2]int64{p.Metrics.Visitors, p.Metrics.Visits}
		}
		return out
	}
	recount := func() map[string][2]int64 {
		t.Helper()
		rows, err := db.Conn().Query(ctx, `SELECT toString(date), toInt64(uniqExactIf(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000'))),
			toInt64(uniqExactIf(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000'))) FROM events
			WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) GROUP BY date`, f.Site.ID, reporttest.From, reporttest.To)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][2]int64{}
		for d := reporttest.From; !d.After(reporttest.To); d = d.AddDate(0, 0, 1) {
			out[d.Format(time.DateOnly)] = [2]int64{}
		}
		for rows.Next() {
			var day string
			var v [2]int64
			if err := rows.Scan(&day, &v[0], &v[1]); err != nil {
				t.Fatal(err)
			}
			out[day] = v
		}
		return out
	}
	check := func(when string) {
		t.Helper()
		if got, want := series(), recount(); dump(t, got) != dump(t, want) {
			t.Fatalf("%s: series %v, recount %v", when, got, want)
		}
	}
	check("before sealing")
	// 03-08 and 03-09 are closed on the fixture's clock; 03-10 is today.
	n, err := db.SealDays(ctx, f.Site.ID, reporttest.From, reporttest.To)
	if err != nil || n == 0 {
		t.Fatalf("sealed %d days: %v", n, err)
	}
	if n, err := db.SealDays(ctx, f.Site.ID, reporttest.From, reporttest.To); err != nil || n != 0 {
		t.Fatalf("sealing again sealed %d days: %v", n, err)
	}
	check("sealed")

	// The series reads the seal: a seal that says otherwise (at the same
	// event count) shows.
	if err := db.Conn().Exec(ctx, `INSERT INTO report_day_visitors (site_id, date, visitors, visits, events, sealed_ms)
		SELECT site_id, date, toUInt64(777), toUInt64(888), toUInt64(sum(event_count)), toUInt64(?) FROM report_daily
		WHERE site_id = ? AND date = toDate(?) GROUP BY site_id, date`, uint64(time.Now().UnixMilli()+1000), f.Site.ID, reporttest.From); err != nil {
		t.Fatal(err)
	}
	if got := series()["2026-03-08"]; got != [2]int64{777, 888} {
		t.Fatalf("the series does not read the seal: %v", got)
	}
	// A late event on that day: its count no longer matches, and the day
	// is counted from its exact sets.
	late := model.Event{ID: uuid.New(), SiteID: f.Site.ID, Time: reporttest.From.Add(23 * time.Hour), Type: model.Pageview,
		VisitorID: uuid.New(), SessionID: uuid.New(), ConsentID: uuid.New(), Hostname: reporttest.Domain, Path: "/late"}
	if err := db.InsertEvents(ctx, []model.Event{late}); err != nil {
		t.Fatal(err)
	}
	check("after a late event")
	if _, err := db.SealDays(ctx, f.Site.ID, reporttest.From, reporttest.To); err != nil {
		t.Fatal(err)
	}
	check("sealed again")

	// An erasure of that visitor deletes the day's seal with its rows.
	if err := db.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: f.Site.ID, Time: reporttest.Now, VisitorID: late.VisitorID}}); err != nil {
		t.Fatal(err)
	}
	var seals uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM report_day_visitors WHERE site_id = ? AND date = toDate(?)", f.Site.ID, reporttest.From).Scan(&seals); err != nil || seals != 0 {
		t.Fatalf("%d seals of an erased visitor's day left (%v)", seals, err)
	}
	check("after the erasure")
}
