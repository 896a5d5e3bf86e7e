package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/model"
)

// eventColumnValues returns the events as one slice per column of
// eventCols (sql.go), for a columnar insert.
func eventColumnValues(events []model.Event) []any {
	n := len(events)
	strs := func(f func(e *model.Event) string) []string {
		out := make([]string, n)
		for i := range events {
			out[i] = f(&events[i])
		}
		return out
	}
	ids := func(f func(e *model.Event) uuid.UUID) []uuid.UUID {
		out := make([]uuid.UUID, n)
		for i := range events {
			out[i] = f(&events[i])
		}
		return out
	}
	props := func(f func(e *model.Event) []string) [][]string {
		out := make([][]string, n)
		for i := range events {
			if out[i] = f(&events[i]); out[i] == nil {
				out[i] = []string{}
			}
		}
		return out
	}
	ts := make([]time.Time, n)
	asn, duration, status := make([]uint32, n), make([]uint32, n), make([]uint16, n)
	gpc := make([]uint8, n)
	for i := range events {
		e := &events[i]
		ts[i], asn[i], duration[i], status[i], gpc[i] = e.Time.UTC(), e.ASN, e.DurationMS, e.Status, boolU8(e.GPC)
	}
	return []any{
		strs(func(e *model.Event) string { return e.SiteID }), ts, ts,
		ids(func(e *model.Event) uuid.UUID { return e.ID }),
		strs(func(e *model.Event) string { return string(e.Type) }),
		ids(func(e *model.Event) uuid.UUID { return e.VisitorID }),
		ids(func(e *model.Event) uuid.UUID { return e.SessionID }),
		ids(func(e *model.Event) uuid.UUID { return e.ConsentID }),
		strs(func(e *model.Event) string { return e.Hostname }),
		strs(func(e *model.Event) string { return e.Path }),
		strs(func(e *model.Event) string { return e.ReferrerHost }),
		strs(func(e *model.Event) string { return e.ReferrerPath }),
		strs(func(e *model.Event) string { return e.Source }),
		strs(func(e *model.Event) string { return e.Channel }),
		strs(func(e *model.Event) string { return e.UTMSource }),
		strs(func(e *model.Event) string { return e.UTMMedium }),
		strs(func(e *model.Event) string { return e.UTMCampaign }),
		strs(func(e *model.Event) string { return e.UTMContent }),
		strs(func(e *model.Event) string { return e.UTMTerm }),
		strs(func(e *model.Event) string { return e.Country }),
		strs(func(e *model.Event) string { return e.Region }),
		strs(func(e *model.Event) string { return e.City }),
		asn,
		strs(func(e *model.Event) string { return e.Provider }),
		strs(func(e *model.Event) string { return e.Browser }),
		strs(func(e *model.Event) string { return e.BrowserVersion }),
		strs(func(e *model.Event) string { return e.OS }),
		strs(func(e *model.Event) string { return e.OSVersion }),
		strs(func(e *model.Event) string { return e.Device }),
		strs(func(e *model.Event) string { return e.Screen }),
		strs(func(e *model.Event) string { return e.Language }),
		strs(func(e *model.Event) string { return e.Name }),
		props(func(e *model.Event) []string { return e.PropKeys }),
		props(func(e *model.Event) []string { return e.PropValues }),
		strs(func(e *model.Event) string { return e.SearchTerm }),
		strs(func(e *model.Event) string { return e.LinkURL }),
		duration, status, gpc,
		strs(func(e *model.Event) string { return e.DomainType }),
		strs(func(e *model.Event) string { return e.DomainSuffix }),
		strs(func(e *model.Event) string { return e.DomainSource }),
	}
}

