package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// eventValues is an event as the columns of insertEvents (eventCols).
func eventValues(e *model.Event) []any {
	props := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	ts := e.Time.UTC()
	return []any{
		e.SiteID, ts, ts, e.ID, string(e.Type), e.VisitorID, e.SessionID, e.ConsentID,
		e.Hostname, e.Path, e.ReferrerHost, e.ReferrerPath, e.Source, e.Channel,
		e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMContent, e.UTMTerm,
		e.Country, e.Region, e.City, e.ASN, e.Provider,
		e.Browser, e.BrowserVersion, e.OS, e.OSVersion, e.Device, e.Screen, e.Language,
		e.Name, props(e.PropKeys), props(e.PropValues), e.SearchTerm, e.LinkURL, e.DurationMS, e.Status,
	}
}

// eventTargets scans the columns of eventCols into an event.
func eventTargets(e *model.Event, date *time.Time, typ *string) []any {
	return []any{
		&e.SiteID, date, &e.Time, &e.ID, typ, &e.VisitorID, &e.SessionID, &e.ConsentID,
		&e.Hostname, &e.Path, &e.ReferrerHost, &e.ReferrerPath, &e.Source, &e.Channel,
		&e.UTMSource, &e.UTMMedium, &e.UTMCampaign, &e.UTMContent, &e.UTMTerm,
		&e.Country, &e.Region, &e.City, &e.ASN, &e.Provider,
		&e.Browser, &e.BrowserVersion, &e.OS, &e.OSVersion, &e.Device, &e.Screen, &e.Language,
		&e.Name, &e.PropKeys, &e.PropValues, &e.SearchTerm, &e.LinkURL, &e.DurationMS, &e.Status,
	}
}

// decisionValues is a decision as the columns of insertDecisions.
func decisionValues(d *model.Decision) []any {
	ts := d.Time.UTC()
	return []any{
		d.SiteID, ts, ts, d.ID, d.ConsentID, d.PolicyVersion, d.TextsHash, string(d.Action),
		boolU8(d.Granted.Performance), boolU8(d.Granted.Functionality), boolU8(d.Granted.Targeting),
		boolU8(d.GPC), d.Path, d.Language, d.Country, d.Device,
	}
}

// impressionValues is an impression as the columns of insertImpressions.
func impressionValues(im *model.Impression) []any {
	ts := im.Time.UTC()
	cookies := im.UndeclaredCookies
	if cookies == nil {
		cookies = []string{}
	}
	return []any{
		im.SiteID, ts, ts, im.ID, im.PolicyVersion, im.Path, im.Language, im.Country, im.Device, boolU8(im.GPC), cookies,
	}
}

// InsertEvents writes events in one batch.
func (db *DB) InsertEvents(ctx context.Context, events []model.Event) error {
	return insert(ctx, db, migrations.Events, insertEvents, len(events), func(i int) []any { return eventValues(&events[i]) })
}

// InsertDecisions writes consent decisions in one batch.
func (db *DB) InsertDecisions(ctx context.Context, ds []model.Decision) error {
	return insert(ctx, db, migrations.ConsentDecisions, insertDecisions, len(ds), func(i int) []any { return decisionValues(&ds[i]) })
}

// InsertImpressions writes banner impressions in one batch.
func (db *DB) InsertImpressions(ctx context.Context, ims []model.Impression) error {
	return insert(ctx, db, migrations.ConsentImpressions, insertImpressions, len(ims), func(i int) []any { return impressionValues(&ims[i]) })
}

// insert sends n rows into table in one batch of the INSERT statement stmt
// (sql.go).
func insert(ctx context.Context, db *DB, table, stmt string, n int, row func(int) []any) error {
	if n == 0 {
		return nil
	}
	b, err := db.conn.PrepareBatch(db.insertContext(ctx), stmt)
	if err != nil {
		return fmt.Errorf("clickhouse: insert %s: %w", table, err)
	}
	for i := 0; i < n; i++ {
		if err := b.Append(row(i)...); err != nil {
			_ = b.Abort()
			return fmt.Errorf("clickhouse: insert %s row %d: %w", table, i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert %s: %w", table, err)
	}
	return nil
}

// ExistingEventIDs returns which of ids are already stored in events, looking
// only at the given sites and dates, so that a batch whose insert may or may
// not have landed (a crash, a timeout) is written again without duplicates.
func (db *DB) ExistingEventIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	return db.existingIDs(ctx, migrations.Events, "event_id", sites, from, to, ids)
}

// ExistingDecisionIDs is ExistingEventIDs for consent decisions.
func (db *DB) ExistingDecisionIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	return db.existingIDs(ctx, migrations.ConsentDecisions, "decision_id", sites, from, to, ids)
}

// ExistingImpressionIDs is ExistingEventIDs for banner impressions.
func (db *DB) ExistingImpressionIDs(ctx context.Context, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	return db.existingIDs(ctx, migrations.ConsentImpressions, "impression_id", sites, from, to, ids)
}

func (db *DB) existingIDs(ctx context.Context, table, col string, sites []string, from, to time.Time, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	found := make(map[uuid.UUID]bool)
	if len(ids) == 0 {
		return found, nil
	}
	strIDs := make([]string, len(ids))
	for i, id := range ids {
		strIDs[i] = id.String()
	}
	rows, err := db.conn.Query(ctx, existingIDsSQL(table, col), sites, from.UTC(), to.UTC(), strIDs)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: existing ids in %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse: existing ids in %s: %w", table, err)
		}
		found[id] = true
	}
	return found, rows.Err()
}
