package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// VisitorEvents returns the events stored under one visitor ID of a site,
// newest first, at most limit of them.
func (db *DB) VisitorEvents(ctx context.Context, site string, visitor uuid.UUID, limit int) ([]model.Event, error) {
	rows, err := db.conn.Query(ctx, selectVisitorEvents, site, visitor.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: visitor events: %w", err)
	}
	defer rows.Close()
	var out []model.Event
	for rows.Next() {
		var e model.Event
		var date time.Time
		var typ string
		if err := rows.Scan(eventTargets(&e, &date, &typ)...); err != nil {
			return nil, fmt.Errorf("clickhouse: visitor events: %w", err)
		}
		e.Type = model.EventType(typ)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VisitorConsentIDs returns the consent IDs a visitor's events were sent under.
func (db *DB) VisitorConsentIDs(ctx context.Context, site string, visitor uuid.UUID) ([]uuid.UUID, error) {
	rows, err := db.conn.Query(ctx, selectVisitorConsentIDs, site, visitor.String())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: visitor consent ids: %w", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse: visitor consent ids: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ConsentDecisions returns the recorded decisions of the given consent IDs.
func (db *DB) ConsentDecisions(ctx context.Context, site string, consentIDs []uuid.UUID) ([]model.Decision, error) {
	if len(consentIDs) == 0 {
		return nil, nil
	}
	rows, err := db.conn.Query(ctx, selectConsentDecisions, site, uuidStrings(consentIDs))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: consent decisions: %w", err)
	}
	defer rows.Close()
	var out []model.Decision
	for rows.Next() {
		d := model.Decision{SiteID: site}
		var action string
		var perf, fn, tgt, gpc uint8
		if err := rows.Scan(&d.ID, &d.Time, &d.ConsentID, &d.PolicyVersion, &d.TextsHash, &action,
			&perf, &fn, &tgt, &gpc, &d.Path, &d.Language, &d.Country, &d.Device); err != nil {
			return nil, fmt.Errorf("clickhouse: consent decisions: %w", err)
		}
		d.Action = model.Action(action)
		d.Granted = model.Categories{Performance: perf == 1, Functionality: fn == 1, Targeting: tgt == 1}
		d.GPC = gpc == 1
		out = append(out, d)
	}
	return out, rows.Err()
}

// Erase deletes what a batch of erasure requests names: each visitor's
// events, the consent records of the consents those events were sent under,
// and the consent records of the consent IDs given. It first looks up which
// of the IDs have rows, and sends at most one mutation per table, none when
// nothing matches. Mutations are accepted at once and applied by ClickHouse
// in the background.
func (db *DB) Erase(ctx context.Context, es []model.Erasure) error {
	var sites, visitors, consents []string
	for _, e := range es {
		sites = append(sites, e.SiteID)
		if e.VisitorID != uuid.Nil {
			visitors = append(visitors, eraseKey(e.VisitorID, e.SiteID))
		}
		for _, c := range e.ConsentIDs {
			consents = append(consents, eraseKey(c, e.SiteID))
		}
	}
	var events []string
	if len(visitors) > 0 {
		rows, err := db.conn.Query(ctx, selectErasableVisitors, sites, visitors)
		if err != nil {
			return fmt.Errorf("clickhouse: erase: %w", err)
		}
		seen := map[string]bool{}
		for rows.Next() {
			var key string
			var consent uuid.UUID
			if err := rows.Scan(&key, &consent); err != nil {
				rows.Close()
				return fmt.Errorf("clickhouse: erase: %w", err)
			}
			if !seen[key] {
				seen[key] = true
				events = append(events, key)
			}
			if consent != uuid.Nil {
				consents = append(consents, eraseKey(consent, key[36:]))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("clickhouse: erase: %w", err)
		}
	}
	var decisions []string
	if len(consents) > 0 {
		rows, err := db.conn.Query(ctx, selectErasableConsents, sites, consents)
		if err != nil {
			return fmt.Errorf("clickhouse: erase: %w", err)
		}
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				rows.Close()
				return fmt.Errorf("clickhouse: erase: %w", err)
			}
			decisions = append(decisions, key)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("clickhouse: erase: %w", err)
		}
	}
	if len(events) > 0 {
		if err := db.mutate(ctx, migrations.Events, eraseVisitorEvents, events); err != nil {
			return fmt.Errorf("clickhouse: erase visitor events: %w", err)
		}
	}
	if len(decisions) > 0 {
		if err := db.mutate(ctx, migrations.ConsentDecisions, eraseConsentDecisions, decisions); err != nil {
			return fmt.Errorf("clickhouse: erase consent records: %w", err)
		}
	}
	db.log.Info("erasures applied", "requests", len(es), "visitors", len(events), "consents", len(decisions))
	return nil
}

// eraseKey names one ID of one site in the erasure statements (sql.go).
func eraseKey(id uuid.UUID, site string) string { return id.String() + site }

// EnforceRetention deletes a site's events and their pre-aggregated tables
// before eventsBefore, and its consent records, impressions and their
// pre-aggregated tables before consentBefore. Nothing is sent to the server
// when there is nothing to delete.
func (db *DB) EnforceRetention(ctx context.Context, site string, eventsBefore, consentBefore time.Time) (int, error) {
	mutations := 0
	type cut struct {
		table  string
		before time.Time
	}
	var cuts []cut
	for _, t := range migrations.Retained(migrations.EventRetention) {
		cuts = append(cuts, cut{t, eventsBefore})
	}
	for _, t := range migrations.Retained(migrations.ConsentRetention) {
		cuts = append(cuts, cut{t, consentBefore})
	}
	for _, t := range cuts {
		var n uint64
		row := db.conn.QueryRow(ctx, countBeforeSQL(t.table), site, t.before.UTC())
		if err := row.Scan(&n); err != nil {
			return mutations, fmt.Errorf("clickhouse: retention %s: %w", t.table, err)
		}
		if n == 0 {
			continue
		}
		if err := db.mutate(ctx, t.table, deleteBefore, site, t.before.UTC()); err != nil {
			return mutations, fmt.Errorf("clickhouse: retention %s: %w", t.table, err)
		}
		mutations++
	}
	return mutations, nil
}

// mutate runs ALTER TABLE table <mutation> (alterSQL). In cluster mode the
// mutation goes to the shard-local tables ON CLUSTER; a server that is down
// applies it from the distributed DDL queue when it is back, so a timeout
// waiting for it is logged, not returned.
func (db *DB) mutate(ctx context.Context, table, mutation string, args ...any) error {
	q, err := alterSQL(db.Target(), table, mutation)
	if err != nil {
		return err
	}
	if db.cluster == "" {
		return db.conn.Exec(ctx, q, args...)
	}
	ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"distributed_ddl_task_timeout": db.signedSetting(5)}))
	err = db.conn.Exec(ctx, q, args...)
	var ex *ch.Exception
	if errors.As(err, &ex) && ex.Code == 159 { // TIMEOUT_EXCEEDED
		db.log.Warn("mutation queued for servers that did not answer", "table", table, "err", err)
		return nil
	}
	return err
}

// PendingMutations counts the mutations not yet applied, so that tests and
// operators can wait for an erasure to finish.
func (db *DB) PendingMutations(ctx context.Context) (int, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, selectPendingMutations, db.database).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: mutations: %w", err)
	}
	return int(n), nil
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
