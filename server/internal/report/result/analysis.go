package result

import (
	"encoding/json"
	"time"
)

// Goals is each goal's conversions in a period: the period's visitors, and
// for each goal the visitors who converted, the conversions and the
// conversion rate. A goal of fewer than K visitors shows null numbers.
type Goals struct {
	Meta
	K        int       `json:"k"`
	Visitors int64     `json:"visitors"`
	Goals    []GoalRow `json:"goals"`
}

// MarshalJSON writes visitors as null when the numbers are withheld.
func (g *Goals) MarshalJSON() ([]byte, error) {
	type plain Goals
	if g.Withheld == "" {
		return json.Marshal((*plain)(g))
	}
	return withheldJSON(g.Meta, field{"k", g.K}, field{"visitors", nil}, field{"goals", g.Goals})
}

// GoalRow is one goal's numbers.
type GoalRow struct {
	Name  string `json:"name"`
	Match string `json:"match"`
	// Visitors counts the distinct visitors who converted.
	Visitors *int64 `json:"visitors"`
	// Conversions counts the matching page views or custom events.
	Conversions *int64 `json:"conversions"`
	// ConversionRate is Visitors as a percentage of the period's visitors.
	ConversionRate *float64 `json:"conversion_rate"`
}

// Table lists the goals.
func (g *Goals) Table() Table {
	t := Table{Header: []string{"goal", "match", "visitors", "conversions", "conversion_rate"}}
	for _, r := range g.Goals {
		t.Rows = append(t.Rows, []any{r.Name, r.Match, nullable(r.Visitors), nullable(r.Conversions), nullable(r.ConversionRate)})
	}
	return t
}

// Funnel is how many visitors went through a funnel's steps in order.
type Funnel struct {
	Meta
	K      int          `json:"k"`
	Window string       `json:"window"`
	Steps  []FunnelStep `json:"steps"`
}

// FunnelStep is one step of a funnel: the visitors who reached it (after
// every step before it, in order, within the window), their share of the
// previous step's and the first step's visitors (percent), and the median
// time from the previous step. A step of fewer than k visitors shows null
// for each number, and so does a rate that would need its count.
type FunnelStep struct {
	Step                      string   `json:"step"`
	Visitors                  *int64   `json:"visitors"`
	ConversionFromPrevious    *float64 `json:"conversion_from_previous"`
	ConversionFromFirst       *float64 `json:"conversion_from_first"`
	MedianSecondsFromPrevious *float64 `json:"median_seconds_from_previous"`
}

// Table lists the steps.
func (f *Funnel) Table() Table {
	t := Table{Header: []string{"step", "visitors", "conversion_from_previous", "conversion_from_first", "median_seconds_from_previous"}}
	for _, s := range f.Steps {
		t.Rows = append(t.Rows, []any{s.Step, nullable(s.Visitors), nullable(s.ConversionFromPrevious), nullable(s.ConversionFromFirst), nullable(s.MedianSecondsFromPrevious)})
	}
	return t
}

// Retention is cohorts of new visitors by the interval (week or month) of
// their first visit, and how many of each come back in each later
// interval of the range.
type Retention struct {
	Meta
	K        int      `json:"k"`
	Interval string   `json:"interval"`
	Cohorts  []Cohort `json:"cohorts"`
}

// Cohort is the new visitors of one interval: their number (null under
// k) and, for each later interval up to the range's end, those who visit
// in it.
type Cohort struct {
	Cohort    string          `json:"cohort"` // the interval's first day, YYYY-MM-DD
	Visitors  *int64          `json:"visitors"`
	Returning []RetentionCell `json:"returning"`
}

// RetentionCell is a cohort's returning visitors in one later interval:
// their number and share of the cohort (percent), both null under k.
type RetentionCell struct {
	Interval string   `json:"interval"` // its first day
	Offset   int      `json:"offset"`   // intervals after the cohort's
	Visitors *int64   `json:"visitors"`
	Share    *float64 `json:"share"`
}

// Table lists one row per cohort and later interval (offset 0 is the
// cohort itself).
func (r *Retention) Table() Table {
	t := Table{Header: []string{"cohort", "interval", "offset", "visitors", "share"}}
	for _, c := range r.Cohorts {
		t.Rows = append(t.Rows, []any{c.Cohort, c.Cohort, int64(0), nullable(c.Visitors), nullable(hundredIf(c.Visitors))})
		for _, cell := range c.Returning {
			t.Rows = append(t.Rows, []any{c.Cohort, cell.Interval, int64(cell.Offset), nullable(cell.Visitors), nullable(cell.Share)})
		}
	}
	return t
}

func hundredIf(v *int64) *float64 {
	if v == nil {
		return nil
	}
	h := 100.0
	return &h
}

// nullable is a CSV cell of a number that may be withheld: "" for nil.
func nullable[T int64 | float64](v *T) any {
	if v == nil {
		return ""
	}
	return *v
}

// IntervalStart is the first day of t's interval (week from Monday, or
// month).
func IntervalStart(t time.Time, monthly bool) time.Time {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if monthly {
		return t.AddDate(0, 0, 1-t.Day())
	}
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
}

// NextInterval is the first day of the interval after the one starting at t.
func NextInterval(t time.Time, monthly bool) time.Time {
	if monthly {
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 7)
}
