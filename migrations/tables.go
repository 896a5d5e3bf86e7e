package migrations

// The registry of Crumb's tables: every table a migration creates is listed
// here, with where its rows live in cluster mode and which retention cuts
// it. The migrator renders the SQL files against it, retention and erasure
// walk it, and the report and store packages name tables by these
// constants, so a table's name is written in one place.

// Table names.
const (
	SchemaMigrations = "schema_migrations"
	Sites            = "sites"
	Users            = "users"
	APITokens        = "api_tokens"
	ShareLinks       = "share_links"
	Sessions         = "sessions"

	Events             = "events"
	ConsentDecisions   = "consent_decisions"
	ConsentImpressions = "consent_impressions"

	ReportTotals             = "report_totals"
	ReportDaily              = "report_daily"
	ReportDims               = "report_dims"
	ReportConsentDecisions   = "report_consent_decisions"
	ReportConsentImpressions = "report_consent_impressions"

	VisitorIndex       = "visitor_index"
	ConsentIndex       = "consent_index"
	ConsentRevocations = "consent_revocations"
	ErasureRequests    = "erasure_requests"

	ReportDayVisitors = "report_day_visitors"
	ReportDayConsents = "report_day_consents"
	ReportSessions    = "report_sessions"
	ReportDimsWindow  = "report_dims_window"
	ReportDailyWindow = "report_daily_window"

	ReportDayLoyalty      = "report_day_loyalty"
	ReportWindowVisitors  = "report_window_visitors"
	ReportWindowDecisions = "report_window_decisions"

	ReportSteps = "report_steps"

	DigestRecipients = "digest_recipients"
	Notifications    = "notifications"

	ImportedDaily = "imported_daily"
	ImportedDims  = "imported_dims"

	BannerVersions = "banner_versions"
)

// Retention says which of a site's retention settings cuts a table's rows
// (by its date column).
type Retention int

const (
	// Kept rows are configuration, kept until they are changed.
	Kept Retention = iota
	// EventRetention cuts at the site's retention (default 25 months).
	EventRetention
	// ConsentRetention cuts at the site's consent retention.
	ConsentRetention
	// ErasureLogRetention cuts at ErasureLogDays, for every site.
	ErasureLogRetention
)

// ErasureLogDays is how long the state of an erasure request is kept.
const ErasureLogDays = 31

// Table is one table of the schema.
type Table struct {
	Name string
	// ShardKey is, in cluster mode, the sharding key of the Distributed
	// table over the shards' NAME_local tables; "" keeps one full copy on
	// every server (configuration, read locally with FINAL).
	ShardKey string
	// Retention is the setting that cuts the table's rows.
	Retention Retention
}

// zeroUUID is the visitor, session and consent ID of anonymous counting.
const zeroUUID = "toUUID('00000000-0000-0000-0000-000000000000')"

// Tables lists every table, in the order the migrations create them.
var Tables = []Table{
	{Name: SchemaMigrations},
	{Name: Sites},
	{Name: Users},
	{Name: APITokens},
	{Name: ShareLinks},
	{Name: Sessions},
	// A visitor's events stay on one shard, so a visit is whole there;
	// anonymous page views (zero visitor ID) are spread evenly.
	{Name: Events, ShardKey: "if(visitor_id = " + zeroUUID + ", rand(), cityHash64(toString(visitor_id)))", Retention: EventRetention},
	{Name: ConsentDecisions, ShardKey: "cityHash64(toString(consent_id))", Retention: ConsentRetention},
	{Name: ConsentImpressions, ShardKey: "rand()", Retention: ConsentRetention},
	{Name: ReportTotals, ShardKey: "rand()", Retention: EventRetention},
	{Name: ReportDaily, ShardKey: "rand()", Retention: EventRetention},
	{Name: ReportDims, ShardKey: "rand()", Retention: EventRetention},
	{Name: ReportConsentDecisions, ShardKey: "rand()", Retention: ConsentRetention},
	{Name: ReportConsentImpressions, ShardKey: "rand()", Retention: ConsentRetention},
	// Lookups by key: a visitor's rows on its events' shard, a consent's
	// on its decisions' shard.
	{Name: VisitorIndex, ShardKey: "cityHash64(toString(visitor_id))", Retention: EventRetention},
	{Name: ConsentIndex, ShardKey: "cityHash64(toString(consent_id))", Retention: ConsentRetention},
	// Every node reads these whole: a full copy on every server.
	// Revocations hold keyed hashes and times only, and are kept.
	{Name: ConsentRevocations},
	{Name: ErasureRequests, Retention: ErasureLogRetention},
	{Name: ReportDayVisitors, ShardKey: "rand()", Retention: EventRetention},
	{Name: ReportDayConsents, ShardKey: "rand()", Retention: ConsentRetention},
	// A visitor's visits on the shard of its events.
	{Name: ReportSessions, ShardKey: "cityHash64(toString(visitor_id))", Retention: EventRetention},
	// A window's rows are read together: on one shard.
	{Name: ReportDimsWindow, ShardKey: "cityHash64(site_id)", Retention: EventRetention},
	{Name: ReportDailyWindow, ShardKey: "cityHash64(site_id)", Retention: EventRetention},
	{Name: ReportDayLoyalty, ShardKey: "rand()", Retention: EventRetention},
	{Name: ReportWindowVisitors, ShardKey: "cityHash64(site_id)", Retention: EventRetention},
	{Name: ReportWindowDecisions, ShardKey: "cityHash64(site_id)", Retention: EventRetention},
	// A visitor's steps on one shard, like its events.
	{Name: ReportSteps, ShardKey: "vk", Retention: EventRetention},
	// Configuration and the small log of deliveries: a full copy on every
	// server, so that a claim is read back where it was written.
	{Name: DigestRecipients},
	{Name: Notifications},
	// Imports: a full copy on every server (a day's newest import is
	// read with FINAL), cut by the events' retention.
	{Name: ImportedDaily, Retention: EventRetention},
	{Name: ImportedDims, Retention: EventRetention},
	// The banners proofs name: configuration, a full copy on every server.
	{Name: BannerVersions},
}

// The pre-aggregated tables whose exact states hold IDs' keys, from events
// and from consent decisions: an erasure rebuilds their rows of the erased
// rows' days (Rebuilds), and deletes those days' seals (the DayTables),
// which are sealed again later. Retention cuts them at the
// same dates as their sources, like every pre-aggregated table.
var (
	TrafficStateTables = []string{ReportTotals, ReportDaily, ReportDims, ReportSessions, ReportSteps}
	ConsentStateTables = []string{ReportConsentDecisions}
	TrafficDayTables   = []string{ReportDayVisitors, ReportDayLoyalty}
	ConsentDayTables   = []string{ReportDayConsents}
	// WindowTables hold merged days: an erasure deletes a site's windows,
	// which are sealed again.
	WindowTables = []string{ReportDimsWindow, ReportDailyWindow, ReportWindowVisitors, ReportWindowDecisions}
)

// Lookup returns the registered table called name.
func Lookup(name string) (Table, bool) {
	for _, t := range Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Sharded reports whether the table is split across shards in cluster mode.
func (t Table) Sharded() bool { return t.ShardKey != "" }

// Retained returns the tables cut by retention r, in registry order.
func Retained(r Retention) []string {
	var out []string
	for _, t := range Tables {
		if t.Retention == r && r != Kept {
			out = append(out, t.Name)
		}
	}
	return out
}
