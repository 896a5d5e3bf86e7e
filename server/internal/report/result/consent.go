package result

import (
	"encoding/json"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/query"
)

var consentMetricNames = []string{"impressions", "decisions", "consents", "accept_all", "reject_all", "custom", "withdraw",
	"interaction_rate", "opt_in_performance", "opt_in_functionality", "opt_in_targeting",
	"gpc_share_impressions", "gpc_share_decisions", "undeclared_cookie_impressions"}

// ConsentMetrics are consent numbers of a period, a bucket or a value.
type ConsentMetrics struct {
	Impressions         int64   `json:"impressions"`
	Decisions           int64   `json:"decisions"`
	Consents            int64   `json:"consents"`
	AcceptAll           int64   `json:"accept_all"`
	RejectAll           int64   `json:"reject_all"`
	Custom              int64   `json:"custom"`
	Withdraw            int64   `json:"withdraw"`
	InteractionRate     float64 `json:"interaction_rate"`
	OptInPerformance    float64 `json:"opt_in_performance"`
	OptInFunctionality  float64 `json:"opt_in_functionality"`
	OptInTargeting      float64 `json:"opt_in_targeting"`
	GPCShareImpressions float64 `json:"gpc_share_impressions"`
	GPCShareDecisions   float64 `json:"gpc_share_decisions"`
	// UndeclaredImpressions had cookies the site has not declared before
	// any decision.
	UndeclaredImpressions int64 `json:"undeclared_cookie_impressions"`
}

func (c ConsentMetrics) values() []any {
	return []any{c.Impressions, c.Decisions, c.Consents, c.AcceptAll, c.RejectAll, c.Custom, c.Withdraw,
		num(c.InteractionRate), num(c.OptInPerformance), num(c.OptInFunctionality), num(c.OptInTargeting),
		num(c.GPCShareImpressions), num(c.GPCShareDecisions), c.UndeclaredImpressions}
}

// ConsentOverview is the consent numbers of a period, with the coverage
// of the analytics.
type ConsentOverview struct {
	Meta
	ConsentMetrics
	ConsentedPageviews int64    `json:"consented_pageviews"`
	AnonymousPageviews int64    `json:"anonymous_pageviews"`
	MeasuredShare      *float64 `json:"measured_share"`
	EstimatedCoverage  float64  `json:"estimated_coverage"`
	// TimeToDecision: how long the banner was shown before the decisions
	// made in it.
	TimeToDecision DecisionTime `json:"time_to_decision"`
}

// MarshalJSON writes the Meta alone when the numbers are withheld.
func (o *ConsentOverview) MarshalJSON() ([]byte, error) {
	type plain ConsentOverview
	if o.Withheld == "" {
		return json.Marshal((*plain)(o))
	}
	return withheldJSON(o.Meta, field{"consents", nil})
}

// DecisionTime is how long visitors took to decide in the banner: the
// number of decisions made there with their time, the median, and the
// decisions per bucket. Fewer than k decisions show no median and no
// buckets; a bucket of fewer than k decisions shows null.
type DecisionTime struct {
	K         int                  `json:"k"`
	Decisions int64                `json:"decisions"`
	MedianMS  *int64               `json:"median_ms"`
	Buckets   []DecisionTimeBucket `json:"buckets"`
}

// DecisionTimeBucket is one bucket of DecisionTime: its label ("2-5 s")
// and its decisions, null when fewer than k.
type DecisionTimeBucket struct {
	Label     string `json:"label"`
	Decisions *int64 `json:"decisions"`
}

// Table lists metric and value.
func (o *ConsentOverview) Table() Table {
	t := Table{Header: []string{"metric", "value"}}
	for i, v := range o.ConsentMetrics.values() {
		t.Rows = append(t.Rows, []any{consentMetricNames[i], v})
	}
	var ms any = ""
	if o.MeasuredShare != nil {
		ms = num(*o.MeasuredShare)
	}
	t.Rows = append(t.Rows, []any{"consented_pageviews", o.ConsentedPageviews}, []any{"anonymous_pageviews", o.AnonymousPageviews},
		[]any{"measured_share", ms}, []any{"estimated_coverage", num(o.EstimatedCoverage)})
	cell := func(v *int64) any {
		if v == nil {
			return ""
		}
		return *v
	}
	t.Rows = append(t.Rows, []any{"time_to_decision_decisions", o.TimeToDecision.Decisions}, []any{"time_to_decision_median_ms", cell(o.TimeToDecision.MedianMS)})
	for _, b := range o.TimeToDecision.Buckets {
		t.Rows = append(t.Rows, []any{"time_to_decision " + b.Label, cell(b.Decisions)})
	}
	return t
}

