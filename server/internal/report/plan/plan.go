// Package plan decides how a report query is answered — from the
// pre-aggregated tables or from events, on every visitor or a sample — and
// builds every read statement of the report layer.
//
// Every statement is built in this file, from Go
// constants only: dimensions map to the column expressions below, and
// every value from a request (site, dates, filter values, limits) is a
// bound parameter (clickhouse-go binds ? on the client, which ClickHouse
// 18.16 needs; it quotes and escapes each value). The statements run on
// ClickHouse 18.16 and on current releases: explicit toUInt64 casts keep
// result types stable, aliases never shadow a column name, dates are bound
// as time.Time and wrapped in toDate().
//
// The expressions of page-view and event dimensions must equal those of the
// materialized views in migrations/0010_report_traffic.up.sql;
// TestDimensions_MVMatchesRaw compares the two paths on the same data.
package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crumbhq/crumb/migrations"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

// Plan is how one query is answered: from which tables, on which sample,
// with exact or estimated distinct counts.
type Plan struct {
	Site     string
	From, To time.Time
	Filters  []query.Filter
	K        int
	MV       bool // read the pre-aggregated tables (no filters)
	Sample   Sampling
	// Estimate reads distinct counts (visitors, visits, consents) from
	// HyperLogLog sketches instead of exact sets: only for ranges holding
	// more than a million events, whose numbers above 100,000 may be
	// estimates (package report decides, and recounts the smaller ones).
	Estimate bool
	// Days, when set, restricts the range to these days (YYYY-MM-DD): an
	// exact recount of some buckets of a time series.
	Days []string
	// Window, when set, is a sealed window of the closed days of the range
	// (estimated plans only): report_dims and report_daily are read from
	// it and, with Live, today's rows.
	Window *Window
	// NoDistinct reads zero for the distinct counts of totals and series:
	// a daily series whose counts come from the sealed days, page views
	// alone.
	NoDistinct bool
	// Goals are the site's goals by name, for goal filters.
	Goals map[string]query.Step
}

func (p *Plan) UseMV() bool { return p.MV }

// Exact returns the plan with exact distinct counts, restricted to days
// when given.
func (p *Plan) Exact(days ...string) *Plan {
	c := *p
	c.Estimate, c.Days, c.NoDistinct, c.Window = false, days, false, nil
	return &c
}

// Window is one seal of report_dims_window and report_daily_window: the
// days [End-Days+1, End] merged, and with Live the range's last day (today)
// from the daily tables.
type Window struct {
	End      time.Time
	Days     int
	SealedMS uint64
	Live     time.Time // zero: the range is the window alone
}

// SizeAndWindowSQL is size (SizeSQL) and WindowSQL in one statement.
func SizeAndWindowSQL(size *Stmt, site string, end time.Time, days int) *Stmt {
	return new(Stmt).Add("SELECT (").AddStmt(size).Add("), (").AddStmt(WindowSQL(site, end, days)).Add(")")
}

// WindowSQL finds the newest seal of the window [end-days+1, end] whose
// event count still matches its days' (0 when there is none).
func WindowSQL(site string, end time.Time, days int) *Stmt {
	from := end.AddDate(0, 0, 1-days)
	return new(Stmt).Add("SELECT toUInt64(max(sealed_ms)) FROM "+migrations.ReportDailyWindow+
		" WHERE site_id = ? AND date = toDate(?) AND days = ? AND events = (SELECT toUInt64(sum(event_count)) FROM "+migrations.ReportDaily+
		" WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?))", site, end, days, site, from, end)
}

// The columns a window stands in for.
const (
	dimsWindowCols  = "site_id, dim, value, visitors_k, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count"
	dailyWindowCols = "site_id, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count"
)

// source is the FROM and WHERE of a pre-aggregated query: table
// restricted to the plan's days and cond, or the plan's window (and today's
// rows of table) when it has one, each restricted by cond (18.16 does not
// push conditions into a UNION).
func source(p *Plan, table, window, cols string, cond *Stmt) *Stmt {
	w := p.Window
	if w == nil {
		return new(Stmt).Add(table + " WHERE ").AddStmt(rangeWhere(p)).AddStmt(cond)
	}
	s := new(Stmt).Add("(SELECT "+cols+" FROM "+window+" WHERE site_id = ? AND date = toDate(?) AND days = ? AND sealed_ms = ?",
		p.Site, w.End, w.Days, w.SealedMS).AddStmt(cond)
	if !w.Live.IsZero() {
		s.Add(" UNION ALL SELECT "+cols+" FROM "+table+" WHERE site_id = ? AND date = toDate(?)", p.Site, w.Live).AddStmt(cond)
	}
	return s.Add(")")
}

// dimsSource is source for report_dims, its rows of dim meeting cond.
func dimsSource(p *Plan, dim query.Dimension, cond *Stmt) *Stmt {
	c := new(Stmt).Add(" AND dim = ?", string(dim)).AddStmt(cond)
	return source(p, migrations.ReportDims, migrations.ReportDimsWindow, dimsWindowCols, c)
}

// The keys of IDs in the distinct-count states: the first 64 bits of the
// random ID, the same on 18.16 and current ClickHouse (migration 0012).
const (
	visitorKey = "reinterpretAsUInt64(reinterpretAsString(visitor_id))"
	sessionKey = "reinterpretAsUInt64(reinterpretAsString(session_id))"
	consentKey = "reinterpretAsUInt64(reinterpretAsString(consent_id))"
	// VisitorKey is visitorKey for the statements of other packages.
	VisitorKey = visitorKey
)

// mvMerge is the -Merge of a pre-aggregated distinct count column (an
// uniq…If state when cond): its exact set, or its sketch (col_est).
func (p *Plan) mvMerge(col string, cond bool) string {
	if p.NoDistinct {
		return "0"
	}
	i := ""
	if cond {
		i = "If"
	}
	if p.Estimate {
		return "uniqCombined" + i + "Merge(" + col + "_est)"
	}
	return "uniqExact" + i + "Merge(" + col + ")"
}

// dimsMerge is mvMerge for report_dims, whose sketches are HyperLogLogs
// of 2^12 registers (uniqHLL12), cheap to merge by the hundred.
func (p *Plan) dimsMerge(col string) string {
	if p.Estimate {
		return "uniqHLL12IfMerge(" + col + "_est)"
	}
	return "uniqExactIfMerge(" + col + ")"
}

// rawCount counts the distinct keys of events rows meeting cond: events
// are always counted exactly.
func (p *Plan) rawCount(key, cond string) string {
	if p.NoDistinct {
		return "0"
	}
	return "uniqExactIf(" + key + ", " + cond + ")"
}

// Sampling is a contiguous range of visitor IDs holding about rate of them.
type Sampling struct {
	Rate   float64 // 1: every visitor
	Lo, Hi string  // visitor_id >= Lo AND visitor_id < Hi
}

func (s Sampling) Sampled() bool { return s.Rate < 1 }

// scale estimates the whole from a count on the sample.
func (s Sampling) Scale(n uint64) int64 {
	if !s.Sampled() {
		return int64(n)
	}
	return int64(math.Round(float64(n) / s.Rate))
}

// Stmt is a statement being built and its bound arguments, in order.
type Stmt struct {
	b    strings.Builder
	args []any
}

func (s *Stmt) Add(sql string, args ...any) *Stmt {
	s.b.WriteString(sql)
	s.args = append(s.args, args...)
	return s
}

func (s *Stmt) AddStmt(o *Stmt) *Stmt {
	s.b.WriteString(o.b.String())
	s.args = append(s.args, o.args...)
	return s
}

func (s *Stmt) String() string { return s.b.String() }

const zeroUUID = "toUUID('00000000-0000-0000-0000-000000000000')"

// BounceEngagementMS is the engagement below which a one-page visit is a
// bounce.
const BounceEngagementMS = 10_000

// dimSQL is how a dimension reads from an events row.
type dimSQL struct {
	expr    string // the dimension's value
	rows    string // the rows that carry the dimension
	primary string // the rows counted as the dimension's page views or events
}

const (
	pageviewRows    = "type = 'pageview'"
	acquisitionRows = "type = 'pageview' AND channel != 'Internal'"
)

var dimSQLs = map[query.Dimension]dimSQL{
	query.DimPage:           {"path", "type IN ('pageview', 'engagement')", pageviewRows},
	query.DimHostname:       {"hostname", pageviewRows, pageviewRows},
	query.DimCountry:        {"country", pageviewRows, pageviewRows},
	query.DimRegion:         {"if(region = '', '', concat(region, ', ', country))", pageviewRows, pageviewRows},
	query.DimCity:           {"if(city = '', '', concat(city, ', ', if(region = '', country, concat(region, ', ', country))))", pageviewRows, pageviewRows},
	query.DimProvider:       {"provider", pageviewRows, pageviewRows},
	query.DimBrowser:        {"browser", pageviewRows, pageviewRows},
	query.DimBrowserVersion: {"if(browser = '', '', concat(browser, ' ', browser_version))", pageviewRows, pageviewRows},
	query.DimOS:             {"os", pageviewRows, pageviewRows},
	query.DimOSVersion:      {"if(os = '', '', concat(os, ' ', os_version))", pageviewRows, pageviewRows},
	query.DimDevice:         {"device", pageviewRows, pageviewRows},
	query.DimScreen:         {"screen", pageviewRows, pageviewRows},
	query.DimLanguage:       {"language", pageviewRows, pageviewRows},
	query.DimDomainType:     {"domain_type", "type = 'pageview' AND domain_type != ''", "type = 'pageview' AND domain_type != ''"},
	query.DimChannel:        {"channel", acquisitionRows, acquisitionRows},
	query.DimSource:         {"source", acquisitionRows, acquisitionRows},
	query.DimReferrer:       {"concat(referrer_host, referrer_path)", acquisitionRows, acquisitionRows},
	query.DimUTMSource:      {"utm_source", "type = 'pageview' AND utm_source != ''", "type = 'pageview' AND utm_source != ''"},
	query.DimUTMMedium:      {"utm_medium", "type = 'pageview' AND utm_medium != ''", "type = 'pageview' AND utm_medium != ''"},
	query.DimUTMCampaign:    {"utm_campaign", "type = 'pageview' AND utm_campaign != ''", "type = 'pageview' AND utm_campaign != ''"},
	query.DimUTMContent:     {"utm_content", "type = 'pageview' AND utm_content != ''", "type = 'pageview' AND utm_content != ''"},
	query.DimUTMTerm:        {"utm_term", "type = 'pageview' AND utm_term != ''", "type = 'pageview' AND utm_term != ''"},
	query.DimEvent:          {"name", "type = 'custom'", "type = 'custom'"},
	query.DimOutbound:       {"link_url", "type = 'outbound'", "type = 'outbound'"},
	query.DimDownload:       {"link_url", "type = 'download'", "type = 'download'"},
	query.DimSearch:         {"search_term", "type = 'search'", "type = 'search'"},
	query.DimErrorPage:      {"concat(toString(status), ' ', path)", "type = 'error'", "type = 'error'"},
	// Entry and exit pages are columns of the sessions subquery, and a
	// page view that is the only one of an anonymous "visit" is its own
	// entry and exit page.
	query.DimEntryPage: {"path", pageviewRows, pageviewRows},
	query.DimExitPage:  {"path", pageviewRows, pageviewRows},
	// Custom event properties: the value of the key, from custom events.
	query.DimEventProp: {"prop_values[indexOf(prop_keys, ?)]", "type = 'custom'", "type = 'custom'"},
}

