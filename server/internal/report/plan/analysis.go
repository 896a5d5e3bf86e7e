package plan

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

// ---------------------------------------------------------------------------
// Goals, funnels and retention: questions that follow a consented visitor
// across events and days. Always from events (or the visits of
// report_sessions), always exact.

// StepCond is the condition an events row meets when it is the step: a
// page view of the path pattern, or the custom event (with the property
// value).
func StepCond(st query.Step) *Stmt {
	s := new(Stmt)
	switch st.Kind {
	case query.StepPage:
		if st.Wildcard() {
			return s.Add("(type = 'pageview' AND match(path, ?))", PathPattern(st.Path))
		}
		return s.Add("(type = 'pageview' AND path = ?)", st.Path)
	default:
		s.Add("(type = 'custom' AND name = ?", st.Event)
		if st.PropKey != "" {
			s.Add(" AND has(prop_keys, ?) AND prop_values[indexOf(prop_keys, ?)] = ?", st.PropKey, st.PropKey, st.PropValue)
		}
		return s.Add(")")
	}
}

// PathPattern is the anchored regular expression (RE2) of a page pattern:
// * is any characters, the rest literal.
func PathPattern(p string) string {
	parts := strings.Split(p, "*")
	for i, part := range parts {
		parts[i] = regexp.QuoteMeta(part)
	}
	return "^" + strings.Join(parts, ".*") + "$"
}

// goalCond is the condition of the goal a goal filter names (the report
// service checks that the site has it).
func goalCond(p *Plan, name string) *Stmt {
	st, ok := p.Goals[name]
	if !ok {
		return new(Stmt).Add("0")
	}
	return StepCond(st)
}

// GoalsSQL counts, over the range and filters, the visitors with any
// event and, for each goal, the visitors who converted and the
// conversions (matching page views or custom events).
func GoalsSQL(p *Plan, goals []query.Step) *Stmt {
	s := new(Stmt).Add("SELECT toUInt64(uniqExact(" + visitorKey + ")) AS total")
	for _, g := range goals {
		c := StepCond(g)
		s.Add(", toUInt64(uniqExactIf(" + visitorKey + ", ").AddStmt(c).Add(")), toUInt64(countIf(").AddStmt(c).Add("))")
	}
	return s.Add(" FROM " + migrations.Events + " WHERE ").AddStmt(eventsWhere(p, false)).AddStmt(filterWhere(p, false))
}

// FunnelBits is how many low bits of a funnel row's event word hold its
// steps; the rest is the event's time in seconds.
const FunnelBits = 8

// FunnelSQL returns one row per visitor who did the first step in the
// range (filters applied): the visitor's events that are any step, each
// as a word toUInt64(ts) << 8 | mask (bit i set when the event is step
// i+1), and beside each the hash of its visit. Package report follows the
// steps in Go.
func FunnelSQL(p *Plan, steps []query.Step) *Stmt {
	mask := new(Stmt)
	any := new(Stmt)
	for i, st := range steps {
		c := StepCond(st)
		if i > 0 {
			mask.Add(" + ")
			any.Add(" OR ")
		}
		mask.Add("toUInt64(").AddStmt(c).Add(")")
		if i > 0 {
			mask.Add(" * " + strconv.Itoa(1<<i))
		}
		any.AddStmt(c)
	}
	return new(Stmt).Add(`SELECT groupArray(toUInt64(ts) * 256 + m) AS ev, groupArray(` + sessionKey + `) AS ss
		FROM (SELECT visitor_id, session_id, ts, `).AddStmt(mask).Add(" AS m FROM " + migrations.Events + " WHERE ").
		AddStmt(eventsWhere(p, false)).Add(" AND (").AddStmt(any).Add(")").AddStmt(filterWhere(p, false)).
		Add(") GROUP BY visitor_id HAVING max(bitAnd(m, 1)) = 1")
}

// RetentionSQL counts the visitors of each cohort (the interval of their
// first visit in the range, when they made none before it) who visit in
// each interval: rows of cohort, interval and visitors, the cohort's own
// interval being its size. Filters restrict the visits in the range.
func RetentionSQL(p *Plan, iv query.Interval) *Stmt {
	bucket := "toMonday(toDate(s_first))"
	if iv == query.Month {
		bucket = "toStartOfMonth(toDate(s_first))"
	}
	return new(Stmt).Add(`SELECT c, b, toUInt64(count()) FROM (
		SELECT vis, min(b) AS c, groupUniqArray(b) AS bs FROM (SELECT vis, `+bucket+` AS b FROM (`).AddStmt(sessionsSQL(p)).
		Add(")) WHERE vis NOT IN (SELECT visitor_id FROM "+migrations.ReportSessions+" WHERE site_id = ? AND date < toDate(?) AND pageviews > 0)", p.Site, p.From).
		Add(" GROUP BY vis) ARRAY JOIN bs AS b GROUP BY c, b ORDER BY c, b")
}
