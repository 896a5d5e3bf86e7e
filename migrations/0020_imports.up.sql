-- Daily aggregates imported from another analytics tool (crumb import):
-- shown, marked as imported, for the days before Crumb's own data; never
-- in consent numbers or the reports that follow one visitor (funnels,
-- retention, paths, loyalty). Each import has an ID; a day shows the
-- newest import's numbers (imported_daily, read FINAL), and a day's rows
-- of imported_dims count only under that import's ID: importing the same
-- export again replaces its days, and an import that stopped half-way
-- (its dims written, not its days) shows nothing.
CREATE TABLE IF NOT EXISTS {{local "imported_daily"}}{{onCluster}} (
    site_id String,
    date Date,
    import_id String,
    imported_at UInt64,
    format String,
    visitors UInt64,
    visits UInt64,
    pageviews UInt64,
    bounces UInt64,
    visit_duration UInt64,
    has_visits UInt8
) ENGINE = {{engine "imported_daily" "ReplacingMergeTree" "imported_at"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date);
{{distributed "imported_daily"}}

CREATE TABLE IF NOT EXISTS {{local "imported_dims"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    import_id String,
    visitors UInt64,
    pageviews UInt64
) ENGINE = {{engine "imported_dims" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, dim, date, value);
{{distributed "imported_dims"}}
