// Package result holds the answers of the report layer: typed results
// with their JSON form, and each one's Table for CSV.
package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/query"
)

// Table is a result as a header and rows of cells (string, int64 or
// float64), for CSV. It holds the same numbers as the result's JSON.
type Table struct {
	Header []string
	Rows   [][]any
}

// Tabler is a result that can be written as a table.
type Tabler interface {
	Table() Table
}

// field is one member of a JSON object written in order.
type field struct {
	key string
	val any
}

// object is a JSON object whose members keep their order.
type object []field

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.val)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Metrics are the headline numbers of a period.
type Metrics struct {
	// Visitors counts distinct visitor IDs with any event; anonymous page
	// views never count.
	Visitors int64 `json:"visitors"`
	// ReturningVisitors made more than one visit in the period.
	ReturningVisitors int64 `json:"returning_visitors"`
	// Visits counts distinct session IDs.
	Visits int64 `json:"visits"`
	// Pageviews counts every page view, anonymous ones included.
	Pageviews int64 `json:"pageviews"`
	// AnonymousPageviews were counted without consent (part of Pageviews).
	AnonymousPageviews int64 `json:"anonymous_pageviews"`
	// ViewsPerVisit is consented page views per visit.
	ViewsPerVisit float64 `json:"views_per_visit"`
	// BounceRate is the percentage of visits with one page view and less
	// than 10 s of engagement.
	BounceRate float64 `json:"bounce_rate"`
	// VisitDuration is the mean time in seconds from a visit's first to
	// its last event.
	VisitDuration float64 `json:"visit_duration"`
	// TimeOnPage is the mean engaged time in seconds per consented page
	// view.
	TimeOnPage float64 `json:"time_on_page"`
	// Events counts every event, anonymous page views included.
	Events int64 `json:"events"`
}

func (m Metrics) Get(name query.Metric) float64 {
	switch name {
	case query.MetricVisitors:
		return float64(m.Visitors)
	case query.MetricReturningVisitors:
		return float64(m.ReturningVisitors)
	case query.MetricVisits:
		return float64(m.Visits)
	case query.MetricPageviews:
		return float64(m.Pageviews)
	case query.MetricAnonPageviews:
		return float64(m.AnonymousPageviews)
	case query.MetricViewsPerVisit:
		return m.ViewsPerVisit
	case query.MetricBounceRate:
		return m.BounceRate
	case query.MetricVisitDuration:
		return m.VisitDuration
	case query.MetricTimeOnPage:
		return m.TimeOnPage
	case query.MetricEvents:
		return float64(m.Events)
	}
	return 0
}

// OverviewMetrics is the order of the overview's metrics.
var OverviewMetrics = []query.Metric{query.MetricVisitors, query.MetricReturningVisitors, query.MetricVisits, query.MetricPageviews,
	query.MetricAnonPageviews, query.MetricViewsPerVisit, query.MetricBounceRate, query.MetricVisitDuration, query.MetricTimeOnPage, query.MetricEvents}

// Meta describes what a result covers.
type Meta struct {
	Site    string         `json:"site"`
	From    string         `json:"from"` // YYYY-MM-DD
	To      string         `json:"to"`
	Filters []query.Filter `json:"filters"`
	// SampleRate is 1 when no number was estimated from a sample, else
	// the share of visitors the sampled metrics were computed from.
	SampleRate float64 `json:"sample_rate"`
	// Estimate is true when some numbers are estimates; Estimated names
	// their metrics and Estimation says how each kind was made. Every
	// other number is exact (a recount of distinct IDs and rows). Only
	// ranges holding more than a million events have estimates, and only
	// for numbers above 100,000 (distinct counts) or from a sample of
	// visitors (session metrics).
	Estimate   bool           `json:"estimate"`
	Estimated  []query.Metric `json:"estimated,omitempty"`
	Estimation []string       `json:"estimation,omitempty"`
	// Withheld, when set, says why the answer holds no numbers: its
	// filters leave fewer than k visitors, who would show one by one.
	Withheld string `json:"withheld,omitempty"`
}

// SessionEstimates are the metrics a sampled session query estimates.
var SessionEstimates = []query.Metric{query.MetricBounceRate, query.MetricVisitDuration, query.MetricReturningVisitors}

// MetricConsents names distinct consent IDs in Estimated.
const MetricConsents query.Metric = "consents"

