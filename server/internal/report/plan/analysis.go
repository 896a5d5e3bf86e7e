package plan

import (
	"regexp"
	"strconv"
	"strings"
	"time"

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

// GoalsSQL counts, over the range and filters, the visitors, then for
// each goal the visitors who converted and the conversions (matching page
// views or custom events), from events.
func GoalsSQL(p *Plan, goals []query.Step) *Stmt {
	// First the visitors of the filtered range, the rate's denominator,
	// from the same rows: one read of the events, not two.
	s := new(Stmt).Add("SELECT toUInt64(uniqExact(" + visitorKey + "))")
	for _, g := range goals {
		s.Add(", ")
		c := StepCond(g)
		s.Add("toUInt64(uniqExactIf(" + visitorKey + ", ").AddStmt(c).Add(")), toUInt64(countIf(").AddStmt(c).Add("))")
	}
	return s.Add(" FROM ").AddStmt(filteredEvents(p, migrations.Events, "", nil, eventsWhere(p, false)))
}

// GoalDimsSQL is one goal's visitors and conversions without filters,
// from report_dims: the exact visitor sets of its page (or pages) or
// custom event merged over the range.
func GoalDimsSQL(p *Plan, g query.Step) *Stmt {
	s := new(Stmt)
	switch {
	case g.Kind == query.StepPage:
		s.Add("SELECT toUInt64(uniqExactIfMerge(visitors)), toUInt64(sum(pageviews) - sum(anon_pageviews)) FROM "+migrations.ReportDims+
			" WHERE site_id = ? AND dim = 'page' AND ", p.Site)
		if g.Wildcard() {
			s.Add("match(value, ?)", PathPattern(g.Path))
		} else {
			s.Add("value = ?", g.Path)
		}
	case g.PropKey != "":
		s.Add("SELECT toUInt64(uniqExactIfMerge(visitors)), toUInt64(sum(event_count)) FROM "+migrations.ReportDims+
			" WHERE site_id = ? AND dim = 'event_prop' AND value = ?", p.Site, g.Event+PropSep+g.PropKey+PropSep+g.PropValue)
	default:
		s.Add("SELECT toUInt64(uniqExactIfMerge(visitors)), toUInt64(sum(event_count)) FROM "+migrations.ReportDims+
			" WHERE site_id = ? AND dim = 'event' AND value = ?", p.Site, g.Event)
	}
	return s.Add(" AND date >= toDate(?) AND date <= toDate(?)", p.From, p.To)
}

// FunnelBits is how many low bits of a funnel row's event word hold its
// steps; the rest is the event's time in seconds.
const FunnelBits = 8

// FunnelSQL returns one row per visitor who did the first step in the
// range (filters applied): the visitor's events that are any step, each
// as a word toUInt64(ts) << 8 | mask (bit i set when the event is step
// i+1), and beside each the key of its visit — none for a visitor who
// never did the second step, who reaches the first only. Package report follows the
// steps in Go. Without filters the rows come from report_steps, which
// holds each page view and custom event under its step; with filters,
// from events.
func FunnelSQL(p *Plan, steps []query.Step) *Stmt {
	cond := StepCond
	from, vk, sk, where := migrations.Events, visitorKey, sessionKey, eventsWhere(p, false)
	// What one event is: report_steps holds a custom event once under its
	// name and once more per property, at the same second. Rows of a visit
	// with the same second and name (or page) are one event on both paths,
	// their steps together, so that one event never counts as two steps.
	ident := "if(type = 'custom', concat('e', name), concat('p', path))"
	if p.UseMV() {
		cond = stepKeyCond
		from, vk, sk, where = migrations.ReportSteps, "vk", "sk", rangeWhere(p)
		ident = `splitByChar('\x1F', step)[1]` // PropSep
	}
	mask := new(Stmt)
	any := new(Stmt)
	for i, st := range steps {
		c := cond(st)
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
	// A visitor without the second step reaches the first only: no
	// events to follow (empty arrays).
	// Both arrays in one order (event word, then visit), the same on every
	// ClickHouse: groupArray's own order is not.
	s := new(Stmt).Add(`SELECT if(bitAnd(groupBitOr(m), 2) = 0, emptyArrayUInt64(), arraySort((e, x) -> (e, x), groupArray(toUInt64(ts) * 256 + m), groupArray(s))) AS ev,
		if(bitAnd(groupBitOr(m), 2) = 0, emptyArrayUInt64(), arraySort((x, e) -> (e, x), groupArray(s), groupArray(toUInt64(ts) * 256 + m))) AS ss
		FROM (`)
	// When each row can be one step at most, rows of the same second and
	// step are the same to the follower (it takes a step's first
	// occurrence): the rows need not be merged first (half the time).
	merge := !OneStepPerRow(steps)
	if merge {
		s.Add("SELECT v, s, ts, groupBitOr(m1) AS m FROM (")
	}
	s.Add("SELECT " + vk + " AS v, " + sk + " AS s, ts, ")
	if merge {
		s.Add(ident + " AS e1, ").AddStmt(mask).Add(" AS m1")
	} else {
		s.AddStmt(mask).Add(" AS m")
	}
	s.Add(" FROM " + from + " WHERE ").AddStmt(where).Add(" AND (").AddStmt(any).Add(")")
	if !p.UseMV() {
		s.AddStmt(filterWhere(p, false))
	}
	if merge {
		s.Add(") GROUP BY v, s, ts, e1")
	}
	return s.Add(") GROUP BY v HAVING max(bitAnd(m, 1)) = 1")
}

// OneStepPerRow reports whether every row can be one of steps at most:
// no page pattern, and no two steps of the same page or event (a step
// with a property and one without match the same event).
func OneStepPerRow(steps []query.Step) bool {
	seen := map[string]bool{}
	for _, st := range steps {
		if st.Wildcard() {
			return false
		}
		id, _, _ := strings.Cut(StepKey(st), PropSep)
		if seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}

// StepKey is how report_steps names the rows of a step without a
// wildcard: "p" and the path, "e" and the event's name (and property).
func StepKey(st query.Step) string {
	switch {
	case st.Kind == query.StepPage:
		return "p" + st.Path
	case st.PropKey != "":
		return "e" + st.Event + PropSep + st.PropKey + PropSep + st.PropValue
	}
	return "e" + st.Event
}

// stepKeyCond is StepCond on report_steps: a key, or a page pattern with
// its literal beginning as a prefix the primary key can skip to.
func stepKeyCond(st query.Step) *Stmt {
	if !st.Wildcard() {
		return new(Stmt).Add("(step = ?)", StepKey(st))
	}
	s := new(Stmt).Add("(")
	if prefix, _, _ := strings.Cut(st.Path, "*"); !strings.ContainsAny(prefix, `%_\`) {
		s.Add("step LIKE ? AND ", "p"+prefix+"%")
	}
	return s.Add("match(step, ?))", "^p"+strings.TrimPrefix(PathPattern(st.Path), "^"))
}

// MaxRetentionIntervals is the most weeks or months a retention range
// may span: each visitor's intervals are one 64-bit mask.
const MaxRetentionIntervals = 64

// RetentionSQL finds the new visitors of the range (no page view before
// it) and, per visitor, the interval of their first page view in the
// range and the mask of the intervals with one (bit i: the range's i-th
// week from Monday, or month); it returns rows of first interval, mask
// and visitors. A visitor visits in an interval when they have a page
// view in it; filters restrict the page views (and visits) counted.
func RetentionSQL(p *Plan, iv query.Interval) *Stmt {
	rel := "toRelativeWeekNum"
	if iv == query.Month {
		rel = "toRelativeMonthNum"
	}
	idx := "toUInt8(" + rel + "(date) - " + rel + "(toDate(?)))"
	s := new(Stmt).Add(`SELECT c, m, toUInt64(count()) FROM (
		SELECT toUInt8(min(i)) AS c, groupBitOr(bitShiftLeft(toUInt64(1), i)) AS m FROM (SELECT `+visitorKey+` AS vk, `+idx+` AS i FROM `, p.From)
	if p.UseMV() {
		s.Add(migrations.ReportSessions + " WHERE ").AddStmt(eventsWhere(p, false)).Add(" AND pageviews > 0")
	} else {
		s.Add(migrations.Events + " WHERE ").AddStmt(eventsWhere(p, false)).Add(" AND type = 'pageview'").AddStmt(filterWhere(p, false))
	}
	return s.Add(") WHERE vk NOT IN (SELECT "+visitorKey+" FROM "+migrations.ReportSessions+" WHERE site_id = ? AND date < toDate(?) AND pageviews > 0)", p.Site, p.From).
		Add(" GROUP BY vk) GROUP BY c, m")
}

// CurrentVisitorsSQL is the realtime number (distinct consented visitors
// from 5 minutes before a moment to it, as RealtimeSQL counts) at each of
// the minutes now, now-1m, …
// now-(minutes-1)m: rows of k (minutes back) and visitors; a minute
// without visitors has no row.
func CurrentVisitorsSQL(site string, now time.Time, minutes int) *Stmt {
	since := now.Add(-time.Duration(minutes-1)*time.Minute - 5*time.Minute)
	return new(Stmt).Add(`SELECT k, toUInt64(uniqExact(visitor_id)) FROM (
		SELECT visitor_id, arrayJoin(arraySlice(range(toUInt32(least(intDiv(d, 60), ?) + 1)), if(d > 300, intDiv(d - 241, 60) + 1, 1))) AS k
		FROM (SELECT visitor_id, toInt64(toDateTime(?, 'UTC')) - toInt64(ts) AS d FROM `+migrations.Events+`
		PREWHERE ts >= ? AND ts <= ? WHERE site_id = ? AND date >= toDate(?) AND visitor_id != `+zeroUUID+`)
	) GROUP BY k ORDER BY k`, minutes-1, now, since, now, site, since)
}