// ConsentPoint is one bucket of a consent time series.
type ConsentPoint struct {
	Time time.Time
	ConsentMetrics
}

// ConsentSeries is consent numbers per bucket.
type ConsentSeries struct {
	Meta
	Interval query.Interval
	Points   []ConsentPoint
}

func (cs *ConsentSeries) label(t time.Time) string {
	if cs.Interval == query.Hour {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UTC().Format(query.DateLayout)
}

// MarshalJSON writes {"site",…,"interval","points":[{"date",…metrics}]}.
func (cs *ConsentSeries) MarshalJSON() ([]byte, error) {
	points := make([]object, len(cs.Points))
	for i, p := range cs.Points {
		o := object{{"date", cs.label(p.Time)}}
		for j, v := range p.values() {
			o = append(o, field{consentMetricNames[j], v})
		}
		points[i] = o
	}
	o := object{{"site", cs.Site}, {"from", cs.From}, {"to", cs.To}, {"filters", cs.Filters}, {"sample_rate", cs.SampleRate}}
	if cs.Withheld != "" {
		o = append(o, field{"withheld", cs.Withheld})
	}
	return append(o, field{"interval", cs.Interval}, field{"points", points}).MarshalJSON()
}

// Table has one row per bucket.
func (cs *ConsentSeries) Table() Table {
	t := Table{Header: append([]string{"date"}, consentMetricNames...)}
	for _, p := range cs.Points {
		t.Rows = append(t.Rows, append([]any{cs.label(p.Time)}, p.values()...))
	}
	return t
}

// ConsentRow is one value of a consent breakdown.
type ConsentRow struct {
	Value string
	ConsentMetrics
}

// ConsentBreakdown is consent numbers per value, most consent IDs first.
// Values decided on by fewer than K consent IDs (and values with
// impressions only) fold into Other, left out when it too has fewer.
type ConsentBreakdown struct {
	Meta
	Dimension   query.ConsentDimension
	K           int
	Rows        []ConsentRow
	Other       *ConsentRow
	Totals      ConsentRow
	Page, Limit int
	More        bool
}

func (r ConsentRow) object() object {
	o := object{{"value", r.Value}}
	for i, v := range r.values() {
		o = append(o, field{consentMetricNames[i], v})
	}
	return o
}

// MarshalJSON writes the rows as objects.
func (b *ConsentBreakdown) MarshalJSON() ([]byte, error) {
	rows := make([]object, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = r.object()
	}
	var other any
	if b.Other != nil {
		other = b.Other.object()
	}
	var totals any = b.Totals.object()
	o := object{{"site", b.Site}, {"from", b.From}, {"to", b.To}, {"filters", b.Filters}, {"sample_rate", b.SampleRate}}
	if b.Withheld != "" {
		o, totals = append(o, field{"withheld", b.Withheld}), nil
	}
	return append(o, field{"dimension", b.Dimension}, field{"k", b.K}, field{"rows", rows}, field{"other", other}, field{"totals", totals},
		field{"page", b.Page}, field{"limit", b.Limit}, field{"more", b.More}).MarshalJSON()
}

// Table has the rows, "(other)" when shown and "(total)".
func (b *ConsentBreakdown) Table() Table {
	t := Table{Header: append([]string{string(b.Dimension)}, consentMetricNames...)}
	add := func(r ConsentRow) { t.Rows = append(t.Rows, append([]any{r.Value}, r.values()...)) }
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	add(b.Totals)
	return t
}

// CookieRow is an undeclared cookie seen before any decision, on a page
// (Page is empty in the by-cookie list).
type CookieRow struct {
	Page        string `json:"page,omitempty"`
	Cookie      string `json:"cookie"`
	Impressions int64  `json:"impressions"`
}

// Cookies lists undeclared cookies seen before consent, by name or by page
// and name, most impressions first. Rows seen on fewer than K impressions
// fold into Other (impressions carry no ID, so k counts impressions).
type Cookies struct {
	Meta
	By    string      `json:"by"` // cookie or page
	K     int         `json:"k"`
	Rows  []CookieRow `json:"rows"`
	Other *CookieRow  `json:"other"`
}

// Table lists page (by page), cookie and impressions.
func (c *Cookies) Table() Table {
	t := Table{Header: []string{"cookie", "impressions"}}
	if c.By == "page" {
		t.Header = []string{"page", "cookie", "impressions"}
	}
	add := func(r CookieRow) {
		if c.By == "page" {
			t.Rows = append(t.Rows, []any{r.Page, r.Cookie, r.Impressions})
		} else {
			t.Rows = append(t.Rows, []any{r.Cookie, r.Impressions})
		}
	}
	for _, r := range c.Rows {
		add(r)
	}
	if c.Other != nil {
		add(*c.Other)
	}
	return t
}
