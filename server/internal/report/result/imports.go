package result

// Imported is what an import (crumb import) adds to a period: its numbers
// on the days before the site's own data, apart from Crumb's. Visitors is
// the sum of the daily visitor counts (a visitor on two days counts
// twice); BounceRate and VisitDuration are null when the export had no
// visits (GoatCounter's).
type Imported struct {
	Format        string   `json:"format"`
	From          string   `json:"from"`
	To            string   `json:"to"`
	Days          int      `json:"days"`
	Visitors      int64    `json:"visitors"`
	Visits        int64    `json:"visits"`
	Pageviews     int64    `json:"pageviews"`
	BounceRate    *float64 `json:"bounce_rate"`
	VisitDuration *float64 `json:"visit_duration"`
}

// ImportedPoint is one bucket of imported days in a time series.
type ImportedPoint struct {
	Date      string `json:"date"`
	Visitors  int64  `json:"visitors"`
	Visits    int64  `json:"visits"`
	Pageviews int64  `json:"pageviews"`
}

// ImportedBreakdown is a dimension's imported values: visitors and page
// views (events, for event) summed over the imported days; values of
// fewer than K visitors are folded into Other.
type ImportedBreakdown struct {
	Meta
	Dimension string        `json:"dimension"`
	K         int           `json:"k"`
	Imported  *Imported     `json:"imported"`
	Rows      []ImportedRow `json:"rows"`
	Other     *ImportedRow  `json:"other"`
}

// ImportedRow is one imported value.
type ImportedRow struct {
	Value     string `json:"value"`
	Visitors  int64  `json:"visitors"`
	Pageviews int64  `json:"pageviews"`
}

// Table lists the rows, then "(other)".
func (b *ImportedBreakdown) Table() Table {
	t := Table{Header: []string{b.Dimension, "visitors", "pageviews"}}
	for _, r := range b.Rows {
		t.Rows = append(t.Rows, []any{r.Value, r.Visitors, r.Pageviews})
	}
	if b.Other != nil {
		t.Rows = append(t.Rows, []any{b.Other.Value, b.Other.Visitors, b.Other.Pageviews})
	}
	return t
}