// sessionColumn is the sessions-subquery column of a session dimension.
var sessionColumn = map[query.Dimension]string{query.DimEntryPage: "entry_page", query.DimExitPage: "exit_page"}

// PropSep joins name, key and value of a custom event property in
// report_dims (the unit separator).
const PropSep = "\x1f"

// ---------------------------------------------------------------------------
// Ranges, Sampling and filters

// rangeWhere restricts a table with site_id and date columns to the Plan's
// days.
func rangeWhere(p *Plan) *Stmt {
	s := new(Stmt).Add("site_id = ? AND date >= toDate(?) AND date <= toDate(?)", p.Site, p.From, p.To)
	if len(p.Days) > 0 {
		s.Add(" AND date IN (SELECT toDate(arrayJoin(?)))", p.Days)
	}
	return s
}

// eventsWhere restricts events to the Plan's days and sample. With anon,
// anonymous page views (the zero visitor) are kept whole beside the sample
// of visitors; without, they are left out.
func eventsWhere(p *Plan, anon bool) *Stmt {
	s := rangeWhere(p)
	if p.Sample.Sampled() {
		if anon {
			s.Add(" AND (visitor_id = "+zeroUUID+" OR (visitor_id >= toUUID(?) AND visitor_id < toUUID(?)))", p.Sample.Lo, p.Sample.Hi)
		} else {
			s.Add(" AND visitor_id >= toUUID(?) AND visitor_id < toUUID(?)", p.Sample.Lo, p.Sample.Hi)
		}
	} else if !anon {
		s.Add(" AND visitor_id != " + zeroUUID)
	}
	return s
}

// filterValue is a filter's value as stored ("(none)" is empty).
func filterValue(f query.Filter) string {
	if f.Value == query.None && f.Op != query.Contains {
		return ""
	}
	return f.Value
}

// valueCond compares expr with the filter's value; with positive, is_not
// compares as is (the caller negates).
func valueCond(expr string, exprArgs []any, f query.Filter, positive bool) *Stmt {
	s := new(Stmt)
	v := filterValue(f)
	switch {
	case f.Op == query.Contains:
		s.Add("position(lowerUTF8("+expr+"), lowerUTF8(?)) > 0", append(append([]any{}, exprArgs...), v)...)
	case f.Op == query.IsNot && !positive:
		s.Add(expr+" != ?", append(append([]any{}, exprArgs...), v)...)
	default:
		s.Add(expr+" = ?", append(append([]any{}, exprArgs...), v)...)
	}
	return s
}

// matchCond is the condition an events row meets when it has the filter's
// value (is and contains) or would have it (is_not).
func matchCond(p *Plan, f query.Filter) *Stmt {
	if f.Dimension == query.DimGoal {
		return goalCond(p, f.Value)
	}
	d := dimSQLs[f.Dimension]
	s := new(Stmt).Add("(" + d.rows + " AND ")
	if f.Dimension == query.DimEventProp {
		key, val, _ := strings.Cut(f.Value, "=")
		pf := query.Filter{Dimension: f.Dimension, Op: f.Op, Value: val}
		s.Add("has(prop_keys, ?) AND ", key)
		s.AddStmt(valueCond(d.expr, []any{key}, pf, true))
	} else {
		s.AddStmt(valueCond(d.expr, nil, f, true))
	}
	return s.Add(")")
}

// filterWhere is the filters' condition on the rows of an events query:
// page-view attributes apply to each event; acquisition, event and
// session filters keep the visits that have (or, for is_not, lack) a
// matching event, and anonymous page views by their own fields.
func filterWhere(p *Plan, sessionsOnly bool) *Stmt {
	return filterCond(p, sessionsOnly, true)
}

// filteredEvents is the FROM and WHERE of a filtered read of events:
// from (events, or events with an ARRAY JOIN) with the page-view
// attribute filters and rows (a condition on plain columns, or "") as
// PREWHERE, then where and the other filters. Events sort by visitor, so
// a country's rows are spread over every granule: PREWHERE spares
// reading and evaluating the other columns of the rows it drops (about a
// fifth of a filtered breakdown's time), which ClickHouse's own choice
// of PREWHERE (the smallest column's condition: type) does not.
func filteredEvents(p *Plan, from, rows string, rowArgs []any, where *Stmt) *Stmt {
	var pre []*Stmt
	if rows != "" {
		pre = append(pre, new(Stmt).Add("("+rows+")", rowArgs...))
	}
	for _, f := range p.Filters {
		if d, _ := query.Lookup(f.Dimension); d.Kind == query.KindPage {
			pre = append(pre, valueCond(dimSQLs[f.Dimension].expr, nil, f, false))
		}
	}
	s := new(Stmt).Add(from)
	for i, c := range pre {
		if i == 0 {
			s.Add(" PREWHERE ")
		} else {
			s.Add(" AND ")
		}
		s.AddStmt(c)
	}
	return s.Add(" WHERE ").AddStmt(where).AddStmt(filterCond(p, false, false))
}

// filterCond is filterWhere, with or without the page-view attribute
// filters.
func filterCond(p *Plan, sessionsOnly, page bool) *Stmt {
	s := new(Stmt)
	for _, f := range p.Filters {
		d, _ := query.Lookup(f.Dimension)
		if d.Kind == query.KindPage {
			if page {
				s.Add(" AND ").AddStmt(valueCond(dimSQLs[f.Dimension].expr, nil, f, false))
			}
			continue
		}
		s.Add(" AND ")
		neg := ""
		if f.Op == query.IsNot {
			neg = "NOT "
		}
		sub := sessionsMatching(p, f)
		if sessionsOnly {
			s.Add("session_id " + neg + "IN (").AddStmt(sub).Add(")")
			continue
		}
		s.Add("((session_id = " + zeroUUID + " AND " + neg).AddStmt(matchCond(p, f)).
			Add(") OR (session_id != " + zeroUUID + " AND session_id " + neg + "IN (").AddStmt(sub).Add(")))")
	}
	return s
}

// sessionsMatching selects the sessions with an event matching f (for a
// session dimension: whose first or last page matches).
func sessionsMatching(p *Plan, f query.Filter) *Stmt {
	if col, ok := sessionColumn[f.Dimension]; ok {
		agg := "argMin(path, ts)"
		if col == "exit_page" {
			agg = "argMax(path, ts)"
		}
		return new(Stmt).Add("SELECT session_id FROM " + migrations.Events + " WHERE ").AddStmt(eventsWhere(p, false)).
			Add(" AND type = 'pageview' GROUP BY session_id HAVING ").AddStmt(valueCond(agg, nil, f, true))
	}
	// The matching events are few: PREWHERE (see filteredEvents).
	return new(Stmt).Add("SELECT session_id FROM " + migrations.Events + " PREWHERE ").AddStmt(matchCond(p, f)).
		Add(" WHERE ").AddStmt(eventsWhere(p, false))
}

// sessionFilterWhere keeps the visits with at least one event that meets
// every page-view filter, and that meet every other filter.
func sessionFilterWhere(p *Plan) *Stmt {
	s := new(Stmt)
	var pageFilters []query.Filter
	for _, f := range p.Filters {
		if d, _ := query.Lookup(f.Dimension); d.Kind == query.KindPage {
			pageFilters = append(pageFilters, f)
		}
	}
	if len(pageFilters) > 0 {
		s.Add(" AND session_id IN (SELECT session_id FROM " + migrations.Events + " WHERE ").AddStmt(eventsWhere(p, false))
		for _, f := range pageFilters {
			s.Add(" AND ").AddStmt(valueCond(dimSQLs[f.Dimension].expr, nil, f, false))
		}
		s.Add(")")
	}
	rest := *p
	rest.Filters = nil
	for _, f := range p.Filters {
		if d, _ := query.Lookup(f.Dimension); d.Kind != query.KindPage {
			rest.Filters = append(rest.Filters, f)
		}
	}
	return s.AddStmt(filterWhere(&rest, true))
}

// ---------------------------------------------------------------------------
// Traffic sums: visitors, visits, consented and anonymous page views,
// engagement time and count, consented events. Every sums query returns
// these columns in this order (after its key columns).

