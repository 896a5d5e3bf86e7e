package query

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var clock = time.Date(2026, 3, 10, 13, 3, 0, 0, time.UTC)

func day(s string) time.Time {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		query    string
		from, to string
		interval Interval
		filters  int
		compare  bool
	}{
		{"site=s", "2026-02-09", "2026-03-10", Day, 0, false},
		{"site=s&period=today", "2026-03-10", "2026-03-10", Hour, 0, false},
		{"site=s&period=7d", "2026-03-04", "2026-03-10", Day, 0, false},
		{"site=s&period=30d&interval=week", "2026-02-09", "2026-03-10", Week, 0, false},
		{"site=s&period=month", "2026-03-01", "2026-03-10", Day, 0, false},
		{"site=s&period=last_month", "2026-02-01", "2026-02-28", Day, 0, false},
		{"site=s&period=12mo", "2025-04-01", "2026-03-10", Month, 0, false},
		{"site=s&period=custom&from=2026-01-01&to=2026-01-31&interval=hour", "2026-01-01", "2026-01-31", Hour, 0, false},
		{"site=s&from=2026-01-01&to=2026-01-01", "2026-01-01", "2026-01-01", Hour, 0, false},
		{"site=s&filter=country:is:DE&filter=page:contains:/blog:2&compare=previous_period", "2026-02-09", "2026-03-10", Day, 2, true},
		{"site=s&filter=event_prop:is:plan=pro&compare=1", "2026-02-09", "2026-03-10", Day, 1, true},
		{"site=s&filter=source:is:(none)", "2026-02-09", "2026-03-10", Day, 1, false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.query)
			q, err := ParseQuery(v, clock)
			if err != nil {
				t.Fatal(err)
			}
			if !q.From.Equal(day(tc.from)) || !q.To.Equal(day(tc.to)) || q.Interval != tc.interval || len(q.Filters) != tc.filters || q.Compare != tc.compare {
				t.Errorf("got %s … %s %s %d filters compare=%v", q.From.Format(DateLayout), q.To.Format(DateLayout), q.Interval, len(q.Filters), q.Compare)
			}
		})
	}
	v, _ := url.ParseQuery("site=s&filter=page:contains:/blog:2")
	q, _ := ParseQuery(v, clock)
	if q.Filters[0] != (Filter{DimPage, Contains, "/blog:2"}) {
		t.Errorf("filter = %+v", q.Filters[0])
	}
	p := q.Previous()
	if !p.From.Equal(day("2026-01-10")) || !p.To.Equal(day("2026-02-08")) {
		t.Errorf("previous = %v … %v", p.From, p.To)
	}
}

func TestParseQuery_Errors(t *testing.T) {
	for _, query := range []string{
		"",
		"site=" + strings.Repeat("x", 200),
		"site=s&period=yesterday",
		"site=s&period=custom",
		"site=s&period=custom&from=2026-01-01",
		"site=s&period=custom&from=2026-02-01&to=2026-01-01",
		"site=s&period=custom&from=2026-1-1&to=2026-01-02",
		"site=s&period=7d&from=2026-01-01",
		"site=s&from=1999-12-31&to=2000-01-01",
		"site=s&period=custom&from=0001-01-01&to=2026-01-01",
		"site=s&from=2020-01-01&to=2026-01-01",
		"site=s&interval=minute",
		"site=s&period=12mo&interval=hour",
		"site=s&filter=country",
		"site=s&filter=country:equals:DE",
		"site=s&filter=colour:is:red",
		"site=s&filter=page:contains:",
		"site=s&filter=event_prop:is:plan",
		"site=s&filter=page:is:" + strings.Repeat("x", 3000),
		"site=s&compare=maybe",
		"site=s" + strings.Repeat("&filter=country:is:DE", 11),
	} {
		v, _ := url.ParseQuery(query)
		_, err := ParseQuery(v, clock)
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Errorf("%.80s: err = %v, want a *QueryError", query, err)
		}
	}
}

// Go's zero time is a day too: it is out of range, not missing.
func TestParseQuery_ZeroDay(t *testing.T) {
	v, _ := url.ParseQuery("site=s&period=custom&from=0001-01-01&to=2026-01-01")
	_, err := ParseQuery(v, clock)
	if err == nil || !strings.Contains(err.Error(), "from 2000-01-01 to 2100-12-31") {
		t.Errorf("err = %v", err)
	}
}

func TestParsePage(t *testing.T) {
	for q, ok := range map[string]bool{"": true, "limit=1000&page=3": true, "limit=0": false, "limit=1001": false, "page=0": false, "page=x": false, "limit=100&page=102": false,
		"limit=100&page=100": true, "limit=100&page=101": false, "limit=1000&page=10": true, "limit=1000&page=11": false, "limit=3&page=3334": true, "limit=3&page=3335": false} {
		v, _ := url.ParseQuery(q)
		if _, err := ParsePage(v); (err == nil) != ok {
			t.Errorf("%q: err = %v", q, err)
		}
	}
}

// FuzzParseQuery feeds ParseQuery arbitrary query strings: it must never
// panic, must refuse with a *QueryError, and whatever it accepts must be a
// valid query of whole UTC days in order.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"site=s", "site=s&period=today", "site=s&period=12mo&compare=1", "site=s&period=custom&from=2026-01-01&to=2026-01-31&interval=hour",
		"site=s&filter=page:contains:/blog&filter=country:is_not:(none)", "site=s&filter=event_prop:is:plan=pro",
		"site=%00&period=custom&from=2000-01-01&to=2100-12-31", "site=s&interval=week&filter=source:is:%27%3B--",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v, clock)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is not a *QueryError", err)
			}
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("accepted an invalid query: %v", err)
		}
		if q.To.Before(q.From) || q.Days() > MaxDays || q.From.Location() != time.UTC || q.From.Hour() != 0 {
			t.Fatalf("bad range %v … %v", q.From, q.To)
		}
		for _, fl := range q.Filters {
			if _, ok := Lookup(fl.Dimension); !ok {
				t.Fatalf("filter on an unknown dimension: %q", fl.Dimension)
			}
		}
		if q.Interval == Hour && q.Days() > MaxHourlyDays {
			t.Fatalf("hourly over %d days", q.Days())
		}
		_ = q.Previous()
	})
}
