// Package report is Crumb's aggregate query layer. Every question goes
// through the same steps, one package each:
//
//   - query: what is asked (Query, Filter, Dimension, Metric), parsed from
//     URL parameters and validated; it depends on nothing else;
//   - plan: how it is answered (which tables, which sample) and every
//     read statement, built from Go constants and bound parameters;
//   - report (this package): runs the statements on ClickHouse and shapes
//     the rows into
//   - result: the typed answers (Overview, Breakdown, …), their JSON and
//     their Table for CSV.
//
// Service.Breakdown, for example, validates a query.Query, asks plan for
// the statement (plan.MVValuesSQL or plan.RawBreakdownSQL), runs it, and
// folds the rows into a result.Breakdown. The package reads, except for
// the seals of its loyalty answers (Service.SealLoyalty,
// Service.SealWindowVisitors) and of the windows' times to decision
// (Service.SealWindowDecisions), which the nodes' sealing job writes; it
// never returns a visitor, session or consent ID, an IP or a single
// event — except the proof-of-consent functions (ConsentHistory,
// ExportDecisions), which exist to show them.
//
// # Definitions
//
//   - Visitors: distinct visitor IDs with any event in the period. Visits:
//     distinct session IDs (a session ends after 30 minutes without an
//     event, in the tracker). Page views without consent (anonymous
//     counting, stored with the zero UUID) count in page views and events,
//     never in visitors, visits or any visit metric.
//   - Views per visit: consented page views per visit.
//   - Bounce rate: the percentage of visits (with a page view in the
//     period) that had exactly one page view and less than 10 s
//     (BounceEngagementMS) of engagement in total.
//   - Visit duration: the mean time from a visit's first to its last event;
//     engagement events are sent when a page is left, so the time on the
//     last page counts. A bounce with no engagement event lasts 0 s.
//   - Time on page: engaged time (engagement events' durations) per
//     consented page view, in seconds; for a page, of that page's views.
//   - Returning visitors: visitors with more than one visit in the period.
//   - Entry and exit pages: the first and last page viewed in a visit.
//   - Navigation paths: for each view of a page within a visit, the page
//     viewed just before ("(entrance)" if none) and just after ("(exit)").
//   - Sources: channel, source and referrer come from page views whose
//     referrer was not the site itself; UTM dimensions from tagged page
//     views. A filter on them keeps the visits that arrived that way. A
//     page view without a referrer or tags is Direct only when it starts
//     a visit: the tracker marks the others (a Referrer-Policy of
//     no-referrer hides the site's own page) and ingest files them as
//     Internal.
//   - Domain type: page views by the kind of network of the visitor's
//     address (package rdns), as ingest stored it.
//   - Days since the last visit: the visits that start in the range and
//     have a page view, by the time since their visitor was last seen:
//     "same day" when the visitor had an event earlier that day, else the
//     days between the visit's day and the visitor's last earlier day with
//     an event (visitor_index, before the range too), or "first visit".
//   - Visits per visitor: the range's visitors by their number of visits
//     that start in it and have a page view.
//   - Filters: page-view attributes (page, country, browser…) keep the
//     events that have the value; acquisition, event and entry/exit filters
//     keep whole visits that have (is, contains) or lack (is_not) a
//     matching event. Visit metrics cover the visits that have at least one
//     event matching every page-view filter.
//
// # Privacy
//
// Every breakdown row covers at least the site's k distinct visitors
// (counted exactly); smaller rows fold into one
// "(other)" row, which is left out when it too covers fewer than k.
// Totals cover every row; with filters that leave fewer than k visitors,
// the overview, time series, breakdowns and goals withhold every number
// (Meta.Withheld says why). Consent rows count distinct consent IDs, and
// undeclared-cookie rows impressions (which carry no ID).
//
// # Exact numbers, and estimates
//
// A number is exact — equal to a recount of the stored rows and of their
// distinct IDs — whenever the query's range holds at most
// Options.ExactEvents events (decisions, for consent numbers; one
// million) or the number is at most Options.ExactCount (100,000). Beyond
// that a distinct count may be an estimate within 1%, and the answer's
// meta says which metrics have estimates and how they were made
// (estimate, estimated, estimation, sample_rate).
//
// Queries without filters read pre-aggregated tables (report_daily,
// report_totals, report_dims, report_consent_*) that materialized views
// fill on every insert (migration 0012). Each distinct count there has two
// states: the exact set of the IDs' 64-bit keys, merged across days so
// that a visitor seen on several days counts once, and a HyperLogLog
// sketch (uniqCombined, 2^17 registers, 0.3% standard error). Small ranges
// merge the exact sets. Large ones (Plan.Estimate) merge the sketches
// first and count again exactly every number whose estimate is under
// ExactCount plus 10%; a breakdown row whose page views or events are
// under that bound is counted exactly at once. A daily time series reads
// the closed days' exact counts sealed by a background job
// (report_day_visitors, report_day_consents; clickhouse.DB.SealDays) as
// long as the day's event count still matches, and the exact sets of the
// other days. Filtered queries read events with the same two counts, so
// both paths give the same number for the same question. The consent
// overview's time to decision (median and buckets) reads, for a sealed
// window, how many of its banner decisions took each number of
// milliseconds (report_window_decisions) while the window's count of
// decisions still matches, and today's decisions: the numbers of every
// decision, from about 47,000 rows instead of 1.7 million. A breakdown
// first reads every value's sums and small exact visitor count
// (uniqUpTo(25)), then counts the visitors of only the rows it shows.
//
// Session metrics (bounce rate, visit duration, returning visitors) of an
// overview or time series read events; when a range holds more than
// Options.SessionSampleEvents events they read a contiguous range of
// visitor IDs holding 1/2^n of the visitors — the primary key (site_id,
// date, visitor_id, ts) skips the rest — and the meta says so; when the
// estimate of returning visitors is under Options.MinEstimated plus 10%
// the query runs again on every visitor. Session breakdowns (entry and
// exit pages, paths) are always exact. Every query carries
// max_execution_time. Filtered reads of events name the page-view
// filters in PREWHERE. One-row statements asked again while the same
// statement is running (the panels of one dashboard load, many loads of
// one share link) wait for it and share its row.
package report