func mvTotalsSums(p *Plan) string {
	return `toUInt64(` + p.mvMerge("visitors", true) + `) AS t_visitors, toUInt64(` + p.mvMerge("sessions", true) + `) AS t_visits,
		toUInt64(sum(pageviews) - sum(anon_pageviews)) AS t_pv, toUInt64(sum(anon_pageviews)) AS t_apv,
		toUInt64(sum(engaged_ms)) AS t_eng, toUInt64(sum(engagements)) AS t_engn,
		toUInt64(sum(event_count) - sum(anon_pageviews)) AS t_ec`
}

func rawTotalsSums(p *Plan) string {
	return `toUInt64(` + p.rawCount(visitorKey, "visitor_id != "+zeroUUID) + `) AS t_visitors,
		toUInt64(` + p.rawCount(sessionKey, "session_id != "+zeroUUID) + `) AS t_visits,
		toUInt64(countIf(type = 'pageview' AND visitor_id != ` + zeroUUID + `)) AS t_pv,
		toUInt64(countIf(type = 'pageview' AND visitor_id = ` + zeroUUID + `)) AS t_apv,
		toUInt64(sumIf(duration_ms, type = 'engagement')) AS t_eng, toUInt64(countIf(type = 'engagement')) AS t_engn,
		toUInt64(countIf(visitor_id != ` + zeroUUID + `)) AS t_ec`
}

// TotalsSQL sums the whole range.
func TotalsSQL(p *Plan) *Stmt {
	if p.UseMV() {
		return new(Stmt).Add("SELECT " + mvTotalsSums(p) + " FROM ").AddStmt(source(p, migrations.ReportDaily, migrations.ReportDailyWindow, dailyWindowCols, new(Stmt)))
	}
	return new(Stmt).Add("SELECT " + rawTotalsSums(p) + " FROM ").AddStmt(filteredEvents(p, migrations.Events, "", nil, eventsWhere(p, true)))
}

// bucketExpr is a time-series bucket of the interval, from a Date column
// and a DateTime('UTC') column.
func bucketExpr(iv query.Interval, dateCol, timeCol string) string {
	switch iv {
	case query.Hour:
		return "toStartOfHour(" + timeCol + ")"
	case query.Week:
		return "toDateTime(toMonday(" + dateCol + "), 'UTC')"
	case query.Month:
		return "toDateTime(toStartOfMonth(" + dateCol + "), 'UTC')"
	default:
		return "toDateTime(" + dateCol + ", 'UTC')"
	}
}

// DaySeriesSumsSQL sums per day from report_daily without the distinct
// counts (zero), which come from the sealed days (DayCountsSQL) and, for
// the days not sealed, from SeriesSQL restricted to them; dayEvents is the
// day's count of every event row, to check a sealed day against.
func DaySeriesSumsSQL(p *Plan) *Stmt {
	return new(Stmt).Add(`SELECT toDateTime(date, 'UTC') AS bucket, toUInt64(0) AS t_visitors, toUInt64(0) AS t_visits,
		toUInt64(sum(pageviews) - sum(anon_pageviews)) AS t_pv, toUInt64(sum(anon_pageviews)) AS t_apv,
		toUInt64(sum(engaged_ms)) AS t_eng, toUInt64(sum(engagements)) AS t_engn,
		toUInt64(sum(event_count) - sum(anon_pageviews)) AS t_ec, toUInt64(sum(event_count)) AS day_events FROM ` + migrations.ReportDaily + " WHERE ").
		AddStmt(rangeWhere(p)).Add(" GROUP BY bucket ORDER BY bucket")
}

// DayCountsSQL reads the sealed days of the range: each day's newest
// exact visitors and visits, and the event count they were taken at.
func DayCountsSQL(p *Plan) *Stmt {
	return new(Stmt).Add(`SELECT bucket, d.1, d.2, d.3 FROM (SELECT toDateTime(date, 'UTC') AS bucket,
		argMax((visitors, visits, events), sealed_ms) AS d FROM ` + migrations.ReportDayVisitors + " WHERE ").
		AddStmt(rangeWhere(p)).Add(" GROUP BY bucket)")
}

// ConsentDayCountsSQL reads the sealed days' exact consents and the
// decision count they were taken at.
func ConsentDayCountsSQL(p *Plan) *Stmt {
	return new(Stmt).Add(`SELECT bucket, d.1, d.2 FROM (SELECT toDateTime(date, 'UTC') AS bucket,
		argMax((consents, decisions), sealed_ms) AS d FROM ` + migrations.ReportDayConsents + " WHERE ").
		AddStmt(rangeWhere(p)).Add(" GROUP BY bucket)")
}

// SeriesSQL sums per bucket.
func SeriesSQL(p *Plan, iv query.Interval) *Stmt {
	if p.UseMV() {
		table := migrations.ReportDaily
		if iv == query.Hour {
			table = migrations.ReportTotals
		}
		return new(Stmt).Add("SELECT " + bucketExpr(iv, "date", "hour") + " AS bucket, " + mvTotalsSums(p) +
			" FROM " + table + " WHERE ").AddStmt(rangeWhere(p)).Add(" GROUP BY bucket ORDER BY bucket")
	}
	return new(Stmt).Add("SELECT " + bucketExpr(iv, "date", "ts") + " AS bucket, " + rawTotalsSums(p) + " FROM ").
		AddStmt(filteredEvents(p, migrations.Events, "", nil, eventsWhere(p, true))).Add(" GROUP BY bucket ORDER BY bucket")
}

// ---------------------------------------------------------------------------
// Breakdowns, folded to k visitors

// ExactK is the largest k checked with the small uniqUpTo(25) states;
// above it the check merges the exact visitor states.
const ExactK = 25

// AggCol is a column a fold sums or merges.
type AggCol struct {
	name  string // the inner query's column
	merge string // "" to sum, else the -Merge function (uniqExactIfMerge)
}

// FoldSQL groups inner (columns val, vk — a uniqUpTo(25) state of the
// row's visitors — and cols) into its values, and the values with fewer
// than k visitors into one folded row sorted first, with totals over all.
// est names the cols state that counts visitors when k > ExactK. Each
// result row is folded (UInt8), label, then one r_ column per col. limit 0
// means no limit.
func FoldSQL(inner *Stmt, kMerge, est string, cols []AggCol, order []string, k, limit int) *Stmt {
	s := new(Stmt)
	if k <= ExactK {
		s.Add("SELECT toUInt8(finalizeAggregation(vk) < ?) AS folded", k)
	} else {
		s.Add("SELECT toUInt8(finalizeAggregation("+est+") < ?) AS folded", k)
	}
	s.Add(", if(folded = 1, '', val) AS label")
	for _, c := range cols {
		if c.merge != "" {
			s.Add(fmt.Sprintf(", toUInt64(%s(%s)) AS r_%s", c.merge, c.name, c.name))
		} else {
			s.Add(fmt.Sprintf(", toUInt64(sum(%s)) AS r_%s", c.name, c.name))
		}
	}
	s.Add(", toUInt64(" + kMerge + "(vk)) AS r_k")
	s.Add(" FROM (").AddStmt(inner).Add(") GROUP BY folded, label WITH TOTALS ORDER BY folded DESC")
	for _, o := range order {
		s.Add(", r_" + o + " DESC")
	}
	s.Add(", label ASC")
	if limit > 0 {
		s.Add(" LIMIT ?", limit)
	}
	return s
}

// The columns of a traffic breakdown: visitors, visits, consented and
// anonymous page views, engagement time and count, consented events.
var TrafficCols = []AggCol{{"vs", "uniqExactIfMerge"}, {"ss", "uniqExactIfMerge"}, {"pv", ""}, {"apv", ""}, {"eng", ""}, {"engn", ""}, {"ec", ""}}

// exactVs names the exact distinct-consents state of a consent fold's
// inner query (xs when estimated).
func exactVs(p *Plan) string {
	if p.Estimate {
		return "xs"
	}
	return "vs"
}

// totalsDim is the dimension whose values hold every visitor of dim's rows
// once each with few values: every page view has one device, every
// acquisition page view one channel.
func totalsDim(dim query.Dimension) query.Dimension {
	d, _ := query.Lookup(dim)
	switch {
	case dim == query.DimDomainType:
		return dim // only page views with a domain type carry it
	case d.Kind == query.KindPage:
		return query.DimDevice
	case dim == query.DimSource || dim == query.DimReferrer:
		return query.DimChannel
	}
	return dim
}

// MVValue is the value column of a report_dims breakdown and the condition
// on its rows: for event properties, the key or the value of one event's
// properties.
func MVValue(dim query.Dimension, event, key string) (value *Stmt, cond *Stmt) {
	value, cond = new(Stmt).Add("value"), new(Stmt)
	if dim != query.DimEventProp {
		return value, cond
	}
	if key == "" {
		prefix := event + PropSep
		return new(Stmt).Add("splitByChar('\\x1F', value)[2]"), cond.Add(" AND substring(value, 1, length(?)) = ?", prefix, prefix)
	}
	prefix := event + PropSep + key + PropSep
	return new(Stmt).Add("substring(value, length(?) + 1)", prefix), cond.Add(" AND substring(value, 1, length(?)) = ?", prefix, prefix)
}

// FilterVisitorsSQL estimates, from report_dims, the range's visitors
// with a page view that has the value of f (an is filter on a page-view
// or acquisition dimension): about the visitors f leaves.
func FilterVisitorsSQL(p *Plan, f query.Filter) *Stmt {
	return new(Stmt).Add("SELECT toUInt64(uniqHLL12IfMerge(visitors_est)) FROM "+migrations.ReportDims+" WHERE ").
		AddStmt(rangeWhere(p)).Add(" AND dim = ? AND value = ?", string(f.Dimension), filterValue(f))
}

