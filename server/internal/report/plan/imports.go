package plan

import (
	"time"

	"github.com/crumbhq/crumb/migrations"
)

// ---------------------------------------------------------------------------
// Imported aggregates (crumb import): the days of another tool's export
// before the site's first own day, each with its newest import.

// ownFirstDay is the site's first day with its own events, or a day far
// ahead when it has none.
const ownFirstDay = `(SELECT if(count() = 0, toDate('2105-12-31'), min(date)) FROM ` + migrations.ReportTotals + ` WHERE site_id = ?)`

func importedWhere(site string, from, to time.Time) *Stmt {
	return new(Stmt).Add("site_id = ? AND date >= toDate(?) AND date <= toDate(?) AND date < "+ownFirstDay, site, from, to, site)
}

// ImportedDaysSQL: the imported days of the range, each day's numbers
// from its newest import: date, format, visitors, visits, page views,
// bounces, visit duration (s), whether visits are known.
func ImportedDaysSQL(site string, from, to time.Time) *Stmt {
	return new(Stmt).Add(`SELECT date, format, visitors, visits, pageviews, bounces, visit_duration, has_visits
		FROM ` + migrations.ImportedDaily + ` FINAL WHERE `).AddStmt(importedWhere(site, from, to)).Add(" ORDER BY date")
}

// ImportedRowsSQL: a dimension's imported values over the range's
// imported days (each day's newest import), most visitors first: value,
// visitors and page views (events) summed over the days.
func ImportedRowsSQL(site, dim string, from, to time.Time, limit int) *Stmt {
	return new(Stmt).Add(`SELECT value, toUInt64(sum(visitors)) AS v, toUInt64(sum(pageviews)) AS pv FROM `+migrations.ImportedDims+`
		WHERE site_id = ? AND dim = ? AND date >= toDate(?) AND date <= toDate(?)
		AND (date, import_id) IN (SELECT date, import_id FROM `+migrations.ImportedDaily+` FINAL WHERE `, site, dim, from, to).
		AddStmt(importedWhere(site, from, to)).Add(") GROUP BY value ORDER BY v DESC, value LIMIT ?", limit)
}
