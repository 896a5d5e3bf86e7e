// Package query is the model of a report question: the site, the date
// range, the interval, filters, dimensions and metrics, parsed from URL
// parameters and validated. It imports nothing of Crumb's.
package query

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Interval is the width of a time-series bucket.
type Interval string

// The intervals.
const (
	Hour  Interval = "hour"
	Day   Interval = "day"
	Week  Interval = "week"
	Month Interval = "month"
)

// Op is how a filter compares a dimension with its value.
type Op string

// The filter operators.
const (
	Is       Op = "is"
	IsNot    Op = "is_not"
	Contains Op = "contains"
)

// Filter keeps the events whose dimension compares with Value by Op. The
// value "(none)" stands for an empty value (direct traffic, unknown
// country…). For DimEventProp the value is "key=value".
type Filter struct {
	Dimension Dimension `json:"dimension"`
	Op        Op        `json:"op"`
	Value     string    `json:"value"`
}

// Query is a validated report request: one site, a range of whole UTC days
// (From and To inclusive, both at midnight), a time-series interval,
// filters, and whether to compare with the previous period of equal
// length.
type Query struct {
	Site     string
	From, To time.Time
	Interval Interval
	Filters  []Filter
	Compare  bool
	// CompareYear compares with the same days a year before instead of
	// the period just before (with Compare).
	CompareYear bool
}

// Limits of a query.
const (
	MaxDays        = 3 * 366 // longest date range
	MaxHourlyDays  = 31      // longest range with hourly buckets
	MaxFilters     = 10
	MaxFilterValue = 2048 // bytes
	MaxSiteID      = 128
)

// None is how an empty dimension value is shown and filtered for.
const None = "(none)"

// Other labels the row into which rows of fewer than k visitors fold.
const Other = "(other)"

// QueryError is a request the report layer refuses; the HTTP layer answers
// it with 400 and its message.
type QueryError struct {
	Param string // the offending parameter, if any
	Msg   string
}

func (e *QueryError) Error() string {
	if e.Param == "" {
		return e.Msg
	}
	return e.Param + ": " + e.Msg
}

// BadParam is a *QueryError for param.
func BadParam(param, format string, args ...any) error {
	return &QueryError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// DateLayout is how dates are written in requests and results.
const DateLayout = "2006-01-02"

// ParseQuery reads a Query from URL parameters, relative to now:
//
//	site      the site ID
//	period    today | 7d | 30d (default) | month | last_month | 12mo | custom
//	from, to  YYYY-MM-DD, both inclusive, with period=custom (or alone)
//	interval  hour | day | week | month (default: hour for today, month for 12mo, else day)
//	filter    DIMENSION:OP:VALUE, repeatable; OP is is, is_not or contains
//	compare   previous_period (or true/1): also the previous period of equal
//	          length; previous_year: the same days a year before
//
// Periods end today: 7d and 30d are the last 7 and 30 days including
// today, month is this month so far, 12mo the last 12 calendar months
// including this one. Every error is a *QueryError.
func ParseQuery(v url.Values, now time.Time) (Query, error) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	q := Query{Site: v.Get("site")}

	period := v.Get("period")
	if period == "" {
		period = "30d"
		if v.Get("from") != "" || v.Get("to") != "" {
			period = "custom"
		}
	}
	switch period {
	case "today":
		q.From, q.To = today, today
	case "7d":
		q.From, q.To = today.AddDate(0, 0, -6), today
	case "30d":
		q.From, q.To = today.AddDate(0, 0, -29), today
	case "month":
		q.From, q.To = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC), today
	case "last_month":
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		q.From, q.To = first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)
	case "12mo":
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		q.From, q.To = first.AddDate(0, -11, 0), today
	case "custom":
		var err error
		if q.From, err = parseDate("from", v.Get("from")); err != nil {
			return Query{}, err
		}
		if q.To, err = parseDate("to", v.Get("to")); err != nil {
			return Query{}, err
		}
	default:
		return Query{}, BadParam("period", "must be today, 7d, 30d, month, last_month, 12mo or custom")
	}
	if period != "custom" && (v.Get("from") != "" || v.Get("to") != "") {
		return Query{}, BadParam("period", "from and to go with period=custom")
	}

	switch iv := v.Get("interval"); iv {
	case "":
		switch {
		case period == "today" || q.To.Equal(q.From):
			q.Interval = Hour
		case period == "12mo" || q.To.Sub(q.From) > 180*24*time.Hour:
			q.Interval = Month
		default:
			q.Interval = Day
		}
	default:
		q.Interval = Interval(iv)
	}

	for _, raw := range v["filter"] {
		f, err := parseFilter(raw)
		if err != nil {
			return Query{}, err
		}
		q.Filters = append(q.Filters, f)
	}

	switch c := v.Get("compare"); c {
	case "", "false", "0", "off":
	case "previous_period", "true", "1", "on":
		q.Compare = true
	case "previous_year":
		q.Compare, q.CompareYear = true, true
	default:
		return Query{}, BadParam("compare", "must be previous_period, previous_year or false")
	}
	if err := q.Validate(); err != nil {
		return Query{}, err
	}
	return q, nil
}

func parseDate(param, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, BadParam(param, "missing; give a date as YYYY-MM-DD")
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, BadParam(param, "%q is not a date as YYYY-MM-DD", Clip(s, 40))
	}
	return t, nil
}