// MVValuesSQL is the first step of a pre-aggregated breakdown: every value
// with its exact visitor count up to 26 (and, when k > ExactK, its
// estimate) and its sums, without merging the large visitor sketches.
func MVValuesSQL(p *Plan, dim query.Dimension, event, key string) *Stmt {
	value, cond := MVValue(dim, event, key)
	s := new(Stmt).Add("SELECT ").AddStmt(value).Add(" AS val, toUInt64(uniqUpToIfMerge(25)(visitors_k)) AS r_k")
	if p.K > ExactK {
		s.Add(", toUInt64(uniqExactIfMerge(visitors)) AS r_est")
	} else {
		s.Add(", toUInt64(0) AS r_est")
	}
	return s.Add(`, toUInt64(sum(pageviews) - sum(anon_pageviews)) AS r_pv, toUInt64(sum(anon_pageviews)) AS r_apv,
		toUInt64(sum(engaged_ms)) AS r_eng, toUInt64(sum(engagements)) AS r_engn,
		toUInt64(sum(event_count) - sum(anon_pageviews)) AS r_ec FROM `).
		AddStmt(dimsSource(p, dim, cond)).Add(" GROUP BY val")
}

// MVVisitorsSQL is the second step: visitors and visits of the values
// shown. The primary key finds their rows (sorted by value) alone.
func MVVisitorsSQL(p *Plan, dim query.Dimension, event, key string, values []string) *Stmt {
	value, cond := MVValue(dim, event, key)
	in := new(Stmt).AddStmt(cond)
	if dim == query.DimEventProp {
		in.Add(" AND has(?, ", values).AddStmt(value).Add(")")
	} else {
		set := make([]any, len(values))
		for i, v := range values {
			set[i] = v
		}
		in.Add(" AND value IN ?", ch.GroupSet{Value: set})
	}
	return new(Stmt).Add("SELECT ").AddStmt(value).Add(" AS val, toUInt64(" + p.dimsMerge("visitors") + ") AS r_vs, toUInt64(" + p.dimsMerge("sessions") + ") AS r_ss FROM ").
		AddStmt(dimsSource(p, dim, in)).Add(" GROUP BY val")
}

// MVOtherSQL: visitors and visits of the values with fewer than k
// visitors, together. The subquery finds those values from the small
// exact counts; only their rows' sketches are read (by the primary key,
// unless the value is derived, as for event properties).
func MVOtherSQL(p *Plan, dim query.Dimension, event, key string) *Stmt {
	value, cond := MVValue(dim, event, key)
	having := new(Stmt).Add(" HAVING uniqUpToIfMerge(25)(visitors_k) < ?", p.K)
	if p.K > ExactK {
		having = new(Stmt).Add(" HAVING uniqExactIfMerge(visitors) < ?", p.K)
	}
	return new(Stmt).Add("SELECT toUInt64(" + p.dimsMerge("visitors") + ") AS r_vs, toUInt64(" + p.dimsMerge("sessions") + ") AS r_ss, " +
		"toUInt64(uniqUpToIfMerge(25)(visitors_k)) AS r_k FROM ").
		AddStmt(dimsSource(p, dim, new(Stmt).AddStmt(cond).Add(" AND ").AddStmt(value).
			Add(" IN (SELECT ").AddStmt(value).Add(" AS small_val FROM ").AddStmt(dimsSource(p, dim, cond)).
			Add(" GROUP BY small_val").AddStmt(having).Add(")")))
}

// MVDimTotalsSQL: visitors and visits over every value of dim.
func MVDimTotalsSQL(p *Plan, dim query.Dimension, event, key string) *Stmt {
	_, cond := MVValue(dim, event, key)
	td := totalsDim(dim)
	if td != dim {
		cond = new(Stmt)
	}
	return new(Stmt).Add("SELECT toUInt64(" + p.dimsMerge("visitors") + ") AS r_vs, toUInt64(" + p.dimsMerge("sessions") + ") AS r_ss FROM ").
		AddStmt(dimsSource(p, td, cond))
}

// rawDim is how a breakdown reads dim from events: the table (with the
// ARRAY JOIN of event properties), the value's expression, the rows that
// carry it and their bound arguments.
func rawDim(dim query.Dimension, event, key string) (from, expr, rows string, rowArgs []any) {
	d := dimSQLs[dim]
	from, expr, rows = migrations.Events, d.expr, d.rows
	if dim == query.DimEventProp {
		from = migrations.Events + " ARRAY JOIN prop_keys AS p_key, prop_values AS p_value"
		expr, rows, rowArgs = "p_value", "type = 'custom' AND name = ? AND p_key = ?", []any{event, key}
		if key == "" {
			expr, rows, rowArgs = "p_key", "type = 'custom' AND name = ?", []any{event}
		}
	}
	return from, expr, rows, rowArgs
}

// RawBreakdownSQL breaks filtered traffic down, from events, folded in SQL.
// For DimEventProp, event names the custom event and key the property
// (empty: the rows are the event's property keys). Every count is exact.
func RawBreakdownSQL(p *Plan, dim query.Dimension, event, key string, limit int) *Stmt {
	d := dimSQLs[dim]
	from, expr, rows, rowArgs := rawDim(dim, event, key)
	vis := "visitor_id != " + zeroUUID + " AND " + d.primary
	// Anonymous page views count only in the page views of page-view
	// dimensions; leaving them out elsewhere spares reading them.
	dk, _ := query.Lookup(dim)
	visits := "session_id != " + zeroUUID + " AND " + d.primary
	inner := new(Stmt).Add("SELECT " + expr + " AS val, " +
		"uniqUpToIfState(25)(" + visitorKey + ", " + vis + ") AS vk, " +
		"uniqExactIfState(" + visitorKey + ", " + vis + ") AS vs, " +
		"uniqExactIfState(" + sessionKey + ", " + visits + ") AS ss, " +
		"toUInt64(countIf(type = 'pageview' AND visitor_id != " + zeroUUID + ")) AS pv, " +
		"toUInt64(countIf(type = 'pageview' AND visitor_id = " + zeroUUID + ")) AS apv, " +
		"toUInt64(sumIf(duration_ms, type = 'engagement')) AS eng, toUInt64(countIf(type = 'engagement')) AS engn, " +
		"toUInt64(countIf(" + vis + ")) AS ec FROM ")
	if dim == query.DimEventProp {
		// PREWHERE may not name the ARRAY JOIN's columns.
		inner.Add(from+" WHERE ").AddStmt(eventsWhere(p, dk.Kind == query.KindPage)).Add(" AND ("+rows+")", rowArgs...).
			AddStmt(filterWhere(p, false))
	} else {
		inner.AddStmt(filteredEvents(p, from, rows, rowArgs, eventsWhere(p, dk.Kind == query.KindPage)))
	}
	inner.Add(" GROUP BY val")
	return FoldSQL(inner, "uniqUpToIfMerge(25)", "vs", TrafficCols, []string{"vs", "ec", "pv"}, p.K, limit)
}

// ---------------------------------------------------------------------------
// Sessions: bounce rate, visit duration, entry and exit pages, returning
// visitors, navigation paths. Always from events, on a sample of visitors
// when the range is large; never anonymous page views.

// sessionsSQL is one row per visit with at least one page view in range:
// from report_sessions (one row per visit and day) without filters, else
// from events.
func sessionsSQL(p *Plan) *Stmt {
	if p.UseMV() {
		return new(Stmt).Add(`SELECT session_id AS sid, any(visitor_id) AS vis,
		toUInt64(sum(pageviews)) AS s_pv, toUInt64(sum(engaged_ms)) AS s_eng,
		minMerge(first_ts) AS s_first, maxMerge(last_ts) AS s_last,
		argMinIfMerge(entry_page) AS entry_page, argMaxIfMerge(exit_page) AS exit_page
		FROM ` + migrations.ReportSessions + ` WHERE `).AddStmt(eventsWhere(p, false)).Add(" GROUP BY session_id HAVING s_pv > 0")
	}
	return new(Stmt).Add(`SELECT session_id AS sid, any(visitor_id) AS vis,
		toUInt64(countIf(type = 'pageview')) AS s_pv,
		toUInt64(sumIf(duration_ms, type = 'engagement')) AS s_eng,
		min(ts) AS s_first, max(ts) AS s_last,
		argMinIf(path, ts, type = 'pageview') AS entry_page,
		argMaxIf(path, ts, type = 'pageview') AS exit_page
		FROM ` + migrations.Events + ` WHERE `).AddStmt(eventsWhere(p, false)).Add(" AND session_id != " + zeroUUID).
		AddStmt(sessionFilterWhere(p)).Add(" GROUP BY session_id HAVING s_pv > 0")
}

var (
	bounceExpr   = fmt.Sprintf("s_pv = 1 AND s_eng < %d", BounceEngagementMS)
	durationExpr = "toUInt64(s_last) - toUInt64(s_first)"
)

// SessionStatsSQL: visitors, returning visitors (more than one visit),
// visits, bounces and total duration (s).
func SessionStatsSQL(p *Plan) *Stmt {
	return new(Stmt).Add(`SELECT toUInt64(count()) AS n_vis, toUInt64(countIf(n_sess > 1)) AS n_ret,
		toUInt64(sum(n_sess)) AS n_visits, toUInt64(sum(n_bounce)) AS n_bounces, toUInt64(sum(dur)) AS n_dur
		FROM (SELECT vis, count() AS n_sess, countIf(` + bounceExpr + `) AS n_bounce, sum(` + durationExpr + `) AS dur
		FROM (`).AddStmt(sessionsSQL(p)).Add(") GROUP BY vis)")
}

// SessionSeriesSQL: visits, bounces and duration per bucket of visit start.
func SessionSeriesSQL(p *Plan, iv query.Interval) *Stmt {
	return new(Stmt).Add("SELECT " + bucketExpr(iv, "toDate(s_first)", "s_first") + ` AS bucket,
		toUInt64(count()) AS n_visits, toUInt64(countIf(` + bounceExpr + `)) AS n_bounces, toUInt64(sum(` + durationExpr + `)) AS n_dur
		FROM (`).AddStmt(sessionsSQL(p)).Add(") GROUP BY bucket ORDER BY bucket")
}

