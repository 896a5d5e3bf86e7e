package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// SealDays writes the exact visitors, visits and consents of a site's
// closed days in [from, before) as plain numbers (report_day_visitors,
// report_day_consents), for the days not sealed yet or whose rows changed
// since (a late event, an erasure): a daily time series then reads a day's
// counts without merging its exact sets. Each seal records the day's event
// (decision) count it was taken at; readers use it only while the count
// still matches. Several nodes may seal the same day at once: the newest
// seal wins, and every seal of a day is correct for its count. It returns
// how many days it sealed.
func (db *DB) SealDays(ctx context.Context, site string, from, before time.Time) (int, error) {
	from, before = from.UTC(), before.UTC()
	n := 0
	for _, k := range []struct{ what, live, sealed, seal string }{
		{"visitors", selectLiveDayEvents, selectSealedDayEvents, sealVisitorDays},
		{"consents", selectLiveDayDecisions, selectSealedDayDecisions, sealConsentDays},
	} {
		live, err := db.dayCounts(ctx, k.live, site, from, before)
		if err != nil {
			return n, fmt.Errorf("clickhouse: seal %s: %w", k.what, err)
		}
		sealed, err := db.dayCounts(ctx, k.sealed, site, from, before)
		if err != nil {
			return n, fmt.Errorf("clickhouse: seal %s: %w", k.what, err)
		}
		var stale []string
		for day, c := range live {
			if s, ok := sealed[day]; !ok || s != c {
				stale = append(stale, day)
			}
		}
		// A week at a time: the exact sets of a few days in memory.
		for len(stale) > 0 {
			batch := stale[:min(7, len(stale))]
			stale = stale[len(batch):]
			if err := db.conn.Exec(db.insertContext(ctx), k.seal, uint64(time.Now().UnixMilli()), site, batch); err != nil {
				return n, fmt.Errorf("clickhouse: seal %s: %w", k.what, err)
			}
			n += len(batch)
		}
	}
	return n, nil
}

func (db *DB) dayCounts(ctx context.Context, query, site string, from, before time.Time) (map[string]uint64, error) {
	rows, err := db.conn.Query(ctx, query, site, from, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var day string
		var c uint64
		if err := rows.Scan(&day, &c); err != nil {
			return nil, err
		}
		out[day] = c
	}
	return out, rows.Err()
}