// eventTargets scans the columns of eventCols into an event.
func eventTargets(e *model.Event, date *time.Time, typ *string, gpc *uint8) []any {
	return []any{
		&e.SiteID, date, &e.Time, &e.ID, typ, &e.VisitorID, &e.SessionID, &e.ConsentID,
		&e.Hostname, &e.Path, &e.ReferrerHost, &e.ReferrerPath, &e.Source, &e.Channel,
		&e.UTMSource, &e.UTMMedium, &e.UTMCampaign, &e.UTMContent, &e.UTMTerm,
		&e.Country, &e.Region, &e.City, &e.ASN, &e.Provider,
		&e.Browser, &e.BrowserVersion, &e.OS, &e.OSVersion, &e.Device, &e.Screen, &e.Language,
		&e.Name, &e.PropKeys, &e.PropValues, &e.SearchTerm, &e.LinkURL, &e.DurationMS, &e.Status, gpc,
		&e.DomainType, &e.DomainSuffix, &e.DomainSource,
	}
}

// decisionValues is a decision as the columns of insertDecisions.
func decisionValues(d *model.Decision) []any {
	ts := d.Time.UTC()
	return []any{
		d.SiteID, ts, ts, uint64(ts.UnixMilli()), d.Seq, d.ID, d.ConsentID, d.PolicyVersion, d.TextsHash, string(d.Action),
		boolU8(d.Granted.Performance), boolU8(d.Granted.Functionality), boolU8(d.Granted.Targeting),
		boolU8(d.GPC), string(d.GPCSource), d.Path, d.Language, d.Country, d.Device, d.DecisionMS,
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

// InsertEvents writes events in one batch. The rows go in column by column:
// appending row by row boxes every value.
func (db *DB) InsertEvents(ctx context.Context, events []model.Event) error {
	if len(events) == 0 {
		return nil
	}
	b, err := db.conn.PrepareBatch(db.insertContext(ctx), insertEvents)
	if err != nil {
		return fmt.Errorf("clickhouse: insert events: %w", err)
	}
	for i, col := range eventColumnValues(events) {
		if err := appendColumn(b.Column(i), col); err != nil {
			_ = b.Abort()
			return fmt.Errorf("clickhouse: insert events column %s: %w", strings.Split(eventCols, ", ")[i], err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert events: %w", err)
	}
	return nil
}

// appendColumn appends one column's values; arrays go in row by row, which
// the driver does without reflection.
func appendColumn(c driver.BatchColumn, values any) error {
	rows, ok := values.([][]string)
	if !ok {
		return c.Append(values)
	}
	for _, r := range rows {
		if err := c.AppendRow(r); err != nil {
			return err
		}
	}
	return nil
}

// InsertDecisions writes consent decisions in one batch, and a revocation
// for each that revokes its consent's earlier tokens (written first: a
// revocation without its decision, after a failure, stops tokens a moment
// early; the reverse would keep them valid).
func (db *DB) InsertDecisions(ctx context.Context, ds []model.Decision) error {
	var revs []revocation
	for i := range ds {
		if ds[i].Revokes {
			revs = append(revs, revocation{ds[i].SiteID, ds[i].ConsentID, ds[i].Time})
		}
	}
	if err := db.insertRevocations(ctx, revs); err != nil {
		return err
	}
	return insert(ctx, db, migrations.ConsentDecisions, insertDecisions, len(ds), func(i int) []any { return decisionValues(&ds[i]) })
}

// revocation stops a consent's tokens issued up to at.
type revocation struct {
	site string
	id   uuid.UUID
	at   time.Time
}

func (db *DB) insertRevocations(ctx context.Context, revs []revocation) error {
	return insert(ctx, db, migrations.ConsentRevocations, insertRevocation, len(revs), func(i int) []any {
		r := revs[i]
		return []any{r.site, consent.RevocationHash(r.site, r.id), uint64(r.at.UnixMilli()), r.at.UTC()}
	})
}

// Revocations returns the revocations inserted since a time (by the
// server's clock): the newest time per consent, by its RevocationHash.
func (db *DB) Revocations(ctx context.Context, insertedSince time.Time) (map[string]time.Time, error) {
	rows, err := db.conn.Query(ctx, selectRevocations, insertedSince.UTC())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: revocations: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var hash string
		var ms uint64
		if err := rows.Scan(&hash, &ms); err != nil {
			return nil, fmt.Errorf("clickhouse: revocations: %w", err)
		}
		out[hash] = time.UnixMilli(int64(ms)).UTC()
	}
	return out, rows.Err()
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
	if err := db.waitInserts(ctx); err != nil {
		return nil, err
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