var SessionCols = []AggCol{{"vs", "uniqExactIfMerge"}, {"n", ""}, {"nb", ""}, {"dur", ""}}

// SessionBreakdownSQL: visits by entry or exit page.
func SessionBreakdownSQL(p *Plan, dim query.Dimension, limit int) *Stmt {
	inner := new(Stmt).Add("SELECT " + sessionColumn[dim] + ` AS val, uniqUpToIfState(25)(vis, toUInt8(1)) AS vk,
		uniqExactIfState(vis, toUInt8(1)) AS vs, toUInt64(count()) AS n, toUInt64(countIf(` + bounceExpr + `)) AS nb,
		toUInt64(sum(` + durationExpr + `)) AS dur FROM (`).AddStmt(sessionsSQL(p)).Add(") GROUP BY val")
	return FoldSQL(inner, "uniqUpToIfMerge(25)", "vs", SessionCols, []string{"vs", "n"}, p.K, limit)
}

var PathCols = []AggCol{{"vs", "uniqExactIfMerge"}, {"n", ""}}

// ---------------------------------------------------------------------------
// Loyalty: how often visitors come (query.KindLoyalty)
//
// A visit counts on the day it starts, when it has a page view. Its days
// since the last visit are "same day" when its visitor had an event earlier
// that day, else the days between its start and the visitor's last earlier
// day with an event (visitor_index), or "first visit" without one. Closed
// days are sealed (report_day_loyalty), each preset window's visits per
// visitor too (report_window_visitors); the rest is counted from
// report_sessions and visitor_index.

