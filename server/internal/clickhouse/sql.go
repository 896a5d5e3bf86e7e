package clickhouse

import (
	"fmt"
	"strings"

	"github.com/crumbhq/crumb/migrations"
)

// Every statement the store sends, in one place; the migrations' own
// statements are the SQL files of package migrations.
//
// Table names come from the registry (migrations/tables.go). Reads and
// inserts name a table as registered, unqualified: the connection is in the
// store's database, and in cluster mode that name is the Distributed table
// over the shards (or, for configuration, the full copy on every server).
// Mutations go to the table that holds the rows on each server,
// migrations.Target.Local, ON CLUSTER in cluster mode (see alterSQL).
//
// Arguments are bound to the ? placeholders by the driver; times are bound
// as time.Time, lists as Array(String).

// Writes: the batch inserts of the ingest buffer and the duplicate checks
// of a retried batch.

// Column lists, in the order eventValues, decisionValues and
// impressionValues produce the values (and eventTargets reads them back).
const (
	eventCols = "site_id, date, ts, event_id, type, visitor_id, session_id, consent_id, " +
		"hostname, path, referrer_host, referrer_path, source, channel, " +
		"utm_source, utm_medium, utm_campaign, utm_content, utm_term, " +
		"country, region, city, asn, provider, " +
		"browser, browser_version, os, os_version, device, screen, language, " +
		"name, prop_keys, prop_values, search_term, link_url, duration_ms, status, gpc, " +
		"domain_type, domain_suffix, domain_source"
	decisionCols = "site_id, date, ts, ts_ms, seq, decision_id, consent_id, policy_version, texts_hash, action, " +
		"performance, functionality, targeting, gpc, gpc_source, path, language, country, device, decision_ms"
	impressionCols = "site_id, date, ts, impression_id, policy_version, path, language, country, device, gpc, undeclared_cookies"
)

const (
	insertEvents      = "INSERT INTO " + migrations.Events + " (" + eventCols + ")"
	insertDecisions   = "INSERT INTO " + migrations.ConsentDecisions + " (" + decisionCols + ")"
	insertImpressions = "INSERT INTO " + migrations.ConsentImpressions + " (" + impressionCols + ")"
)

// existingIDsSQL selects which of a list of IDs (column col) table holds
// for a list of sites between two dates. The lists are subqueries over
// arrayJoin, which 18.16 and current servers read alike.
func existingIDsSQL(table, col string) string {
	return fmt.Sprintf(`SELECT %s FROM %s WHERE site_id IN (SELECT arrayJoin(?)) AND date >= toDate(?) AND date <= toDate(?) AND %s IN (SELECT toUUID(arrayJoin(?)))`,
		col, table, col)
}

// Configuration: every change is an insert of a new version; reads keep
// the newest (FINAL), deleted ones left out.

const (
	insertSite = "INSERT INTO " + migrations.Sites + " (site_id, version, deleted, domain, name, extra_domains, policy_version, " +
		"consent_lifetime_days, retention_months, consent_retention_months, k, search_params, " +
		"anonymous_counting, banner, goals, funnels, alerts, created_at, updated_at)"
	insertUser              = "INSERT INTO " + migrations.Users + " (email, version, deleted, password_hash, role, site_roles, created_at, updated_at)"
	insertToken             = "INSERT INTO " + migrations.APITokens + " (token_id, version, revoked, token_hash, name, site_id, created_at, updated_at)"
	insertShareLink         = "INSERT INTO " + migrations.ShareLinks + " (share_id, version, revoked, site_id, name, created_at, updated_at)"
	insertBannerVersion     = "INSERT INTO " + migrations.BannerVersions + " (site_id, texts_hash, policy_version, language, config, first_seen)"
	selectBannerVersionKeys = "SELECT DISTINCT site_id, texts_hash, policy_version FROM " + migrations.BannerVersions

	selectSites = `SELECT site_id, domain, name, extra_domains, policy_version,
		consent_lifetime_days, retention_months, consent_retention_months, k, search_params,
		anonymous_counting, banner, goals, funnels, alerts, created_at, updated_at
		FROM ` + migrations.Sites + ` FINAL WHERE deleted = 0 ORDER BY created_at, site_id`
	selectUsers      = `SELECT email, password_hash, role, site_roles, created_at FROM ` + migrations.Users + ` FINAL WHERE deleted = 0 ORDER BY email`
	selectTokens     = `SELECT token_id, token_hash, name, site_id, revoked, created_at FROM ` + migrations.APITokens + ` FINAL ORDER BY created_at`
	selectShareLinks = `SELECT share_id, site_id, name, revoked, created_at FROM ` + migrations.ShareLinks + ` FINAL ORDER BY created_at`
)

