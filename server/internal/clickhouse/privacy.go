package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// VisitorEvents returns the events stored under one visitor ID of a site,
// newest first, at most limit of them.
func (db *DB) VisitorEvents(ctx context.Context, site string, visitor uuid.UUID, limit int) ([]model.Event, error) {
	rows, err := db.conn.Query(ctx, selectVisitorEvents, site, site, visitor.String(), visitor.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: visitor events: %w", err)
	}
	defer rows.Close()
	var out []model.Event
	for rows.Next() {
		var e model.Event
		var date time.Time
		var typ string
		var gpc uint8
		if err := rows.Scan(eventTargets(&e, &date, &typ, &gpc)...); err != nil {
			return nil, fmt.Errorf("clickhouse: visitor events: %w", err)
		}
		e.Type, e.GPC = model.EventType(typ), gpc == 1
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

// ConsentVisitors returns the visitor IDs whose events were sent under
// consent.
func (db *DB) ConsentVisitors(ctx context.Context, site string, consent uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := db.consentVisitors(ctx, []string{consent.String()}, []string{site}, func(v uuid.UUID, _ string) { out = append(out, v) })
	return out, err
}

// consentVisitors calls each with every visitor ID (and its site) whose
// events were sent under one of consentIDs, on one of sites.
func (db *DB) consentVisitors(ctx context.Context, consentIDs, sites []string, each func(v uuid.UUID, site string)) error {
	rows, err := db.conn.Query(ctx, selectConsentVisitors, consentIDs, sites)
	if err != nil {
		return fmt.Errorf("clickhouse: consent visitors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uuid.UUID
		var site string
		if err := rows.Scan(&v, &site); err != nil {
			return fmt.Errorf("clickhouse: consent visitors: %w", err)
		}
		each(v, site)
	}
	return rows.Err()
}

// ConsentDecisions returns the recorded decisions of the given consent
// IDs, in the order they were made.
func (db *DB) ConsentDecisions(ctx context.Context, site string, consentIDs []uuid.UUID) ([]model.Decision, error) {
	if len(consentIDs) == 0 {
		return nil, nil
	}
	ids := uuidStrings(consentIDs)
	rows, err := db.conn.Query(ctx, selectConsentDecisions, site, site, ids, ids)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: consent decisions: %w", err)
	}
	defer rows.Close()
	var out []model.Decision
	for rows.Next() {
		d := model.Decision{SiteID: site}
		var action, gpcSource string
		var perf, fn, tgt, gpc uint8
		var ms uint64
		if err := rows.Scan(&d.ID, &d.Time, &ms, &d.Seq, &d.ConsentID, &d.PolicyVersion, &d.TextsHash, &action,
			&perf, &fn, &tgt, &gpc, &gpcSource, &d.Path, &d.Language, &d.Country, &d.Device); err != nil {
			return nil, fmt.Errorf("clickhouse: consent decisions: %w", err)
		}
		d.Time = time.UnixMilli(int64(ms)).UTC()
		d.Action = model.Action(action)
		d.Granted = model.Categories{Performance: perf == 1, Functionality: fn == 1, Targeting: tgt == 1}
		d.GPC, d.GPCSource = gpc == 1, model.GPCSource(gpcSource)
		out = append(out, d)
	}
	return out, rows.Err()
}

// erasureBatch is what a batch of erasure requests deletes: row keys
// (eraseKey) and the days they are on, and the site|day keys of the
// pre-aggregated rows to rebuild.
type erasureBatch struct {
	visitors, consents             []string
	visitorDays, consentDays       []string
	trafficRebuild, consentRebuild map[string]map[string]bool // site → days
}

// Erase carries out a batch of erasure requests: each visitor's events, the
// consent records of the consents those events were sent under, and the
// consent records of the consent IDs given, then the pre-aggregated rows
// of every day those rows were on, rebuilt from what remains. It looks the
// IDs up by key first: an ID without rows costs nothing, and each table
// gets at most one mutation per batch. It returns once the rows are gone
// and the days rebuilt, and records each request complete.
//
// The buffer calls Erase between its inserts, so that no row of this node
// is inserted while a day is rebuilt. In cluster mode rows that another
// node inserts for a rebuilt day during its rebuild (a fraction of a
// second) can be counted twice in that day's pre-aggregated rows.
func (db *DB) Erase(ctx context.Context, es []model.Erasure) error {
	b, err := db.erasureBatch(ctx, es)
	if err != nil {
		return err
	}
	start := time.Now()
	if len(b.visitors) > 0 {
		if err := db.mutate(ctx, migrations.Events, eraseVisitorEvents, b.visitorDays, b.visitors); err != nil {
			return fmt.Errorf("clickhouse: erase visitor events: %w", err)
		}
		if err := db.mutate(ctx, migrations.VisitorIndex, eraseVisitorIndex, b.visitors); err != nil {
			return fmt.Errorf("clickhouse: erase visitor index: %w", err)
		}
	}
	if len(b.consents) > 0 {
		// An erased consent's tokens stop too.
		revs := make([]revocation, 0, len(b.consents))
		for _, k := range b.consents {
			revs = append(revs, revocation{site: k[36:], id: uuid.MustParse(k[:36]), at: start})
		}
		if err := db.insertRevocations(ctx, revs); err != nil {
			return err
		}
		if err := db.mutate(ctx, migrations.ConsentDecisions, eraseConsentDecisions, b.consentDays, b.consents); err != nil {
			return fmt.Errorf("clickhouse: erase consent records: %w", err)
		}
		if err := db.mutate(ctx, migrations.ConsentIndex, eraseConsentIndex, b.consents); err != nil {
			return fmt.Errorf("clickhouse: erase consent index: %w", err)
		}
	}
	if len(b.visitors) > 0 {
		if err := db.waitZero(ctx, countErasedEvents, b.visitorDays, b.visitors); err != nil {
			return fmt.Errorf("clickhouse: erase visitor events: %w", err)
		}
	}
	if len(b.consents) > 0 {
		if err := db.waitZero(ctx, countErasedDecisions, b.consentDays, b.consents); err != nil {
			return fmt.Errorf("clickhouse: erase consent records: %w", err)
		}
	}
	if err := db.rebuild(ctx, migrations.TrafficStateTables, migrations.TrafficDayTables, b.trafficRebuild); err != nil {
		return err
	}
	// The merged windows of the sites go too (their visitors, their
	// decisions' times); they are sealed again.
	var sites []string
	for _, days := range []map[string]map[string]bool{b.trafficRebuild, b.consentRebuild} {
		for site := range days {
			if !slices.Contains(sites, site) {
				sites = append(sites, site)
			}
		}
	}
	if len(sites) > 0 {
		for _, t := range migrations.WindowTables {
			if err := db.mutate(ctx, t, deleteSiteWindows, sites); err != nil {
				return fmt.Errorf("clickhouse: erase windows: %w", err)
			}
		}
		for _, t := range migrations.WindowTables {
			if err := db.waitZero(ctx, fmt.Sprintf(countSiteWindows, t), sites); err != nil {
				return fmt.Errorf("clickhouse: erase windows: %w", err)
			}
		}
	}
	if err := db.rebuild(ctx, migrations.ConsentStateTables, migrations.ConsentDayTables, b.consentRebuild); err != nil {
		return err
	}
	if err := db.recordErasures(ctx, es, "complete"); err != nil {
		return err
	}
	db.log.Info("erasures applied", "requests", len(es), "visitors", len(b.visitors), "consents", len(b.consents),
		"days_rebuilt", countDays(b.trafficRebuild)+countDays(b.consentRebuild), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// erasureBatch looks the batch's IDs up in the indexes.
func (db *DB) erasureBatch(ctx context.Context, es []model.Erasure) (*erasureBatch, error) {
	b := &erasureBatch{trafficRebuild: map[string]map[string]bool{}, consentRebuild: map[string]map[string]bool{}}
	var sites, visitorIDs, consentIDs []string
	want := map[string]bool{}
	for _, e := range es {
		sites = append(sites, e.SiteID)
		if e.VisitorID != uuid.Nil {
			visitorIDs = append(visitorIDs, e.VisitorID.String())
			want[eraseKey(e.VisitorID, e.SiteID)] = true
		}
		for _, c := range e.ConsentIDs {
			consentIDs = append(consentIDs, c.String())
			want[eraseKey(c, e.SiteID)] = true
		}
	}
	add := func(m map[string]map[string]bool, site, day string) {
		if m[site] == nil {
			m[site] = map[string]bool{}
		}
		m[site][day] = true
	}
	// The visitors of the erased consents go too: a visitor who withdrew
	// asks with the consent alone, the visitor ID gone from the browser.
	// Looked up now, when the events queued before the request are stored.
	if len(consentIDs) > 0 {
		err := db.consentVisitors(ctx, consentIDs, sites, func(v uuid.UUID, site string) {
			if k := eraseKey(v, site); !want[k] {
				want[k] = true
				visitorIDs = append(visitorIDs, v.String())
			}
		})
		if err != nil {
			return nil, fmt.Errorf("clickhouse: erase: %w", err)
		}
	}
	if len(visitorIDs) > 0 {
		rows, err := db.conn.Query(ctx, selectErasableVisitors, sites, visitorIDs)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: erase: %w", err)
		}
		seen, days := map[string]bool{}, map[string]bool{}
		for rows.Next() {
			var key, day string
			var consent uuid.UUID
			if err := rows.Scan(&key, &day, &consent); err != nil {
				rows.Close()
				return nil, fmt.Errorf("clickhouse: erase: %w", err)
			}
			if !want[key] {
				continue // another site's visitor with the same ID
			}
			site := key[36:]
			if !seen[key] {
				seen[key] = true
				b.visitors = append(b.visitors, key)
			}
			if !days[day] {
				days[day] = true
				b.visitorDays = append(b.visitorDays, day)
			}
			add(b.trafficRebuild, site, day)
			if consent != uuid.Nil {
				consentIDs = append(consentIDs, consent.String())
				want[eraseKey(consent, site)] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("clickhouse: erase: %w", err)
		}
	}
	if len(consentIDs) > 0 {
		rows, err := db.conn.Query(ctx, selectErasableConsents, sites, consentIDs)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: erase: %w", err)
		}
		seen, days := map[string]bool{}, map[string]bool{}
		for rows.Next() {
			var key, day string
			if err := rows.Scan(&key, &day); err != nil {
				rows.Close()
				return nil, fmt.Errorf("clickhouse: erase: %w", err)
			}
			if !want[key] {
				continue
			}
			if !seen[key] {
				seen[key] = true
				b.consents = append(b.consents, key)
			}
			if !days[day] {
				days[day] = true
				b.consentDays = append(b.consentDays, day)
			}
			add(b.consentRebuild, key[36:], day)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("clickhouse: erase: %w", err)
		}
	}
	return b, nil
}

// rebuild deletes the pre-aggregated rows of tables on the given sites'
// days (one mutation per table) and, once they are gone, fills them again
// from the source rows (migrations.Rebuilds). The days' seals (dayTables)
// are deleted too; SealDays seals them again.
func (db *DB) rebuild(ctx context.Context, tables, dayTables []string, days map[string]map[string]bool) error {
	if len(days) == 0 {
		return nil
	}
	var keys []string
	for site, ds := range days {
		for d := range ds {
			keys = append(keys, site+"|"+d)
		}
	}
	stmts, err := migrations.Rebuilds(db.Target(), tables)
	if err != nil {
		return err
	}
	deleted := append(slices.Clone(tables), dayTables...)
	for _, t := range deleted {
		if err := db.mutate(ctx, t, deleteAggregateDays, keys); err != nil {
			return fmt.Errorf("clickhouse: rebuild %s: %w", t, err)
		}
	}
	for _, t := range deleted {
		if err := db.waitZero(ctx, fmt.Sprintf(countAggregateDays, t), keys); err != nil {
			return fmt.Errorf("clickhouse: rebuild %s: %w", t, err)
		}
	}
	for _, t := range tables {
		for site, ds := range days {
			list := make([]string, 0, len(ds))
			for d := range ds {
				list = append(list, d)
			}
			for _, st := range stmts[t] {
				if err := db.conn.Exec(db.insertContext(ctx), st, site, list); err != nil {
					return fmt.Errorf("clickhouse: rebuild %s: %w", t, err)
				}
			}
		}
	}
	return nil
}

// waitZero polls a count until it is zero: a mutation is done (on every
// shard, since the count reads through the Distributed table).
func (db *DB) waitZero(ctx context.Context, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, MutationTimeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		var n uint64
		if err := db.conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d rows still there after %s: %w", n, MutationTimeout, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// MutationTimeout bounds how long an erasure waits for its mutations.
const MutationTimeout = 2 * time.Minute

func countDays(m map[string]map[string]bool) int {
	n := 0
	for _, ds := range m {
		n += len(ds)
	}
	return n
}

// ErasureHash is how erasure requests name an ID: a one-way hash of site
// and ID, so that the state of a request can be looked up by the ID
// without keeping the ID.
func ErasureHash(site string, id uuid.UUID) string {
	h := sha256.Sum256([]byte("crumb erasure v1\x00" + site + "\x00" + id.String()))
	return hex.EncodeToString(h[:16])
}

func erasureHashes(e model.Erasure) []string {
	var out []string
	if e.VisitorID != uuid.Nil {
		out = append(out, ErasureHash(e.SiteID, e.VisitorID))
	}
	for _, c := range e.ConsentIDs {
		out = append(out, ErasureHash(e.SiteID, c))
	}
	return out
}

// RecordErasures records requests as pending (when queued) or complete.
func (db *DB) RecordErasures(ctx context.Context, es []model.Erasure) error {
	return db.recordErasures(ctx, es, "pending")
}

func (db *DB) recordErasures(ctx context.Context, es []model.Erasure, state string) error {
	batch, err := db.conn.PrepareBatch(db.insertContext(ctx), insertErasureRequest)
	if err != nil {
		return fmt.Errorf("clickhouse: erasure requests: %w", err)
	}
	now := time.Now().UTC()
	for _, e := range es {
		completed := time.Unix(0, 0).UTC()
		if state == "complete" {
			completed = now
		}
		for _, h := range erasureHashes(e) {
			if err := batch.Append(e.SiteID, h, uint64(now.UnixNano()), state, e.Time.UTC(), completed, e.Time.UTC()); err != nil {
				return fmt.Errorf("clickhouse: erasure requests: %w", err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: erasure requests: %w", err)
	}
	return nil
}

// ErasureStates returns the newest state of the erasure requests of the
// given IDs of a site, by ID.
func (db *DB) ErasureStates(ctx context.Context, site string, ids []uuid.UUID) (map[uuid.UUID]model.ErasureState, error) {
	byHash := map[string]uuid.UUID{}
	var hashes []string
	for _, id := range ids {
		h := ErasureHash(site, id)
		byHash[h] = id
		hashes = append(hashes, h)
	}
	out := map[uuid.UUID]model.ErasureState{}
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := db.conn.Query(ctx, selectErasureState, site, hashes)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: erasure state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		var st model.ErasureState
		if err := rows.Scan(&h, &st.State, &st.RequestedAt, &st.CompletedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: erasure state: %w", err)
		}
		if st.State != "complete" {
			st.CompletedAt = time.Time{}
		}
		out[byHash[h]] = st
	}
	return out, rows.Err()
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
	for _, t := range migrations.Retained(migrations.ErasureLogRetention) {
		cuts = append(cuts, cut{t, time.Now().UTC().AddDate(0, 0, -migrations.ErasureLogDays)})
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