// Days lists the days of [from, to] as YYYY-MM-DD.
func Days(from, to time.Time) []string {
	var out []string
	for d := from.UTC().Truncate(24 * time.Hour); !d.After(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// daysBounds returns the first and last of days (YYYY-MM-DD, any order).
func daysBounds(days []string) (string, string) {
	return slices.Min(days), slices.Max(days)
}

// visitsStartingSQL selects the visits that start on one of days: visitor,
// start day (d0) and start (st); sessions, unless nil, selects the session
// IDs they are restricted to (a filter's visits). A visit that started the
// day before one of days is read whole and left out.
func visitsStartingSQL(site string, days []string, sessions *Stmt) *Stmt {
	first, last := daysBounds(days)
	// The days whose day before is not one of days: of that day before,
	// only the visits that go on into them are read.
	var starts []string
	for _, d := range days {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil || !slices.Contains(days, t.AddDate(0, 0, -1).Format(time.DateOnly)) {
			starts = append(starts, d)
		}
	}
	s := new(Stmt).Add(`SELECT visitor_id, session_id, min(date) AS d0, minMerge(first_ts) AS st, sum(pageviews) AS pv FROM `+
		migrations.ReportSessions+` WHERE site_id = ? AND date >= toDate(?) - 1 AND date <= toDate(?)
		AND (date IN (SELECT toDate(arrayJoin(?))) OR (date + 1 IN (SELECT toDate(arrayJoin(?))) AND session_id IN (SELECT session_id FROM `+
		migrations.ReportSessions+` WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?))))))`, site, first, last, days, starts, site, starts)
	if sessions != nil {
		s.Add(" AND session_id IN (").AddStmt(sessions).Add(")")
	}
	return s.Add(" GROUP BY visitor_id, session_id HAVING d0 IN (SELECT toDate(arrayJoin(?))) AND pv > 0", days)
}

// sinceRowsSQL: one row per visit of visitsStartingSQL, with its start day
// (d0), its days since the last visit (since) and its visitor's key (vkey).
func sinceRowsSQL(site string, days []string, sessions *Stmt) *Stmt {
	_, last := daysBounds(days)
	return new(Stmt).Add(`SELECT d0, multiIf(st > day_first, 'same day', prev = 0, 'first visit', gap = 1, '1 day', gap <= 7, '2-7 days',
		gap <= 30, '8-30 days', gap <= 90, '31-90 days', 'more than 90 days') AS since, `+visitorKey+` AS vkey
		FROM (SELECT visitor_id, d0, st, day_first, toUInt16(arrayReduce('max', arrayFilter(x -> x < d0, seen))) AS prev,
			toInt32(toUInt16(d0)) - toInt32(prev) AS gap
		FROM (SELECT visitor_id, d0, st, day_first FROM (`).AddStmt(visitsStartingSQL(site, days, sessions)).
		Add(`) AS visits ANY LEFT JOIN (SELECT visitor_id, date AS d0, minMerge(first_ts) AS day_first FROM `+migrations.ReportSessions+
			` WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?))) GROUP BY visitor_id, date) AS firsts USING (visitor_id, d0)) AS started
		ANY LEFT JOIN (SELECT visitor_id, groupUniqArray(date) AS seen FROM `+migrations.VisitorIndex+
			` WHERE site_id = ? AND date < toDate(?) AND visitor_id IN (SELECT visitor_id FROM `+migrations.ReportSessions+
			` WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?)))) GROUP BY visitor_id) AS earlier USING visitor_id)`,
			site, days, site, last, site, days)
}

// sinceStates groups sinceRowsSQL by bucket (and day, with byDay) into the
// states of report_day_loyalty.
func sinceStates(site string, days []string, sessions *Stmt, byDay bool) *Stmt {
	group := "since"
	if byDay {
		group = "d0, since"
	}
	return new(Stmt).Add("SELECT " + group + `, uniqUpToState(25)(vkey) AS vk, uniqExactState(vkey) AS vs, toUInt64(count()) AS n FROM (`).
		AddStmt(sinceRowsSQL(site, days, sessions)).Add(") GROUP BY " + group)
}

var LoyaltyCols = []AggCol{{"vs", "uniqExactMerge"}, {"n", ""}}

// DaysSinceSQL: the visits of the sealed days (seals: "YYYY-MM-DD|ms" of
// each day's valid seal) and of the live days, by days since the last
// visit, folded to k visitors; columns as LoyaltyCols (visitors, visits).
func DaysSinceSQL(site string, seals, live []string, sessions *Stmt, k int) *Stmt {
	inner := new(Stmt).Add("SELECT val, uniqUpToMergeState(25)(vk) AS vk, uniqExactMergeState(vs) AS vs, toUInt64(sum(n)) AS n FROM (")
	union := ""
	if len(seals) > 0 {
		first, last := daysBounds(seals)
		inner.Add(`SELECT since AS val, visitors_k AS vk, visitors AS vs, visits AS n FROM `+migrations.ReportDayLoyalty+
			` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND since != ''
			AND has(?, concat(toString(date), '|', toString(sealed_ms)))`, site, first[:10], last[:10], seals)
		union = " UNION ALL "
	}
	if len(live) > 0 {
		inner.Add(union + "SELECT since AS val, vk, vs, n FROM (").AddStmt(sinceStates(site, live, sessions, false)).Add(")")
	}
	inner.Add(") GROUP BY val")
	return FoldSQL(inner, "uniqUpToMerge(25)", "vs", LoyaltyCols, []string{"n"}, k, 0)
}

// SiteDayEventsSQL: each day of a site in [from, before) with events and
// its count of event rows.
const SiteDayEventsSQL = `SELECT toString(date), toUInt64(sum(event_count)) FROM ` + migrations.ReportDaily +
	` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) GROUP BY date`

// DaySealsSQL reads the complete seals of report_day_loyalty in [from,
// before): day, the event count it was taken at, and its time; the newest
// seal of each day.
const DaySealsSQL = `SELECT toString(date), argMax(events, sealed_ms), max(sealed_ms) FROM ` + migrations.ReportDayLoyalty +
	` WHERE site_id = ? AND date >= toDate(?) AND date < toDate(?) AND since = '' GROUP BY date`

// SealDaysSinceSQL writes the loyalty of days (closed) as sealed at ms;
// SealDaysSinceDoneSQL then marks each day's seal complete with the event
// count it was taken at.
func SealDaysSinceSQL(ms uint64, site string, days []string) *Stmt {
	return new(Stmt).Add(`INSERT INTO `+migrations.ReportDayLoyalty+` (site_id, date, sealed_ms, events, since, visitors_k, visitors, visits)
		SELECT ?, d0, ?, toUInt64(0), since, vk, vs, n FROM (`, site, ms).AddStmt(sinceStates(site, days, nil, true)).Add(")")
}

func SealDaysSinceDoneSQL(ms uint64, site string, days []string, events []uint64) *Stmt {
	return new(Stmt).Add(`INSERT INTO `+migrations.ReportDayLoyalty+` (site_id, date, sealed_ms, events, since, visits)
		SELECT ?, toDate(dc.1), ?, dc.2, '', toUInt64(0) FROM (SELECT arrayJoin(arrayMap((d, c) -> (d, c), ?, ?)) AS dc)`,
		site, ms, days, events)
}

// visitBucket names a visitor's number of visits (column c).
func visitBucket(c string) string {
	return strings.ReplaceAll("multiIf({c} = 1, '1', {c} = 2, '2', {c} <= 5, '3-5', {c} <= 10, '6-10', 'more than 10')", "{c}", c)
}

// perVisitorSQL: each visitor's key (vkey) and number of visits (t) that
// start on one of days.
func perVisitorSQL(site string, days []string, sessions *Stmt) *Stmt {
	return new(Stmt).Add("SELECT " + visitorKey + " AS vkey, toUInt64(count()) AS t FROM (").AddStmt(visitsStartingSQL(site, days, sessions)).
		Add(") GROUP BY visitor_id")
}

// VisitsPerVisitorSQL: the visitors of days by their number of visits
// then: columns val, visitors, visits.
func VisitsPerVisitorSQL(site string, days []string, sessions *Stmt) *Stmt {
	return new(Stmt).Add("SELECT " + visitBucket("t") + ` AS val, toUInt64(count()) AS r_vs, toUInt64(sum(t)) AS r_n FROM (`).
		AddStmt(perVisitorSQL(site, days, sessions)).Add(") GROUP BY val")
}

// VisitsPerVisitorWindowSQL is VisitsPerVisitorSQL for a range of a sealed
// window and the live days after it: the window's distribution, less the
// window's counts of the live days' visitors, plus their counts over both.
func VisitsPerVisitorWindowSQL(site string, w Window, live []string) *Stmt {
	s := new(Stmt).Add("SELECT " + visitBucket("n") + ` AS val, toUInt64(sum(dv)) AS r_vs, toUInt64(sum(dn)) AS r_n FROM (
		SELECT toUInt64(visits) AS n, toInt64(count()) AS dv, toInt64(visits) * dv AS dn FROM (`).
		AddStmt(windowVisitorsSQL(site, w, "visits")).Add(") GROUP BY visits")
	if len(live) > 0 {
		// A live visitor known to the window moves from its count there
		// (w) to w + t; a new one adds t.
		s.Add(` UNION ALL SELECT c.1 AS n, c.2 AS dv, c.3 AS dn FROM (SELECT arrayJoin(if(w = 0, [(t, toInt64(1), toInt64(t))],
			[(w, toInt64(-1), -toInt64(w)), (w + t, toInt64(1), toInt64(w + t))])) AS c FROM (SELECT vkey, t, w FROM (`).AddStmt(perVisitorSQL(site, live, nil)).
			Add(") AS live ANY LEFT JOIN (").AddStmt(liveWindowSQL(site, w, live, "visitor AS vkey, toUInt64(visits) AS w")).Add(") AS win USING vkey))")
	}
	return s.Add(") GROUP BY val")
}

// liveWindowSQL selects cols of the window's visitors who have a session on
// one of the live days: the right side of a join with the live visitors.
func liveWindowSQL(site string, w Window, live []string, cols string) *Stmt {
	return windowVisitorsSQL(site, w, cols).Add(" AND visitor IN (SELECT "+visitorKey+" FROM "+migrations.ReportSessions+
		" WHERE site_id = ? AND date IN (SELECT toDate(arrayJoin(?))))", site, live)
}

// sinceMasksSQL: each visitor of sinceRowsSQL (vkey) with the buckets of
// their visits' days since the last visit as bits (m: bit i for
// query.DaysSinceLastVisitBuckets[i]) and the bucket of each visit (bis).
func sinceMasksSQL(site string, days []string, sessions *Stmt) *Stmt {
	return new(Stmt).Add(`SELECT vkey, groupBitOr(bitShiftLeft(toUInt8(1), bi)) AS m, groupArray(bi) AS bis
		FROM (SELECT vkey, toUInt8(indexOf(?, since) - 1) AS bi FROM (`, query.DaysSinceLastVisitBuckets).
		AddStmt(sinceRowsSQL(site, days, sessions)).Add(")) GROUP BY vkey")
}

// SealWindowVisitorsSQL writes every visitor of the window [from, end] as
// sealed at ms: their number of visits and the buckets of those visits'
// days since the last visit (bits, as sinceMasksSQL).
func SealWindowVisitorsSQL(site string, from, end time.Time, days int, ms uint64) *Stmt {
	return new(Stmt).Add(`INSERT INTO `+migrations.ReportWindowVisitors+` (site_id, date, days, sealed_ms, visitor, visits, since_mask)
		SELECT ?, toDate(?), ?, ?, vkey, toUInt32(length(bis)), toUInt8(m) FROM (`, site, end, days, ms).
		AddStmt(sinceMasksSQL(site, Days(from, end), nil)).Add(")")
}

// TotalBucket is the bucket index of DaysSinceWindowSQL's total row.
const TotalBucket = 7

// windowVisitorsSQL selects cols of a sealed window's visitors.
func windowVisitorsSQL(site string, w Window, cols string) *Stmt {
	return new(Stmt).Add("SELECT "+cols+" FROM "+migrations.ReportWindowVisitors+
		" WHERE site_id = ? AND date = toDate(?) AND days = ? AND sealed_ms = ?", site, w.End, w.Days, w.SealedMS)
}

// liveMasksSQL: the live days' visitors (sinceMasksSQL), each with their
// window's buckets (w, 0 for a visitor new to the window).
func liveMasksSQL(site string, w Window, live []string) *Stmt {
	return new(Stmt).Add("SELECT vkey, m, bis, w FROM (").AddStmt(sinceMasksSQL(site, live, nil)).
		Add(") AS live ANY LEFT JOIN (").AddStmt(liveWindowSQL(site, w, live, "visitor AS vkey, since_mask AS w")).Add(") AS win USING vkey")
}

// DaysSinceWindowSQL: the days since the last visit of a range made of a
// sealed window and live days: per bucket index (bi, TotalBucket for all),
// visitors (vs) and visits (n). A bucket's visitors are the window's, plus
// the live days' visitors who had no visit in it in the window; its visits
// are the sums of the window days' seals (seals, "YYYY-MM-DD|ms") and of
// the live days.
func DaysSinceWindowSQL(site string, w Window, seals, live []string) *Stmt {
	first, last := daysBounds(seals)
	s := new(Stmt).Add(`SELECT x.1 AS bi, toUInt64(sum(x.2)) AS vs, toUInt64(sum(x.3)) AS n FROM (
		SELECT (bi, c, toInt64(0)) AS x FROM (SELECT arrayJoin(arrayConcat(`+maskBuckets("since_mask")+`, [toUInt8(7)])) AS bi, c
			FROM (SELECT since_mask, toInt64(count()) AS c FROM (`).AddStmt(windowVisitorsSQL(site, w, "since_mask")).
		Add(`) GROUP BY since_mask)) UNION ALL SELECT (toUInt8(indexOf(?, since) - 1), toInt64(0), toInt64(visits)) AS x FROM `+migrations.ReportDayLoyalty+
			` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND since != ''
			AND has(?, concat(toString(date), '|', toString(sealed_ms)))`, query.DaysSinceLastVisitBuckets, site, first[:10], last[:10], seals)
	if len(live) > 0 {
		// New to a bucket: the live visitor's buckets that are not in
		// their window's; new to the range: not in the window at all.
		s.Add(` UNION ALL SELECT arrayJoin(arrayConcat(arrayMap(b -> (b, toInt64(1), toInt64(0)), ` + maskBuckets("fresh") + `),
			arrayMap(b -> (b, toInt64(0), toInt64(1)), bis), arrayMap(b -> (b, toInt64(1), toInt64(0)), isnew))) AS x
			FROM (SELECT bis, bitAnd(m, bitNot(w)) AS fresh, if(w = 0, [toUInt8(7)], emptyArrayUInt8()) AS isnew FROM (`).
			AddStmt(liveMasksSQL(site, w, live)).Add("))")
	}
	return s.Add(") GROUP BY bi")
}

// maskBuckets lists the bucket indexes whose bits are set in the UInt8
// column c. (The column is passed to the lambda, not captured: 18.16 does
// not see columns captured in nested lambdas.)
func maskBuckets(c string) string {
	return "arrayFilter((b, f) -> bitAnd(f, bitShiftLeft(toUInt8(1), b)) != 0, range(toUInt8(7)), [" + strings.Repeat(c+", ", 6) + c + "])"
}

// DaysSinceWindowVisitorsSQL counts the visitors of DaysSinceWindowSQL's
// range who had a visit in one of the buckets of mask (bits).
func DaysSinceWindowVisitorsSQL(site string, w Window, live []string, mask uint8) *Stmt {
	s := new(Stmt).Add("SELECT toUInt64(count()) FROM (").AddStmt(windowVisitorsSQL(site, w, "since_mask AS bits"))
	if len(live) > 0 {
		s.Add(" AND visitor NOT IN (SELECT vkey FROM (").AddStmt(sinceMasksSQL(site, live, nil)).
			Add(")) UNION ALL SELECT bitOr(m, w) AS bits FROM (").AddStmt(liveMasksSQL(site, w, live)).Add(")")
	}
	return s.Add(") WHERE bitAnd(bits, ?) != 0", mask)
}

// FilteredSessionsSQL selects the sessions of p's range that match its
// filters.
func FilteredSessionsSQL(p *Plan) *Stmt {
	return new(Stmt).Add("SELECT session_id FROM " + migrations.Events + " WHERE ").AddStmt(eventsWhere(p, false)).
		Add(" AND session_id != " + zeroUUID).AddStmt(sessionFilterWhere(p))
}

// PathsSQL: for every page view of page in a visit, the page before it
// ("(entrance)" when it was the first) or after it ("(exit)").
func PathsSQL(p *Plan, page string, next bool, limit int) *Stmt {
	value := "if(idx = 1, '(entrance)', seq[idx - 1])"
	if next {
		value = "if(idx = length(seq), '(exit)', seq[idx + 1])"
	}
	inner := new(Stmt).Add("SELECT "+value+` AS val, uniqUpToIfState(25)(vis, toUInt8(1)) AS vk,
		uniqExactIfState(vis, toUInt8(1)) AS vs, toUInt64(count()) AS n
		FROM (SELECT any(visitor_id) AS vis, arrayMap(t -> t.2, arraySort(t -> t.1, groupArray((ts, path)))) AS seq
		FROM `+migrations.Events+` WHERE `).AddStmt(eventsWhere(p, false)).
		Add(" AND session_id != "+zeroUUID+" AND type = 'pageview'").AddStmt(sessionFilterWhere(p)).
		Add(" AND session_id IN (SELECT session_id FROM "+migrations.Events+" WHERE ").AddStmt(eventsWhere(p, false)).
		Add(" AND type = 'pageview' AND path = ?)", page).
		Add(" GROUP BY session_id) ARRAY JOIN arrayFilter(i -> seq[i] = ?, arrayEnumerate(seq)) AS idx GROUP BY val", page)
	return FoldSQL(inner, "uniqUpToIfMerge(25)", "vs", PathCols, []string{"vs", "n"}, p.K, limit)
}

// ---------------------------------------------------------------------------
// Realtime: the last minutes, straight from events.

// realtimeWhere follows FROM events. Events sort by day and visitor, so
// the last minutes are spread over the whole day: the time is read first
// (PREWHERE), the other columns only for the rows it keeps.
func realtimeWhere(site string, since time.Time) *Stmt {
	return new(Stmt).Add(" PREWHERE ts >= ? WHERE site_id = ? AND date >= toDate(?)", since, site, since)
}

func RealtimeSQL(site string, since time.Time) *Stmt {
	return new(Stmt).Add("SELECT toUInt64(uniqExactIf(visitor_id, visitor_id != " + zeroUUID + ")) AS t_visitors, " +
		"toUInt64(countIf(type = 'pageview')) AS t_pv FROM " + migrations.Events).AddStmt(realtimeWhere(site, since))
}

func RealtimePagesSQL(site string, since time.Time, k, limit int) *Stmt {
	vis := "visitor_id != " + zeroUUID
	inner := new(Stmt).Add("SELECT path AS val, uniqUpToIfState(25)(visitor_id, " + vis + ") AS vk, uniqExactIfState(visitor_id, " + vis + ") AS vs, " +
		"toUInt64(count()) AS n FROM " + migrations.Events).AddStmt(realtimeWhere(site, since)).
		Add(" AND type = 'pageview' GROUP BY val")
	return FoldSQL(inner, "uniqUpToIfMerge(25)", "vs", PathCols, []string{"vs", "n"}, k, limit)
}

// ---------------------------------------------------------------------------
// Plan support

// SizeSQL: the events of the range (of the site, whatever the filters), to
// choose a sample and whether distinct counts may be estimated.
func SizeSQL(p *Plan) *Stmt {
	return new(Stmt).Add("SELECT toUInt64(sum(event_count)) AS t_ec FROM " + migrations.ReportDaily + " WHERE ").AddStmt(rangeWhere(p))
}

// ConsentSizeSQL: the consent decisions of the range.
func ConsentSizeSQL(p *Plan) *Stmt {
	return new(Stmt).Add("SELECT toUInt64(sum(n_decisions)) FROM " + migrations.ReportConsentDecisions + " WHERE ").AddStmt(rangeWhere(p)).Add(" AND dim = 'all'")
}

// UUIDOrderSQL tells how this server orders UUIDs: 1 when the first half is
// the more significant (as strings sort), 0 when the second half is
// (ClickHouse 18.16).
const UUIDOrderSQL = "SELECT toUInt8(toUUID('00000000-0000-0000-0000-000000000001') < toUUID('00000000-0000-0001-0000-000000000000'))"

// ---------------------------------------------------------------------------
// Consent analytics

// ConsentFilterColumns maps the dimensions consent analytics can be
// filtered by to the columns of consent_decisions and consent_impressions.
var ConsentFilterColumns = map[query.Dimension]string{
	query.DimCountry: "country", query.DimDevice: "device", query.DimPage: "path", query.DimLanguage: "language",
}

var consentDimColumns = map[query.ConsentDimension]string{
	query.ConsentCountry: "country", query.ConsentDevice: "device", query.ConsentPage: "path",
	query.ConsentPolicyVersion: "toString(policy_version)", query.ConsentLanguage: "language",
}

func consentFilterWhere(p *Plan) *Stmt {
	s := new(Stmt)
	for _, f := range p.Filters {
		s.Add(" AND ").AddStmt(valueCond(ConsentFilterColumns[f.Dimension], nil, f, false))
	}
	return s
}

const decisionSumsRaw = `toUInt64(count()) AS c_decisions, toUInt64(countIf(action = 'accept_all')) AS c_accept,
	toUInt64(countIf(action = 'reject_all')) AS c_reject, toUInt64(countIf(action = 'custom')) AS c_custom,
	toUInt64(countIf(action = 'withdraw')) AS c_withdraw, toUInt64(countIf(performance = 1)) AS c_perf,
	toUInt64(countIf(functionality = 1)) AS c_func, toUInt64(countIf(targeting = 1)) AS c_tgt, toUInt64(countIf(gpc = 1)) AS c_gpc`

const decisionSumsMV = `toUInt64(sum(n_decisions)) AS c_decisions, toUInt64(sum(n_accept_all)) AS c_accept,
	toUInt64(sum(n_reject_all)) AS c_reject, toUInt64(sum(n_custom)) AS c_custom, toUInt64(sum(n_withdraw)) AS c_withdraw,
	toUInt64(sum(n_performance)) AS c_perf, toUInt64(sum(n_functionality)) AS c_func, toUInt64(sum(n_targeting)) AS c_tgt,
	toUInt64(sum(n_gpc)) AS c_gpc`

// ConsentDecisionsSQL: distinct consent IDs and decision counts, per bucket
// (iv set) or in total. Hourly buckets from the MV come as date and hour.
func ConsentDecisionsSQL(p *Plan, iv query.Interval) *Stmt {
	s := new(Stmt)
	if p.UseMV() {
		dim, key := "all", ""
		switch iv {
		case "":
		case query.Hour:
			dim, key = "hour", "toDateTime(date, 'UTC') + toUInt32(toUInt8(value)) * 3600 AS bucket, "
		default:
			key = bucketExpr(iv, "date", "") + " AS bucket, "
		}
		s.Add("SELECT "+key+"toUInt64("+p.mvMerge("consents", false)+") AS c_consents, "+decisionSumsMV+" FROM "+migrations.ReportConsentDecisions+" WHERE ").
			AddStmt(rangeWhere(p)).Add(" AND dim = ?", dim)
	} else {
		key := ""
		if iv != "" {
			key = bucketExpr(iv, "date", "ts") + " AS bucket, "
		}
		s.Add("SELECT " + key + "toUInt64(" + p.rawCount(consentKey, "1") + ") AS c_consents, " + decisionSumsRaw + " FROM " + migrations.ConsentDecisions + " WHERE ").
			AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p))
	}
	if iv != "" {
		s.Add(" GROUP BY bucket ORDER BY bucket")
	}
	return s
}