// Sessions: a login inserts one, a revocation a new version of it with
// revoked = 1. Reads of live sessions bind the current time.

const (
	insertSession = "INSERT INTO " + migrations.Sessions + " (session_id, version, revoked, email, secret_hash, created_at, expires_at, updated_at)"

	sessionCols        = "session_id, email, secret_hash, revoked, created_at, expires_at"
	selectLiveSessions = `SELECT ` + sessionCols + ` FROM ` + migrations.Sessions +
		` FINAL WHERE revoked = 0 AND expires_at > ? ORDER BY created_at, session_id`
	selectUserSessions = `SELECT ` + sessionCols + ` FROM ` + migrations.Sessions +
		` FINAL WHERE email = ? AND revoked = 0 AND expires_at > ? ORDER BY created_at, session_id`
	selectSession = `SELECT ` + sessionCols + ` FROM ` + migrations.Sessions + ` FINAL WHERE session_id = ?`
)

// Privacy: a visitor's data for export, its erasure and retention. A
// visitor's days and consents come from visitor_index, a consent's days
// from consent_index (both keyed by site and ID), so that the events and
// decisions are read by their primary keys; reads in two steps, since a
// subquery over a Distributed table would run on every shard.

const (
	zeroUUID = "toUUID('00000000-0000-0000-0000-000000000000')"

	// A visitor's own rows, found by key: the days of the visitor's (of
	// the consents') rows from the indexes, in the same statement.
	selectVisitorEvents = "SELECT " + eventCols + " FROM " + migrations.Events +
		" WHERE site_id = ? AND date IN (SELECT date FROM " + migrations.VisitorIndex + " WHERE site_id = ? AND visitor_id = toUUID(?))" +
		" AND visitor_id = toUUID(?) ORDER BY ts DESC LIMIT ?"
	selectVisitorConsentIDs = `SELECT DISTINCT consent_id FROM ` + migrations.VisitorIndex +
		` WHERE site_id = ? AND visitor_id = toUUID(?) AND consent_id != ` + zeroUUID
	// The visitor IDs whose events were sent under consents: a visitor who
	// withdrew holds the consent (ID and key) but no longer the visitor
	// ID. The index sorts by visitor: the consent column is read first.
	selectConsentVisitors = `SELECT DISTINCT visitor_id, site_id FROM ` + migrations.VisitorIndex +
		` PREWHERE consent_id IN (SELECT toUUID(arrayJoin(?))) WHERE site_id IN (SELECT arrayJoin(?))`
	selectConsentDecisions = `SELECT decision_id, ts, ts_ms, seq, consent_id, policy_version, texts_hash, toString(action),
		performance, functionality, targeting, gpc, gpc_source, path, language, country, device
		FROM ` + migrations.ConsentDecisions + ` WHERE site_id = ?
		AND date IN (SELECT date FROM ` + migrations.ConsentIndex + ` WHERE site_id = ? AND consent_id IN (SELECT toUUID(arrayJoin(?))))
		AND consent_id IN (SELECT toUUID(arrayJoin(?))) ORDER BY seq, ts_ms, decision_id`

	// What a batch of erasures deletes, so that an ID without rows costs
	// no mutation: the visitors' days and the consents their events were
	// sent under, and the consents' days. Keys are the ID as text (36
	// characters) followed by the site ID, which no other pair of ID and
	// site spells.
	selectErasableVisitors = `SELECT concat(toString(visitor_id), site_id) AS k, toString(date), consent_id FROM ` + migrations.VisitorIndex +
		` WHERE site_id IN (SELECT arrayJoin(?)) AND visitor_id IN (SELECT toUUID(arrayJoin(?))) GROUP BY k, date, consent_id`
	selectErasableConsents = `SELECT concat(toString(consent_id), site_id) AS k, toString(date) FROM ` + migrations.ConsentIndex +
		` WHERE site_id IN (SELECT arrayJoin(?)) AND consent_id IN (SELECT toUUID(arrayJoin(?))) GROUP BY k, date`
	// The rows of a batch not deleted yet (the batch is done at zero).
	countErasedEvents = `SELECT count() FROM ` + migrations.Events +
		` WHERE date IN (SELECT toDate(arrayJoin(?))) AND has(?, concat(toString(visitor_id), site_id))`
	countErasedDecisions = `SELECT count() FROM ` + migrations.ConsentDecisions +
		` WHERE date IN (SELECT toDate(arrayJoin(?))) AND has(?, concat(toString(consent_id), site_id))`

	// The mutations, run by alterSQL on the table named with them. They
	// name rows by a literal list, not a subquery: replicated tables on
	// current ClickHouse accept only deterministic mutations.
	eraseVisitorEvents    = `DELETE WHERE date IN (SELECT toDate(arrayJoin(?))) AND has(?, concat(toString(visitor_id), site_id))` // on Events
	eraseVisitorIndex     = `DELETE WHERE has(?, concat(toString(visitor_id), site_id))`                                           // on VisitorIndex
	eraseConsentDecisions = `DELETE WHERE date IN (SELECT toDate(arrayJoin(?))) AND has(?, concat(toString(consent_id), site_id))` // on ConsentDecisions
	eraseConsentIndex     = `DELETE WHERE has(?, concat(toString(consent_id), site_id))`                                           // on ConsentIndex
	// The pre-aggregated rows of a batch's days, keyed site|YYYY-MM-DD,
	// before their rebuild (migrations.Rebuilds).
	deleteAggregateDays = `DELETE WHERE has(?, concat(site_id, '|', toString(date)))`
	countAggregateDays  = `SELECT count() FROM %s WHERE has(?, concat(site_id, '|', toString(date)))`
	deleteBefore        = "DELETE WHERE site_id = ? AND date < toDate(?)" // retention, on every retained table

	// Sealed days (SealDays): the live count of a site's days, the count
	// their seals were taken at, and the seal of some days, from the exact
	// states of the pre-aggregated tables.
	selectLiveDayEvents = `SELECT toString(date), toUInt64(sum(event_count)) FROM ` + migrations.ReportDaily +
		` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) GROUP BY date`
	selectSealedDayEvents = `SELECT toString(date), d.3 FROM (SELECT date, argMax((visitors, visits, events), sealed_ms) AS d FROM ` +
		migrations.ReportDayVisitors + ` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) GROUP BY date)`
	sealVisitorDays = `INSERT INTO ` + migrations.ReportDayVisitors + ` (site_id, date, visitors, visits, events, sealed_ms)
		SELECT site_id, date, toUInt64(uniqExactIfMerge(visitors)), toUInt64(uniqExactIfMerge(sessions)), toUInt64(sum(event_count)), toUInt64(?)
		FROM ` + migrations.ReportDaily + ` WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?))) GROUP BY site_id, date`
	// Sealed windows (SealWindows): a window's event count, whether a seal
	// with it exists, and the seal itself, dims first, daily last (its
	// row marks the seal complete).
	selectWindowEvents = `SELECT toUInt64(sum(event_count)) FROM ` + migrations.ReportDaily +
		` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?)`
	selectWindowSealed = `SELECT count() FROM ` + migrations.ReportDailyWindow +
		` WHERE site_id = ? AND date = toDate(?) AND days = ? AND events = ?`
	sealDimsWindow = `INSERT INTO ` + migrations.ReportDimsWindow + ` (site_id, date, days, sealed_ms, dim, value, visitors_k, visitors_est, sessions_est,
		pageviews, anon_pageviews, engaged_ms, engagements, event_count)
		SELECT site_id, toDate(?), toUInt16(?), toUInt64(?), dim, value, uniqUpToIfMergeState(25)(visitors_k), uniqHLL12IfMergeState(visitors_est),
		uniqHLL12IfMergeState(sessions_est), sum(pageviews), sum(anon_pageviews), sum(engaged_ms), sum(engagements), sum(event_count)
		FROM ` + migrations.ReportDims + ` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) GROUP BY site_id, dim, value`
	sealDailyWindow = `INSERT INTO ` + migrations.ReportDailyWindow + ` (site_id, date, days, sealed_ms, events, visitors_est, sessions_est,
		pageviews, anon_pageviews, engaged_ms, engagements, event_count)
		SELECT site_id, toDate(?), toUInt16(?), toUInt64(?), toUInt64(sum(event_count)), uniqCombinedIfMergeState(visitors_est),
		uniqCombinedIfMergeState(sessions_est), sum(pageviews), sum(anon_pageviews), sum(engaged_ms), sum(engagements), sum(event_count)
		FROM ` + migrations.ReportDaily + ` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) GROUP BY site_id`
	// Windows no longer read, and every window of the erased sites.
	countOldWindows        = `SELECT count() FROM %s WHERE site_id = ? AND date < toDate(?)`
	deleteOldWindows       = `DELETE WHERE site_id = ? AND date < toDate(?)`
	deleteSiteWindows      = `DELETE WHERE has(?, site_id)`
	countSiteWindows       = `SELECT count() FROM %s WHERE has(?, site_id)`
	selectLiveDayDecisions = `SELECT toString(date), toUInt64(sum(n_decisions)) FROM ` + migrations.ReportConsentDecisions +
		` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) AND dim = 'all' GROUP BY date`
	selectSealedDayDecisions = `SELECT toString(date), d.2 FROM (SELECT date, argMax((consents, decisions), sealed_ms) AS d FROM ` +
		migrations.ReportDayConsents + ` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) GROUP BY date)`
	sealConsentDays = `INSERT INTO ` + migrations.ReportDayConsents + ` (site_id, date, consents, decisions, sealed_ms)
		SELECT site_id, date, toUInt64(uniqExactMerge(consents)), toUInt64(sum(n_decisions)), toUInt64(?)
		FROM ` + migrations.ReportConsentDecisions + ` WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?))) AND dim = 'all' GROUP BY site_id, date`

	// Erasure requests: a pending row when one is queued, a complete row
	// when its batch is done; the newest version is the state.
	insertErasureRequest = "INSERT INTO " + migrations.ErasureRequests + " (site_id, id_hash, version, state, requested_at, completed_at, date)"
	selectErasureState   = `SELECT id_hash, argMax(toString(state), version), argMax(requested_at, version), argMax(completed_at, version) FROM ` +
		migrations.ErasureRequests + ` WHERE site_id = ? AND id_hash IN (SELECT arrayJoin(?)) GROUP BY id_hash`

	// Revocations: consents whose older tokens no longer count.
	insertRevocation  = "INSERT INTO " + migrations.ConsentRevocations + " (site_id, consent_hash, revoked_ms, date)"
	selectRevocations = `SELECT consent_hash, max(revoked_ms) FROM ` + migrations.ConsentRevocations +
		` WHERE inserted >= ? GROUP BY consent_hash`

	// Inserts of this process still running on the server (db.go).
	selectRunningInserts = "SELECT count() FROM system.processes WHERE startsWith(query_id, ?)"

	selectPendingMutations = "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0"
)

