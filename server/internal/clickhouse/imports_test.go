package clickhouse

import (
	"testing"
	"time"
)

// Current ClickHouse refuses an insert into more than 100 monthly
// partitions: an import of 20 years goes in spans of at most 96 months.
func TestMonthSpans_AtMost96MonthsEach(t *testing.T) {
	first := time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC)
	var days []time.Time
	for d := first; d.Year() < 2026; d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	spans := monthSpans(len(days), func(i int) time.Time { return days[i] }, len(days))
	next := 0
	for _, s := range spans {
		lo, hi := days[s[0]], days[s[1]-1]
		if s[0] != next || (hi.Year()*12+int(hi.Month()))-(lo.Year()*12+int(lo.Month())) >= 96 {
			t.Fatalf("span %v: %s to %s", s, lo.Format("2006-01"), hi.Format("2006-01"))
		}
		next = s[1]
	}
	if next != len(days) || len(spans) != 3 {
		t.Errorf("%d spans ending at %d of %d days", len(spans), next, len(days))
	}
	if got := monthSpans(5, func(i int) time.Time { return first }, 2); len(got) != 3 {
		t.Errorf("5 rows by 2: %v", got)
	}
}
