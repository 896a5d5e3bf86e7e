-- Pre-aggregated traffic for the dashboards (package report). Materialized
-- views fill these tables from every insert into events; the report layer
-- reads them when a query has no filters and reads events itself otherwise.
--
-- Visitors and visits are uniqHLL12If states: exact up to 16 distinct IDs,
-- then a HyperLogLog of 4,096 registers (about 1.6% error) that merges
-- across days cheaply, so a visitor seen on several days counts once.
-- visitors_k is an exact count capped at 26 (uniqUpTo(25)), for the
-- k-anonymity check of breakdown rows. The conditions leave out the zero
-- UUID: anonymous page views (no consent) count as page views but never as
-- visitors or visits. Counters are UInt64 columns summed by
-- SummingMergeTree (every row has a non-zero counter, so none is dropped).
--
-- The column expressions of every dimension here must equal those of
-- server/internal/report/plan/plan.go; TestDimensions_MVMatchesRaw checks it.
--
-- Backfill: a materialized view sees only rows inserted after it exists, so
-- each view is followed by the INSERT … SELECT that aggregates the rows
-- already stored. Run `crumb migrate` before ingest starts (crumb serve does
-- so): rows inserted by another node between the two statements would be
-- counted twice. To rebuild a table later, TRUNCATE it and run its
-- INSERT … SELECT again with ingest stopped.
--
-- Retention and erasure: these tables are partitioned like events
-- (toYYYYMM(date)) and must be cut at the same dates. They hold no visitor,
-- session or consent ID: uniqUpTo and HyperLogLog states keep 64-bit hashes
-- of at most a few dozen IDs per row, from which no ID can be read back.

