package clickhouse

import (
	"context"
	"fmt"
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
// them count; a day imported before is replaced.
func (db *DB) Import(ctx context.Context, site string, d *imports.Data) (string, error) {
	id := uuid.NewString()
	const batch = 100_000
	for lo := 0; lo < len(d.Rows); lo += batch {
		rows := d.Rows[lo:min(lo+batch, len(d.Rows))]
		if err := insert(ctx, db, migrations.ImportedDims, insertImportedDims, len(rows), func(i int) []any {
			r := rows[i]
			return []any{site, r.Dim, r.Date, r.Value, id, r.Visitors, r.Pageviews}
		}); err != nil {
			return "", fmt.Errorf("clickhouse: import: %w", err)
		}
	}
	at := uint64(time.Now().UnixNano())
	if err := insert(ctx, db, migrations.ImportedDaily, insertImportedDaily, len(d.Days), func(i int) []any {
		x := d.Days[i]
		return []any{site, x.Date, id, at, d.Format, x.Visitors, x.Visits, x.Pageviews, x.Bounces, x.VisitDurationSecond, boolU8(x.HasVisits)}
	}); err != nil {
		return "", fmt.Errorf("clickhouse: import: %w", err)
	}
	return id, nil
}