// DecisionTimeBounds are the upper bounds, in milliseconds, of the buckets
// of the time to a decision; the last bucket has none.
var DecisionTimeBounds = []uint32{2_000, 5_000, 10_000, 30_000, 60_000}

// DecisionTimeSQL: the decisions made in the banner (decision_ms > 0),
// their median time to the decision (the middle one, the later of two) and
// their count per bucket of DecisionTimeBounds, from consent_decisions.
func DecisionTimeSQL(p *Plan) *Stmt {
	buckets := decisionBuckets("decision_ms", func(cond string) string { return "toUInt64(countIf(" + cond + "))" })
	return new(Stmt).Add("SELECT toUInt64(count()), toUInt64(quantileExact(0.5)(decision_ms)), " + buckets + " FROM " +
		migrations.ConsentDecisions + " WHERE ").AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p)).Add(" AND decision_ms > 0")
}

// decisionBuckets is the array of the decisions per bucket of
// DecisionTimeBounds: count of the condition that col is in each.
func decisionBuckets(col string, count func(cond string) string) string {
	out := make([]string, 0, len(DecisionTimeBounds)+1)
	lo := uint32(0)
	for _, hi := range DecisionTimeBounds {
		out = append(out, count(fmt.Sprintf("%s >= %d AND %s < %d", col, lo, col, hi)))
		lo = hi
	}
	out = append(out, count(fmt.Sprintf("%s >= %d", col, lo)))
	return "[" + strings.Join(out, ", ") + "]"
}

// decisionsStamp counts a site's decisions of [from, end]: what a sealed
// distribution of their times was taken at.
func decisionsStamp(site string, from, end time.Time) *Stmt {
	return new(Stmt).Add("SELECT toUInt64(sum(n_decisions)) FROM "+migrations.ReportConsentDecisions+
		" WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND dim = 'all'", site, from, end)
}

// SealWindowDecisionsSQL writes how many of the banner decisions of the
// window [from, end] took each number of milliseconds, as sealed at ms,
// with the window's count of decisions and a row (0, 0) that marks the
// seal even without banner decisions.
func SealWindowDecisionsSQL(site string, from, end time.Time, days int, ms uint64) *Stmt {
	return new(Stmt).Add(`INSERT INTO `+migrations.ReportWindowDecisions+` (site_id, date, days, sealed_ms, decisions, decision_ms, n)
		SELECT ?, toDate(?), ?, ?, (`, site, end, days, ms).AddStmt(decisionsStamp(site, from, end)).
		Add(`), decision_ms, n FROM (SELECT decision_ms, toUInt64(count()) AS n FROM `+migrations.ConsentDecisions+
			` WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND decision_ms > 0 GROUP BY decision_ms
		UNION ALL SELECT toUInt32(0) AS decision_ms, toUInt64(0) AS n)`, site, from, end)
}

// DecisionWindowSQL finds the newest complete seal (one that
// report_daily_window marks) of the decision times of the window
// [end-days+1, end] whose count of decisions still matches (0 when there
// is none), from each seal's first row (0, 0).
func DecisionWindowSQL(site string, end time.Time, days int) *Stmt {
	from := end.AddDate(0, 0, 1-days)
	return new(Stmt).Add("SELECT toUInt64(max(sealed_ms)) FROM "+migrations.ReportWindowDecisions+
		" WHERE site_id = ? AND date = toDate(?) AND days = ? AND decision_ms = 0 AND decisions = (", site, end, days).AddStmt(decisionsStamp(site, from, end)).
		Add(") AND sealed_ms IN (SELECT sealed_ms FROM "+migrations.ReportDailyWindow+" WHERE site_id = ? AND date = toDate(?) AND days = ?)", site, end, days)
}