CREATE TABLE IF NOT EXISTS {{local "report_totals"}}{{onCluster}} (
    site_id String,
    date Date,
    hour DateTime('UTC'),
    visitors AggregateFunction(uniqHLL12If, UUID, UInt8),
    sessions AggregateFunction(uniqHLL12If, UUID, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_totals" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, hour)
SETTINGS index_granularity = 256;
{{distributed "report_totals"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_totals_mv"}}{{onCluster}} TO {{local "report_totals"}} AS
SELECT
    site_id,
    date,
    toStartOfHour(ts) AS hour,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    toUInt64(countIf(type = 'engagement')) AS engagements,
    toUInt64(count()) AS event_count
FROM {{local "events"}}
GROUP BY site_id, date, hour;

INSERT INTO {{table "report_totals"}} (site_id, date, hour, visitors, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    date,
    toStartOfHour(ts) AS hour,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    toUInt64(countIf(type = 'engagement')) AS engagements,
    toUInt64(count()) AS event_count
FROM {{table "events"}}
GROUP BY site_id, date, hour;

-- The same per day: the totals and daily series of a range merge one
-- sketch per day instead of 24.
CREATE TABLE IF NOT EXISTS {{local "report_daily"}}{{onCluster}} (
    site_id String,
    date Date,
    visitors AggregateFunction(uniqHLL12If, UUID, UInt8),
    sessions AggregateFunction(uniqHLL12If, UUID, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_daily" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date)
SETTINGS index_granularity = 256;
{{distributed "report_daily"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_daily_mv"}}{{onCluster}} TO {{local "report_daily"}} AS
SELECT
    site_id,
    date,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    toUInt64(countIf(type = 'engagement')) AS engagements,
    toUInt64(count()) AS event_count
FROM {{local "events"}}
GROUP BY site_id, date;

INSERT INTO {{table "report_daily"}} (site_id, date, visitors, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    date,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    toUInt64(countIf(type = 'engagement')) AS engagements,
    toUInt64(count()) AS event_count
FROM {{table "events"}}
GROUP BY site_id, date;

-- One row per site, dimension, value and day, sorted by value so that the
-- rows of the few values a breakdown shows are read alone (small granules).
-- dim names a dimension of
-- package report; value is its column expression. Page-view dimensions come
-- from page views; acquisition dimensions (channel, source, referrer) only
-- from page views that did not come from the site itself (channel
-- Internal), UTM dimensions only from tagged page views; time on page from
-- engagement events; event dimensions from their own event types.
CREATE TABLE IF NOT EXISTS {{local "report_dims"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    visitors AggregateFunction(uniqHLL12If, UUID, UInt8),
    visitors_k AggregateFunction(uniqUpToIf(25), UUID, UInt8),
    sessions AggregateFunction(uniqHLL12If, UUID, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_dims" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, dim, value, date)
SETTINGS index_granularity = 256;
{{distributed "report_dims"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_pageview_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(count()) AS pageviews,
    toUInt64(countIf(visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{local "events"}}
ARRAY JOIN arrayFilter(x -> x.1 != '', [
    ('page', path),
    ('hostname', hostname),
    ('country', country),
    ('region', if(region = '', '', concat(region, ', ', country))),
    ('city', if(city = '', '', concat(city, ', ', if(region = '', country, concat(region, ', ', country))))),
    ('provider', provider),
    ('browser', browser),
    ('browser_version', if(browser = '', '', concat(browser, ' ', browser_version))),
    ('os', os),
    ('os_version', if(os = '', '', concat(os, ' ', os_version))),
    ('device', device),
    ('screen', screen),
    ('language', language),
    (if(channel != 'Internal', 'channel', ''), channel),
    (if(channel != 'Internal', 'source', ''), source),
    (if(channel != 'Internal', 'referrer', ''), concat(referrer_host, referrer_path)),
    (if(utm_source != '', 'utm_source', ''), utm_source),
    (if(utm_medium != '', 'utm_medium', ''), utm_medium),
    (if(utm_campaign != '', 'utm_campaign', ''), utm_campaign),
    (if(utm_content != '', 'utm_content', ''), utm_content),
    (if(utm_term != '', 'utm_term', ''), utm_term)
]) AS d
WHERE type = 'pageview'
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(count()) AS pageviews,
    toUInt64(countIf(visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{table "events"}}
ARRAY JOIN arrayFilter(x -> x.1 != '', [
    ('page', path),
    ('hostname', hostname),
    ('country', country),
    ('region', if(region = '', '', concat(region, ', ', country))),
    ('city', if(city = '', '', concat(city, ', ', if(region = '', country, concat(region, ', ', country))))),
    ('provider', provider),
    ('browser', browser),
    ('browser_version', if(browser = '', '', concat(browser, ' ', browser_version))),
    ('os', os),
    ('os_version', if(os = '', '', concat(os, ' ', os_version))),
    ('device', device),
    ('screen', screen),
    ('language', language),
    (if(channel != 'Internal', 'channel', ''), channel),
    (if(channel != 'Internal', 'source', ''), source),
    (if(channel != 'Internal', 'referrer', ''), concat(referrer_host, referrer_path)),
    (if(utm_source != '', 'utm_source', ''), utm_source),
    (if(utm_medium != '', 'utm_medium', ''), utm_medium),
    (if(utm_campaign != '', 'utm_campaign', ''), utm_campaign),
    (if(utm_content != '', 'utm_content', ''), utm_content),
    (if(utm_term != '', 'utm_term', ''), utm_term)
]) AS d
WHERE type = 'pageview'
GROUP BY site_id, dim, date, value;

-- Time on page: engagement events add their duration to the page's row.

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_engagement_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
SELECT
    site_id,
    'page' AS dim,
    date,
    path AS value,
    uniqHLL12IfState(visitor_id, toUInt8(0)) AS visitors,
    uniqUpToIfState(25)(visitor_id, toUInt8(0)) AS visitors_k,
    uniqHLL12IfState(session_id, toUInt8(0)) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(sum(duration_ms)) AS engaged_ms,
    toUInt64(count()) AS engagements,
    toUInt64(0) AS event_count
FROM {{local "events"}}
WHERE type = 'engagement'
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    'page' AS dim,
    date,
    path AS value,
    uniqHLL12IfState(visitor_id, toUInt8(0)) AS visitors,
    uniqUpToIfState(25)(visitor_id, toUInt8(0)) AS visitors_k,
    uniqHLL12IfState(session_id, toUInt8(0)) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(sum(duration_ms)) AS engaged_ms,
    toUInt64(count()) AS engagements,
    toUInt64(0) AS event_count
FROM {{table "events"}}
WHERE type = 'engagement'
GROUP BY site_id, dim, date, value;

-- Custom events, outbound links, downloads, site-search terms, error pages.

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_event_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
SELECT
    site_id,
    multiIf(type = 'custom', 'event', type = 'outbound', 'outbound', type = 'download', 'download', type = 'search', 'search', 'error_page') AS dim,
    date,
    multiIf(type = 'custom', name, type = 'outbound', link_url, type = 'download', link_url, type = 'search', search_term, concat(toString(status), ' ', path)) AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{local "events"}}
WHERE type IN ('custom', 'outbound', 'download', 'search', 'error')
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    multiIf(type = 'custom', 'event', type = 'outbound', 'outbound', type = 'download', 'download', type = 'search', 'search', 'error_page') AS dim,
    date,
    multiIf(type = 'custom', name, type = 'outbound', link_url, type = 'download', link_url, type = 'search', search_term, concat(toString(status), ' ', path)) AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{table "events"}}
WHERE type IN ('custom', 'outbound', 'download', 'search', 'error')
GROUP BY site_id, dim, date, value;

-- Custom event properties: value is name, key and value joined by the
-- unit separator (\x1F).

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_prop_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
SELECT
    site_id,
    'event_prop' AS dim,
    date,
    concat(name, '\x1F', prop_key, '\x1F', prop_value) AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{local "events"}}
ARRAY JOIN prop_keys AS prop_key, prop_values AS prop_value
WHERE type = 'custom'
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
SELECT
    site_id,
    'event_prop' AS dim,
    date,
    concat(name, '\x1F', prop_key, '\x1F', prop_value) AS value,
    uniqHLL12IfState(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqHLL12IfState(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{table "events"}}
ARRAY JOIN prop_keys AS prop_key, prop_values AS prop_value
WHERE type = 'custom'
GROUP BY site_id, dim, date, value;