// parseFilter reads DIMENSION:OP:VALUE; the value may hold colons.
func parseFilter(raw string) (Filter, error) {
	parts := strings.SplitN(raw, ":", 3)
	if len(parts) != 3 {
		return Filter{}, BadParam("filter", "%q is not DIMENSION:OP:VALUE, such as country:is:DE", Clip(raw, 60))
	}
	return Filter{Dimension: Dimension(parts[0]), Op: Op(parts[1]), Value: parts[2]}, nil
}

// Validate checks a query built in code or parsed from a request.
func (q Query) Validate() error {
	if q.Site == "" {
		return BadParam("site", "missing")
	}
	if len(q.Site) > MaxSiteID || !utf8.ValidString(q.Site) {
		return BadParam("site", "not a site ID")
	}
	if err := checkDay("from", q.From); err != nil {
		return err
	}
	if err := checkDay("to", q.To); err != nil {
		return err
	}
	if q.To.Before(q.From) {
		return BadParam("to", "is before from")
	}
	days := q.Days()
	if days > MaxDays {
		return BadParam("to", "the range is longer than %d days", MaxDays)
	}
	switch q.Interval {
	case Hour:
		if days > MaxHourlyDays {
			return BadParam("interval", "hour needs a range of at most %d days", MaxHourlyDays)
		}
	case Day, Week, Month:
	default:
		return BadParam("interval", "must be hour, day, week or month")
	}
	if len(q.Filters) > MaxFilters {
		return BadParam("filter", "at most %d filters", MaxFilters)
	}
	for _, f := range q.Filters {
		if err := f.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (f Filter) validate() error {
	d, ok := Lookup(f.Dimension)
	if !ok {
		return BadParam("filter", "unknown dimension %q", Clip(string(f.Dimension), 40))
	}
	switch f.Op {
	case Is, IsNot, Contains:
	default:
		return BadParam("filter", "unknown operator %q (want is, is_not or contains)", Clip(string(f.Op), 20))
	}
	if d.Kind == KindLoyalty {
		return BadParam("filter", "%s is a breakdown only; it cannot filter", f.Dimension)
	}
	if d.Kind == KindGoal && f.Op == Contains {
		return BadParam("filter", "a goal filter is goal:is:NAME or goal:is_not:NAME")
	}
	if len(f.Value) > MaxFilterValue || !utf8.ValidString(f.Value) {
		return BadParam("filter", "value longer than %d bytes or not UTF-8", MaxFilterValue)
	}
	if f.Op == Contains && (f.Value == "" || f.Value == None) {
		return BadParam("filter", "contains needs a value")
	}
	if d.Name == DimEventProp {
		k, _, ok := strings.Cut(f.Value, "=")
		if !ok || k == "" {
			return BadParam("filter", "an event_prop filter's value is KEY=VALUE, such as plan=pro")
		}
	}
	return nil
}

func checkDay(param string, t time.Time) error {
	if t.IsZero() {
		// Absent, or 0001-01-01 (Go's zero time).
		return BadParam(param, "missing or out of range: a day from 2000-01-01 to 2100-12-31")
	}
	if t.Location() != time.UTC || t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
		return BadParam(param, "must be a whole UTC day")
	}
	if t.Year() < 2000 || t.Year() > 2100 {
		return BadParam(param, "must be between 2000 and 2100")
	}
	return nil
}

// Days is the number of days in the range.
func (q Query) Days() int { return int(q.To.Sub(q.From)/(24*time.Hour)) + 1 }

// Previous returns the query compared with: the period of equal length
// just before, or with CompareYear the same days a year before (29
// February counts as 1 March).
func (q Query) Previous() Query {
	p := q
	if q.CompareYear {
		p.From, p.To = q.From.AddDate(-1, 0, 0), q.To.AddDate(-1, 0, 0)
	} else {
		n := q.Days()
		p.From, p.To = q.From.AddDate(0, 0, -n), q.From.AddDate(0, 0, -1)
	}
	p.Compare, p.CompareYear = false, false
	return p
}

// Page selects a slice of a breakdown's rows.
type Page struct {
	Limit  int // rows per page, 1 to MaxLimit
	Number int // 1-based
}

// Breakdown paging limits.
const (
	DefaultLimit = 10
	MaxLimit     = 1000
	maxRowOffset = 10000
)

// ParsePage reads limit (default 10) and page (default 1).
func ParsePage(v url.Values) (Page, error) {
	p := Page{Limit: DefaultLimit, Number: 1}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Page{}, BadParam("limit", "must be 1 to %d", MaxLimit)
		}
		p.Limit = n
	}
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return Page{}, BadParam("page", "must be a positive number")
		}
		p.Number = n
	}
	return p, p.Validate()
}

// Validate checks a page of a breakdown.
func (p Page) Validate() error {
	if p.Limit < 1 || p.Limit > MaxLimit || p.Number < 1 {
		return BadParam("limit", "must be 1 to %d, page at least 1", MaxLimit)
	}
	// The page's first row is within the first maxRowOffset rows. Compared
	// by division: (Number-1)*Limit can overflow.
	if p.Number-1 > (maxRowOffset-1)/p.Limit {
		return BadParam("page", "beyond the first %d rows", maxRowOffset)
	}
	return nil
}

// Clip shortens s to at most n bytes for an error message.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