// MetaOf describes q's answer; rates are the sample rates of its parts.
func MetaOf(q query.Query, rates ...float64) Meta {
	f := q.Filters
	if f == nil {
		f = []query.Filter{}
	}
	rate := 1.0
	for _, r := range rates {
		rate = math.Min(rate, r)
	}
	m := Meta{Site: q.Site, From: q.From.Format(query.DateLayout), To: q.To.Format(query.DateLayout), Filters: f, SampleRate: rate}
	if rate < 1 {
		m.Note(fmt.Sprintf("bounce rate, visit duration and returning visitors: from a sample of %s of visitors (sample_rate), a contiguous range of their random IDs, scaled up",
			strconv.FormatFloat(100*rate, 'g', 4, 64)+"%"), SessionEstimates...)
	}
	return m
}

// Note records that the metrics have estimated numbers, made as how says.
func (m *Meta) Note(how string, metrics ...query.Metric) {
	if len(metrics) == 0 {
		return
	}
	m.Estimate = true
	for _, x := range metrics {
		if !slices.Contains(m.Estimated, x) {
			m.Estimated = append(m.Estimated, x)
		}
	}
	if !slices.Contains(m.Estimation, how) {
		m.Estimation = append(m.Estimation, how)
	}
}

// Overview is the headline numbers of a period, and of the period before
// when compared.
type Overview struct {
	Meta
	Metrics  Metrics  `json:"metrics"`
	Previous *Metrics `json:"previous,omitempty"`
	// Change is the relative change in percent for counts and durations,
	// the difference in percentage points for the bounce rate; null when
	// the previous value is zero.
	Change map[query.Metric]*float64 `json:"change,omitempty"`
	// Imported is what an import holds for the period's days before the
	// site's own data, apart from the metrics above; absent without.
	Imported *Imported `json:"imported,omitempty"`
}

// MarshalJSON writes metrics as null when they are withheld.
func (o *Overview) MarshalJSON() ([]byte, error) {
	type plain Overview
	if o.Withheld == "" {
		return json.Marshal((*plain)(o))
	}
	return withheldJSON(o.Meta, field{"metrics", nil})
}

// WithheldBecause is Meta.Withheld.
func (m Meta) WithheldBecause() string { return m.Withheld }

// withheldJSON writes an answer whose numbers are withheld: its Meta, then
// fields (those of the numbers as null).
func withheldJSON(m Meta, fields ...field) ([]byte, error) {
	o := object{{"site", m.Site}, {"from", m.From}, {"to", m.To}, {"filters", m.Filters}, {"sample_rate", m.SampleRate},
		{"estimate", m.Estimate}, {"withheld", m.Withheld}}
	return append(o, fields...).MarshalJSON()
}

// Table lists metric, value and, when compared, previous and change.
func (o *Overview) Table() Table {
	t := Table{Header: []string{"metric", "value"}}
	if o.Previous != nil {
		t.Header = append(t.Header, "previous", "change")
	}
	for _, m := range OverviewMetrics {
		row := []any{string(m), num(o.Metrics.Get(m))}
		if o.Previous != nil {
			var ch any = ""
			if c := o.Change[m]; c != nil {
				ch = *c
			}
			row = append(row, num(o.Previous.Get(m)), ch)
		}
		t.Rows = append(t.Rows, row)
	}
	if im := o.Imported; im != nil {
		pad := func(r []any) []any {
			for len(r) < len(t.Header) {
				r = append(r, "")
			}
			return r
		}
		t.Rows = append(t.Rows, pad([]any{"imported_visitors_summed_by_day", im.Visitors}), pad([]any{"imported_visits", im.Visits}),
			pad([]any{"imported_pageviews", im.Pageviews}), pad([]any{"imported_days", int64(im.Days)}))
	}
	return t
}

