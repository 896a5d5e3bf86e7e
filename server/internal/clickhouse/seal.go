package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/crumbhq/crumb/migrations"
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

// Window is a run of closed days, [End-Days+1, End], that a dashboard's
// preset ranges read merged (SealWindows).
type Window struct {
	End  time.Time
	Days int
}

// WindowSeal writes more of a window's seal (the report layer's visits
// per visitor), as sealed at ms, before SealWindows marks it complete.
type WindowSeal func(ctx context.Context, site string, end time.Time, days int, ms uint64) error

// SealWindows merges the pre-aggregated rows of each window's days into
// report_dims_window and report_daily_window, unless a seal with the same
// event count exists; each of also adds to the seal before its daily row,
// which marks it complete, is written. A window whose days change while it
// is sealed (a late event) is left for the next run. It returns how many
// windows it sealed.
func (db *DB) SealWindows(ctx context.Context, site string, windows []Window, also ...WindowSeal) (int, error) {
	n := 0
	for _, w := range windows {
		if w.Days < 1 {
			continue
		}
		end := w.End.UTC()
		from := end.AddDate(0, 0, 1-w.Days)
		var events, sealed uint64
		if err := db.conn.QueryRow(ctx, selectWindowEvents, site, from, end).Scan(&events); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		if events == 0 {
			continue
		}
		if err := db.conn.QueryRow(ctx, selectWindowSealed, site, end, w.Days, events).Scan(&sealed); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		if sealed > 0 {
			continue
		}
		ms := uint64(time.Now().UnixMilli())
		if err := db.conn.Exec(db.insertContext(ctx), sealDimsWindow, end, w.Days, ms, site, from, end); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		for _, seal := range also {
			if err := seal(ctx, site, end, w.Days, ms); err != nil {
				return n, fmt.Errorf("clickhouse: seal window: %w", err)
			}
		}
		var after uint64
		if err := db.conn.QueryRow(ctx, selectWindowEvents, site, from, end).Scan(&after); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		if after != events {
			continue // late events meanwhile: the next run seals it
		}
		if err := db.conn.Exec(db.insertContext(ctx), sealDailyWindow, end, w.Days, ms, site, from, end); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		n++
	}
	// Windows ending before the oldest one sealed now are no longer read.
	var oldest time.Time
	for _, w := range windows {
		if oldest.IsZero() || w.End.Before(oldest) {
			oldest = w.End.UTC()
		}
	}
	if oldest.IsZero() {
		return n, nil
	}
	for _, t := range migrations.WindowTables {
		var old uint64
		if err := db.conn.QueryRow(ctx, fmt.Sprintf(countOldWindows, t), site, oldest).Scan(&old); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
		if old == 0 {
			continue
		}
		if err := db.mutate(ctx, t, deleteOldWindows, site, oldest); err != nil {
			return n, fmt.Errorf("clickhouse: seal window: %w", err)
		}
	}
	return n, nil
}
