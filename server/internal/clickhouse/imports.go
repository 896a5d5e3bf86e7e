package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/imports"
)

const (
	insertImportedDims  = "INSERT INTO " + migrations.ImportedDims + " (site_id, dim, date, value, import_id, visitors, pageviews)"
	insertImportedDaily = "INSERT INTO " + migrations.ImportedDaily + " (site_id, date, import_id, imported_at, format, visitors, visits, pageviews, bounces, visit_duration, has_visits)"
)

// Import stores an export's aggregates for site under a new import ID and
// returns it: the rows of the dimensions first, then the days, which make
// them count; a day imported before is replaced. Both tables are
// partitioned by month and current ClickHouse refuses an insert touching
// more than 100 partitions, so the inserts go by date, 96 months at most
// each (an export of up to 8 years has its days in one insert).
func (db *DB) Import(ctx context.Context, site string, d *imports.Data) (string, error) {
	id := uuid.NewString()
	slices.SortFunc(d.Rows, func(a, b imports.Row) int { return a.Date.Compare(b.Date) })
	slices.SortFunc(d.Days, func(a, b imports.Day) int { return a.Date.Compare(b.Date) })
	for _, span := range monthSpans(len(d.Rows), func(i int) time.Time { return d.Rows[i].Date }, 100_000) {
		rows := d.Rows[span[0]:span[1]]
		if err := insert(ctx, db, migrations.ImportedDims, insertImportedDims, len(rows), func(i int) []any {
			r := rows[i]
			return []any{site, r.Dim, r.Date, r.Value, id, r.Visitors, r.Pageviews}
		}); err != nil {
			return "", fmt.Errorf("clickhouse: import: %w", err)
		}
	}
	at := uint64(time.Now().UnixNano())
	for _, span := range monthSpans(len(d.Days), func(i int) time.Time { return d.Days[i].Date }, len(d.Days)) {
		days := d.Days[span[0]:span[1]]
		if err := insert(ctx, db, migrations.ImportedDaily, insertImportedDaily, len(days), func(i int) []any {
			x := days[i]
			return []any{site, x.Date, id, at, d.Format, x.Visitors, x.Visits, x.Pageviews, x.Bounces, x.VisitDurationSecond, boolU8(x.HasVisits)}
		}); err != nil {
			return "", fmt.Errorf("clickhouse: import: %w", err)
		}
	}
	return id, nil
}

// monthSpans cuts n items sorted by date into index ranges [lo, hi) of at
// most max items and 96 months each.
func monthSpans(n int, date func(int) time.Time, max int) [][2]int {
	const months = 96
	var out [][2]int
	month := func(i int) int { t := date(i); return t.Year()*12 + int(t.Month()) }
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && hi-lo < max && month(hi)-month(lo) < months {
			hi++
		}
		out = append(out, [2]int{lo, hi})
		lo = hi
	}
	return out
}