// num keeps whole numbers as int64 so both encodings print them alike.
func num(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

func Change(m query.Metric, cur, prev float64) *float64 {
	if m == query.MetricBounceRate {
		d := Round1(cur - prev)
		return &d
	}
	if prev == 0 {
		return nil
	}
	c := Round1((cur - prev) / prev * 100)
	return &c
}

// Point is one bucket of a time series.
type Point struct {
	Time    time.Time
	Metrics Metrics
}

// Timeseries is metrics per bucket.
type Timeseries struct {
	Meta
	Interval query.Interval
	Metrics  []query.Metric
	Points   []Point
	// Previous holds the previous period's buckets, in the same order.
	Previous []Point
	// Imported holds the buckets of imported days (before the site's own
	// data), apart from Points; ImportedFormat names the tool.
	Imported       []ImportedPoint
	ImportedFormat string
}

func (ts *Timeseries) label(t time.Time) string {
	if ts.Interval == query.Hour {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UTC().Format(query.DateLayout)
}

func (ts *Timeseries) points(ps []Point) []object {
	out := make([]object, len(ps))
	for i, p := range ps {
		o := object{{"date", ts.label(p.Time)}}
		for _, m := range ts.Metrics {
			o = append(o, field{string(m), num(p.Metrics.Get(m))})
		}
		out[i] = o
	}
	return out
}

// MarshalJSON writes {"site",…,"interval","metrics","points":[{"date",…}],"previous"}.
func (ts *Timeseries) MarshalJSON() ([]byte, error) {
	o := object{{"site", ts.Site}, {"from", ts.From}, {"to", ts.To}, {"filters", ts.Filters},
		{"sample_rate", ts.SampleRate}, {"estimate", ts.Estimate}}
	if len(ts.Estimated) > 0 {
		o = append(o, field{"estimated", ts.Estimated})
	}
	if ts.Withheld != "" {
		o = append(o, field{"withheld", ts.Withheld})
	}
	o = append(o, field{"interval", ts.Interval}, field{"metrics", ts.Metrics}, field{"points", ts.points(ts.Points)})
	if ts.Previous != nil {
		o = append(o, field{"previous", ts.points(ts.Previous)})
	}
	if ts.Imported != nil {
		o = append(o, field{"imported", object{{"format", ts.ImportedFormat}, {"points", ts.Imported}}})
	}
	return o.MarshalJSON()
}

// Table has one row per bucket; with comparison, the previous period's
// bucket and values follow in columns prefixed previous_.
func (ts *Timeseries) Table() Table {
	t := Table{Header: []string{"date"}}
	for _, m := range ts.Metrics {
		t.Header = append(t.Header, string(m))
	}
	if ts.Previous != nil {
		t.Header = append(t.Header, "previous_date")
		for _, m := range ts.Metrics {
			t.Header = append(t.Header, "previous_"+string(m))
		}
	}
	for i, p := range ts.Points {
		row := []any{ts.label(p.Time)}
		for _, m := range ts.Metrics {
			row = append(row, num(p.Metrics.Get(m)))
		}
		if ts.Previous != nil {
			if i < len(ts.Previous) {
				pp := ts.Previous[i]
				row = append(row, ts.label(pp.Time))
				for _, m := range ts.Metrics {
					row = append(row, num(pp.Metrics.Get(m)))
				}
			} else {
				for range len(ts.Metrics) + 1 {
					row = append(row, "")
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Row is one value of a breakdown; which metrics it shows depends on the
// dimension (Breakdown.Metrics).
type Row struct {
	Value          string
	Visitors       int64
	Visits         int64
	Pageviews      int64
	Events         int64
	TimeOnPage     float64 // seconds per consented page view
	BounceRate     float64 // percent
	VisitDuration  float64 // seconds
	ConversionRate float64 // percent of the period's visitors
	// Previous is the row's value in the period compared with (Breakdown
	// with Compared); nil when unknown there or withheld under k.
	Previous *Row
}

func (r Row) Get(m query.Metric) float64 {
	switch m {
	case query.MetricVisitors:
		return float64(r.Visitors)
	case query.MetricVisits:
		return float64(r.Visits)
	case query.MetricPageviews:
		return float64(r.Pageviews)
	case query.MetricEvents:
		return float64(r.Events)
	case query.MetricTimeOnPage:
		return r.TimeOnPage
	case query.MetricBounceRate:
		return r.BounceRate
	case query.MetricVisitDuration:
		return r.VisitDuration
	case query.MetricConversionRate:
		return r.ConversionRate
	}
	return 0
}

func (r Row) object(ms []query.Metric, compared bool) object {
	o := object{{"value", r.Value}}
	for _, m := range ms {
		o = append(o, field{string(m), num(r.Get(m))})
	}
	if compared {
		var prev, change any
		if r.Previous != nil {
			prev = r.Previous.object(ms, false)
			ch := object{}
			for _, m := range ms {
				ch = append(ch, field{string(m), Change(m, r.Get(m), r.Previous.Get(m))})
			}
			change = ch
		}
		o = append(o, field{"previous", prev}, field{"change", change})
	}
	return o
}

// Breakdown is a dimension's values, most visitors first. Values with fewer
// than K visitors are folded into Other, which is left out when it too
// has fewer than K; Totals cover every value.
type Breakdown struct {
	Meta
	Dimension query.Dimension
	// Event and Property narrow DimEventProp to one custom event and key.
	Event, Property string
	K               int
	Metrics         []query.Metric
	Rows            []Row
	Other           *Row
	Totals          Row
	Page, Limit     int
	More            bool // more rows on the next page
	// Compared: rows and totals carry Previous.
	Compared bool
}

// MarshalJSON writes the rows as objects with the dimension's metrics.
func (b *Breakdown) MarshalJSON() ([]byte, error) {
	rows := make([]object, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = r.object(b.Metrics, b.Compared)
	}
	var other any
	if b.Other != nil {
		other = b.Other.object(b.Metrics, false)
	}
	o := object{{"site", b.Site}, {"from", b.From}, {"to", b.To}, {"filters", b.Filters}, {"sample_rate", b.SampleRate},
		{"estimate", b.Estimate}}
	if len(b.Estimated) > 0 {
		o = append(o, field{"estimated", b.Estimated})
	}
	o = append(o, field{"dimension", b.Dimension})
	if b.Dimension == query.DimEventProp {
		o = append(o, field{"event", b.Event}, field{"property", b.Property})
	}
	var totals any = b.Totals.object(b.Metrics, b.Compared)
	if b.Withheld != "" {
		o = append(o, field{"withheld", b.Withheld})
		totals = nil
	}
	o = append(o, field{"k", b.K}, field{"metrics", b.Metrics}, field{"rows", rows}, field{"other", other},
		field{"totals", totals}, field{"page", b.Page}, field{"limit", b.Limit}, field{"more", b.More})
	return o.MarshalJSON()
}

// Table has the rows, then "(other)" when shown and "(total)".
func (b *Breakdown) Table() Table {
	t := Table{Header: append([]string{string(b.Dimension)}, MetricNames(b.Metrics)...)}
	if b.Compared {
		for _, m := range b.Metrics {
			t.Header = append(t.Header, "previous_"+string(m), "change_"+string(m))
		}
	}
	add := func(r Row) {
		row := []any{r.Value}
		for _, m := range b.Metrics {
			row = append(row, num(r.Get(m)))
		}
		if b.Compared {
			for _, m := range b.Metrics {
				if r.Previous == nil {
					row = append(row, "", "")
					continue
				}
				row = append(row, num(r.Previous.Get(m)), nullable(Change(m, r.Get(m), r.Previous.Get(m))))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	add(b.Totals)
	return t
}

func MetricNames(ms []query.Metric) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// PathRow is a page visitors came from or went to.
type PathRow struct {
	Value string `json:"value"`
	// Visitors who made the step, and how often it was made.
	Visitors    int64 `json:"visitors"`
	Transitions int64 `json:"transitions"`
}

// Paths is where the visitors of a page came from and went next, within
// their visits: "(entrance)" when the page was the first of the visit,
// "(exit)" when it was the last. Steps of fewer than K visitors fold into
// "(other)".
type Paths struct {
	Meta
	Page          string    `json:"page"`
	K             int       `json:"k"`
	Previous      []PathRow `json:"previous"`
	PreviousOther *PathRow  `json:"previous_other"`
	Next          []PathRow `json:"next"`
	NextOther     *PathRow  `json:"next_other"`
}

// Table lists direction (previous or next), page, visitors, transitions.
func (p *Paths) Table() Table {
	t := Table{Header: []string{"direction", "page", "visitors", "transitions"}}
	add := func(dir string, rows []PathRow, other *PathRow) {
		for _, r := range rows {
			t.Rows = append(t.Rows, []any{dir, r.Value, r.Visitors, r.Transitions})
		}
		if other != nil {
			t.Rows = append(t.Rows, []any{dir, other.Value, other.Visitors, other.Transitions})
		}
	}
	add("previous", p.Previous, p.PreviousOther)
	add("next", p.Next, p.NextOther)
	return t
}

// Realtime is the last minutes of traffic.
type Realtime struct {
	Site      string `json:"site"`
	Minutes   int    `json:"minutes"`
	Visitors  int64  `json:"visitors"`
	Pageviews int64  `json:"pageviews"`
	K         int    `json:"k"`
	// Pages are the pages viewed, as PathRow with Transitions the number
	// of page views.
	Pages     []PathRow `json:"pages"`
	PageOther *PathRow  `json:"pages_other"`
}

// Table lists the pages, then the totals as "(total)".
func (r *Realtime) Table() Table {
	t := Table{Header: []string{"page", "visitors", "pageviews"}}
	for _, p := range r.Pages {
		t.Rows = append(t.Rows, []any{p.Value, p.Visitors, p.Transitions})
	}
	if r.PageOther != nil {
		t.Rows = append(t.Rows, []any{r.PageOther.Value, r.PageOther.Visitors, r.PageOther.Transitions})
	}
	t.Rows = append(t.Rows, []any{"(total)", r.Visitors, r.Pageviews})
	return t
}

func Round1(f float64) float64 { return math.Round(f*10) / 10 }
func Round2(f float64) float64 { return math.Round(f*100) / 100 }

func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