// countBeforeSQL counts a site's rows of table dated before a day, so that
// retention sends no mutation when there is nothing to delete.
func countBeforeSQL(table string) string {
	return "SELECT count() FROM " + table + " WHERE site_id = ? AND date < toDate(?)"
}

// alterSQL is the ALTER TABLE that runs mutation on the rows of the
// registered table: on the shard-local table ON CLUSTER in cluster mode.
func alterSQL(t migrations.Target, table, mutation string) (string, error) {
	local, err := t.Local(table)
	if err != nil {
		return "", err
	}
	return "ALTER TABLE " + local + t.OnCluster() + " " + mutation, nil
}

// Schema bookkeeping: the database itself, the cluster check and the
// record of applied migrations.

// createDatabaseSQL creates t's database, ON CLUSTER when t names one.
func createDatabaseSQL(t migrations.Target) string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(t.Database) + t.OnCluster()
}

// dropDatabaseSQL drops t's database, ON CLUSTER when t names one.
func dropDatabaseSQL(t migrations.Target) string {
	return "DROP DATABASE IF EXISTS " + quoteIdent(t.Database) + t.OnCluster()
}

const selectClusterKnown = "SELECT count() FROM system.clusters WHERE cluster = ?"

// createSchemaMigrationsSQL creates the table of applied migrations
// (migrations.SchemaMigrationsSQL) if it is missing.
func createSchemaMigrationsSQL(t migrations.Target) (string, error) {
	create, err := migrations.Render(migrations.SchemaMigrations, migrations.SchemaMigrationsSQL, t)
	if err != nil {
		return "", err
	}
	return create[0], nil
}

const (
	selectMigrationState = `SELECT version, dirty FROM ` + migrations.SchemaMigrations + ` ORDER BY version DESC, seq DESC LIMIT 1`
	insertMigration      = "INSERT INTO " + migrations.SchemaMigrations + " (version, dirty, seq, applied_at)"
)

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "") + "`" }