// DecisionTimeWindowSQL is DecisionTimeSQL for a plan without filters
// whose closed days are the sealed window w: the window's distribution and,
// with w.Live, that day's decisions, merged; the median is the decision
// at index count/2 in order, as quantileExact picks it.
func DecisionTimeWindowSQL(p *Plan, w Window) *Stmt {
	buckets := decisionBuckets("x.1", func(cond string) string { return "toUInt64(arraySum(arrayMap(x -> if(" + cond + ", x.2, 0), s)))" })
	s := new(Stmt).Add("SELECT total, toUInt64(s[arrayFirstIndex(c -> c > intDiv(total, 2), arrayCumSum(arrayMap(x -> x.2, s)))].1), "+
		buckets+" FROM (SELECT arraySort(groupArray((ms, n))) AS s, toUInt64(sum(n)) AS total FROM ("+
		"SELECT ms, sum(n) AS n FROM (SELECT decision_ms AS ms, n FROM "+migrations.ReportWindowDecisions+
		" WHERE site_id = ? AND date = toDate(?) AND days = ? AND sealed_ms = ?", p.Site, w.End, w.Days, w.SealedMS)
	if !w.Live.IsZero() {
		s.Add(" UNION ALL SELECT decision_ms AS ms, toUInt64(count()) AS n FROM "+migrations.ConsentDecisions+
			" WHERE site_id = ? AND date = toDate(?) AND decision_ms > 0 GROUP BY ms", p.Site, w.Live)
	}
	return s.Add(") GROUP BY ms))")
}

// ConsentImpressionsSQL: impressions, with GPC and with undeclared cookies.
func ConsentImpressionsSQL(p *Plan, iv query.Interval) *Stmt {
	s := new(Stmt)
	if p.UseMV() {
		dim, key := "all", ""
		switch iv {
		case "":
		case query.Hour:
			dim, key = "hour", "toDateTime(date, 'UTC') + toUInt32(toUInt8(value)) * 3600 AS bucket, "
		default:
			key = bucketExpr(iv, "date", "") + " AS bucket, "
		}
		s.Add("SELECT "+key+"toUInt64(sum(n_impressions)) AS c_imp, toUInt64(sum(n_gpc)) AS c_imp_gpc, "+
			"toUInt64(sum(n_undeclared)) AS c_undeclared FROM "+migrations.ReportConsentImpressions+" WHERE ").
			AddStmt(rangeWhere(p)).Add(" AND dim = ?", dim)
	} else {
		key := ""
		if iv != "" {
			key = bucketExpr(iv, "date", "ts") + " AS bucket, "
		}
		s.Add("SELECT " + key + "toUInt64(count()) AS c_imp, toUInt64(countIf(gpc = 1)) AS c_imp_gpc, " +
			"toUInt64(countIf(notEmpty(undeclared_cookies))) AS c_undeclared FROM " + migrations.ConsentImpressions + " WHERE ").
			AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p))
	}
	if iv != "" {
		s.Add(" GROUP BY bucket ORDER BY bucket")
	}
	return s
}

var ConsentCols = []AggCol{{"vs", "uniqExactMerge"}, {"nd", ""}, {"na", ""}, {"nr", ""}, {"nc", ""}, {"nw", ""}, {"np", ""}, {"nf", ""}, {"nt", ""}, {"ng", ""}}

// consentVs names the distinct-consents state of a consent breakdown's
// inner query: vs, or, estimated, the exact one (xs) after the sketch (vs).
func consentVs(p *Plan) string {
	if p.Estimate {
		return "xs"
	}
	return "vs"
}

// ConsentColCount is how many columns ConsentBreakdownSQL's rows carry.
func ConsentColCount(p *Plan) int {
	if p.Estimate {
		return len(ConsentCols) + 1
	}
	return len(ConsentCols)
}

// ConsentBreakdownSQL: decisions per value, folded to k consent IDs, with
// no limit (the values are few; the caller pages).
func ConsentBreakdownSQL(p *Plan, dim query.ConsentDimension) *Stmt {
	inner := new(Stmt)
	if p.UseMV() {
		vs := "uniqExactMergeState(consents)"
		if p.Estimate {
			vs = "uniqCombinedMergeState(consents_est) AS vs, uniqExactMergeState(consents)" // vs, then xs
		}
		inner.Add(`SELECT value AS val, uniqUpToMergeState(25)(consents_k) AS vk, `+vs+` AS `+consentVs(p)+`, sum(n_decisions) AS nd, sum(n_accept_all) AS na,
			sum(n_reject_all) AS nr, sum(n_custom) AS nc, sum(n_withdraw) AS nw, sum(n_performance) AS np,
			sum(n_functionality) AS nf, sum(n_targeting) AS nt, sum(n_gpc) AS ng FROM `+migrations.ReportConsentDecisions+` WHERE `).
			AddStmt(rangeWhere(p)).Add(" AND dim = ? GROUP BY val", string(dim))
	} else {
		inner.Add("SELECT " + consentDimColumns[dim] + ` AS val, uniqUpToState(25)(` + consentKey + `) AS vk, uniqExactState(` + consentKey + `) AS vs, count() AS nd,
			countIf(action = 'accept_all') AS na, countIf(action = 'reject_all') AS nr, countIf(action = 'custom') AS nc,
			countIf(action = 'withdraw') AS nw, countIf(performance = 1) AS np, countIf(functionality = 1) AS nf,
			countIf(targeting = 1) AS nt, countIf(gpc = 1) AS ng FROM ` + migrations.ConsentDecisions + ` WHERE `).
			AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p)).Add(" GROUP BY val")
	}
	cols := ConsentCols
	if p.Estimate {
		cols = slices.Clone(ConsentCols)
		cols[0].merge = "uniqCombinedMerge"
		cols = append(cols, AggCol{"xs", "uniqExactMerge"})
	}
	return FoldSQL(inner, "uniqUpToMerge(25)", exactVs(p), cols, []string{"vs", "nd"}, p.K, 0)
}

// ConsentImpressionsByValueSQL: impressions per value of a consent
// dimension (every value; the caller folds them like the decisions).
func ConsentImpressionsByValueSQL(p *Plan, dim query.ConsentDimension) *Stmt {
	if p.UseMV() {
		return new(Stmt).Add("SELECT value, toUInt64(sum(n_impressions)) AS c_imp, toUInt64(sum(n_gpc)) AS c_imp_gpc, "+
			"toUInt64(sum(n_undeclared)) AS c_undeclared FROM "+migrations.ReportConsentImpressions+" WHERE ").
			AddStmt(rangeWhere(p)).Add(" AND dim = ? GROUP BY value", string(dim))
	}
	return new(Stmt).Add("SELECT " + consentDimColumns[dim] + " AS value, toUInt64(count()) AS c_imp, toUInt64(countIf(gpc = 1)) AS c_imp_gpc, " +
		"toUInt64(countIf(notEmpty(undeclared_cookies))) AS c_undeclared FROM " + migrations.ConsentImpressions + " WHERE ").
		AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p)).Add(" GROUP BY value")
}

// CookiesSQL: banner impressions on which each undeclared cookie (byPage:
// each page and cookie, joined by the unit separator) was present.
func CookiesSQL(p *Plan, byPage bool) *Stmt {
	if p.UseMV() {
		dim := "cookie"
		if byPage {
			dim = "cookie_page"
		}
		return new(Stmt).Add("SELECT value, toUInt64(sum(n_impressions)) AS c_imp FROM "+migrations.ReportConsentImpressions+" WHERE ").
			AddStmt(rangeWhere(p)).Add(" AND dim = ? GROUP BY value ORDER BY c_imp DESC, value", dim)
	}
	value := "cookie_name"
	if byPage {
		value = "concat(path, '\\x1F', cookie_name)"
	}
	return new(Stmt).Add("SELECT " + value + " AS value, toUInt64(count()) AS c_imp FROM " + migrations.ConsentImpressions + " ARRAY JOIN arrayDistinct(undeclared_cookies) AS cookie_name WHERE ").
		AddStmt(rangeWhere(p)).AddStmt(consentFilterWhere(p)).Add(" GROUP BY value ORDER BY c_imp DESC, value")
}

// ---------------------------------------------------------------------------
// Proof of consent: the only statements that read consent IDs.

const proofColumns = `decision_id, consent_id, ts_ms, seq, policy_version, texts_hash, toString(action) AS action_name,
	performance, functionality, targeting, gpc, gpc_source, path, language, country, device`

// ProofHistorySQL lists a consent's decisions in the order they were made:
// by the banner's count, then the time in milliseconds.
func ProofHistorySQL(site, consentID string) *Stmt {
	return new(Stmt).Add("SELECT "+proofColumns+" FROM "+migrations.ConsentDecisions+" WHERE site_id = ? AND consent_id = toUUID(?) ORDER BY seq, ts_ms, decision_id", site, consentID)
}

// BannerVersionSQL reads the banner a decision's texts hash names.
func BannerVersionSQL(site, hash string) *Stmt {
	return new(Stmt).Add("SELECT policy_version, language, config, first_seen FROM "+migrations.BannerVersions+
		" WHERE site_id = ? AND texts_hash = ? ORDER BY first_seen LIMIT 1", site, hash)
}

// ProofExportSQL lists a range's decisions by time, a consent's own in
// their order.
func ProofExportSQL(site string, from, to time.Time) *Stmt {
	return new(Stmt).Add("SELECT "+proofColumns+" FROM "+migrations.ConsentDecisions+" WHERE site_id = ? AND date >= toDate(?) AND date <= toDate(?) ORDER BY ts_ms, seq, decision_id", site, from, to)
}

// Args are the statement's bound arguments, in order.
func (s *Stmt) Args() []any { return s.args }
