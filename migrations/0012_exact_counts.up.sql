-- Exact distinct counts, erasure that reaches every table, and a visitor's
-- own data found by key.
--
-- 1. The pre-aggregated tables of 0010 and 0011 counted visitors, visits
--    and consents with HyperLogLog sketches (about 1.6% off). They are
--    rebuilt here with two states per count:
--    - visitors, sessions, consents: exact sets (uniqExact) of the IDs'
--      keys. A key is the first 64 bits of the random ID
--      (reinterpretAsUInt64(reinterpretAsString(id)): the same on 18.16
--      and current ClickHouse); v4 UUIDs have 60 random bits there, so
--      two visitors share a key with a probability below 10^-6 at a
--      million visitors. Merging 64-bit keys is 2–3 times faster than
--      merging UUIDs.
--    - *_est: HyperLogLog sketches, which merge in a fraction of the time:
--      in report_totals and report_daily with 2^17 registers
--      (uniqCombined, 0.3% standard error), in report_dims with 2^12
--      (uniqHLL12, 1.6%), since a breakdown merges many of them. The
--      report layer reads them only in ranges holding more than a million
--      events, and the answer says so (package report).
--    The tables are indexed every 8 rows (index_granularity): a query
--    reads whole granules, and a granule of 256 rows made a small row's
--    query deserialize its neighbours' large sets too.
--    visitors_k (uniqUpTo(25)) stays: the k-anonymity check of breakdown
--    rows reads it without merging the large states.
--    The states hold the IDs' keys, so an erasure rebuilds the rows of the
--    days the erased visitor was seen on from events (package clickhouse,
--    DB.Erase): the INSERT … SELECT statements below are those rebuilds,
--    restricted to a site and its days (the Scope of the rendering
--    target), and, unrestricted, this migration's backfill.
-- 2. visitor_index and consent_index find a visitor's days and consent IDs,
--    and a consent's days, by key (GET /api/me, erasure) instead of
--    scanning a site's events.
-- 3. report_day_visitors and report_day_consents: each closed day's exact
--    visitors, visits and consents as plain numbers, with the day's event
--    (decision) count they were taken at. A background job of every node
--    fills them (DB.SealDays); a daily time series reads a day from them
--    when the count still matches the day's rows, and merges the day's
--    exact states otherwise (today, a late event, a rebuilt day).
-- 4. report_dims_window and report_daily_window: the sketches, small
--    visitor counts and sums of report_dims and report_daily merged over
--    the closed days of the dashboard's preset ranges (the last 7 and 30
--    days, this month, and the periods before them), sealed by the same
--    job; date is the window's last day, days its length. A large range
--    whose closed part is sealed, with the same event count, reads the
--    window and today's rows: two states a row instead of one a day.
-- 4a. report_sessions: one row per visit and day, with its visitor, page
--    views, engagement, first and last event and entry and exit pages
--    (states merged across days): bounce rate, visit duration, returning
--    visitors and entry and exit pages read it instead of every event.
--    It holds visitor and session IDs; an erasure rebuilds its days like
--    the other pre-aggregated tables.
-- 5. Consent decisions keep their order: ts_ms is the decision's time in
--    milliseconds, seq the visitor's own count of decisions on the consent
--    (sent by the banner); proofs sort by seq, then ts_ms.
-- 6. consent_revocations: a keyed hash (never the ID) of each consent that
--    a withdrawal, a later decision without performance or an erasure has
--    stopped, with the time; every node reads it to refuse the consent's
--    older tokens. erasure_requests: the same hash of each erased ID, with
--    its state, so that GET /api/me can say whether an erasure is done;
--    kept 31 days.
--
-- Run `crumb migrate` with ingest stopped (crumb serve migrates before it
-- starts ingest): events inserted between a view's creation and its
-- backfill would be counted twice.

DROP TABLE IF EXISTS {{view "report_totals_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_daily_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_dims_pageview_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_dims_engagement_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_dims_event_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_dims_prop_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{view "report_consent_decisions_mv"}}{{onCluster}};
DROP TABLE IF EXISTS {{table "report_totals"}}{{onCluster}};
DROP TABLE IF EXISTS {{local "report_totals"}}{{onCluster}};
DROP TABLE IF EXISTS {{table "report_daily"}}{{onCluster}};
DROP TABLE IF EXISTS {{local "report_daily"}}{{onCluster}};
DROP TABLE IF EXISTS {{table "report_dims"}}{{onCluster}};
DROP TABLE IF EXISTS {{local "report_dims"}}{{onCluster}};
DROP TABLE IF EXISTS {{table "report_consent_decisions"}}{{onCluster}};
DROP TABLE IF EXISTS {{local "report_consent_decisions"}}{{onCluster}};

{{define "traffic_sums"}}
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    uniqCombinedIfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_est,
    uniqCombinedIfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions_est,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    toUInt64(countIf(type = 'engagement')) AS engagements,
    toUInt64(count()) AS event_count
FROM {{.From}}
WHERE 1{{.Scope}}
{{end}}

CREATE TABLE IF NOT EXISTS {{local "report_totals"}}{{onCluster}} (
    site_id String,
    date Date,
    hour DateTime('UTC'),
    visitors AggregateFunction(uniqExactIf, UInt64, UInt8),
    sessions AggregateFunction(uniqExactIf, UInt64, UInt8),
    visitors_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    sessions_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_totals" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, hour)
SETTINGS index_granularity = 8;
{{distributed "report_totals"}}

{{define "report_totals"}}
SELECT
    site_id,
    date,
    toStartOfHour(ts) AS hour,
{{template "traffic_sums" .}}
GROUP BY site_id, date, hour
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_totals_mv"}}{{onCluster}} TO {{local "report_totals"}} AS
{{template "report_totals" (mv "events")}};

INSERT INTO {{table "report_totals"}} (site_id, date, hour, visitors, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_totals" (backfill "events")}};

CREATE TABLE IF NOT EXISTS {{local "report_daily"}}{{onCluster}} (
    site_id String,
    date Date,
    visitors AggregateFunction(uniqExactIf, UInt64, UInt8),
    sessions AggregateFunction(uniqExactIf, UInt64, UInt8),
    visitors_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    sessions_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_daily" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date)
SETTINGS index_granularity = 8;
{{distributed "report_daily"}}

{{define "report_daily"}}
SELECT
    site_id,
    date,
{{template "traffic_sums" .}}
GROUP BY site_id, date
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_daily_mv"}}{{onCluster}} TO {{local "report_daily"}} AS
{{template "report_daily" (mv "events")}};

INSERT INTO {{table "report_daily"}} (site_id, date, visitors, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_daily" (backfill "events")}};

-- report_dims: one row per site, dimension, value and day, sorted by value
-- (see 0010 for which rows carry which dimension).
CREATE TABLE IF NOT EXISTS {{local "report_dims"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    visitors AggregateFunction(uniqExactIf, UInt64, UInt8),
    visitors_k AggregateFunction(uniqUpToIf(25), UInt64, UInt8),
    sessions AggregateFunction(uniqExactIf, UInt64, UInt8),
    visitors_est AggregateFunction(uniqHLL12If, UInt64, UInt8),
    sessions_est AggregateFunction(uniqHLL12If, UInt64, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_dims" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, dim, value, date)
SETTINGS index_granularity = 8;
{{distributed "report_dims"}}

{{define "dim_ids"}}
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_est,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions_est,
{{end}}

{{define "report_dims_pageview"}}
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
{{template "dim_ids"}}
    toUInt64(count()) AS pageviews,
    toUInt64(countIf(visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{.From}}
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
WHERE type = 'pageview'{{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_pageview_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
{{template "report_dims_pageview" (mv "events")}};

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_dims_pageview" (backfill "events")}};

-- Time on page: engagement events add their duration to the page's row.
{{define "report_dims_engagement"}}
SELECT
    site_id,
    'page' AS dim,
    date,
    path AS value,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), toUInt8(0)) AS visitors,
    uniqUpToIfState(25)(reinterpretAsUInt64(reinterpretAsString(visitor_id)), toUInt8(0)) AS visitors_k,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(session_id)), toUInt8(0)) AS sessions,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), toUInt8(0)) AS visitors_est,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(session_id)), toUInt8(0)) AS sessions_est,
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(sum(duration_ms)) AS engaged_ms,
    toUInt64(count()) AS engagements,
    toUInt64(0) AS event_count
FROM {{.From}}
WHERE type = 'engagement'{{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_engagement_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
{{template "report_dims_engagement" (mv "events")}};

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_dims_engagement" (backfill "events")}};

-- Custom events, outbound links, downloads, site-search terms, error pages.
{{define "report_dims_event"}}
SELECT
    site_id,
    multiIf(type = 'custom', 'event', type = 'outbound', 'outbound', type = 'download', 'download', type = 'search', 'search', 'error_page') AS dim,
    date,
    multiIf(type = 'custom', name, type = 'outbound', link_url, type = 'download', link_url, type = 'search', search_term, concat(toString(status), ' ', path)) AS value,
{{template "dim_ids"}}
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{.From}}
WHERE type IN ('custom', 'outbound', 'download', 'search', 'error'){{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_event_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
{{template "report_dims_event" (mv "events")}};

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_dims_event" (backfill "events")}};

-- Custom event properties: value is name, key and value joined by the
-- unit separator (\x1F).
{{define "report_dims_prop"}}
SELECT
    site_id,
    'event_prop' AS dim,
    date,
    concat(name, '\x1F', prop_key, '\x1F', prop_value) AS value,
{{template "dim_ids"}}
    toUInt64(0) AS pageviews,
    toUInt64(0) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{.From}}
ARRAY JOIN prop_keys AS prop_key, prop_values AS prop_value
WHERE type = 'custom'{{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_prop_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
{{template "report_dims_prop" (mv "events")}};

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_dims_prop" (backfill "events")}};

-- Consent decisions per site, dimension, day and value (see 0011).
CREATE TABLE IF NOT EXISTS {{local "report_consent_decisions"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    consents AggregateFunction(uniqExact, UInt64),
    consents_k AggregateFunction(uniqUpTo(25), UInt64),
    consents_est AggregateFunction(uniqCombined, UInt64),
    n_decisions UInt64,
    n_accept_all UInt64,
    n_reject_all UInt64,
    n_custom UInt64,
    n_withdraw UInt64,
    n_performance UInt64,
    n_functionality UInt64,
    n_targeting UInt64,
    n_gpc UInt64
) ENGINE = {{engine "report_consent_decisions" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, dim, value, date)
SETTINGS index_granularity = 8;
{{distributed "report_consent_decisions"}}

{{define "report_consent_decisions"}}
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    uniqExactState(reinterpretAsUInt64(reinterpretAsString(consent_id))) AS consents,
    uniqUpToState(25)(reinterpretAsUInt64(reinterpretAsString(consent_id))) AS consents_k,
    uniqCombinedState(reinterpretAsUInt64(reinterpretAsString(consent_id))) AS consents_est,
    toUInt64(count()) AS n_decisions,
    toUInt64(countIf(action = 'accept_all')) AS n_accept_all,
    toUInt64(countIf(action = 'reject_all')) AS n_reject_all,
    toUInt64(countIf(action = 'custom')) AS n_custom,
    toUInt64(countIf(action = 'withdraw')) AS n_withdraw,
    toUInt64(countIf(performance = 1)) AS n_performance,
    toUInt64(countIf(functionality = 1)) AS n_functionality,
    toUInt64(countIf(targeting = 1)) AS n_targeting,
    toUInt64(countIf(gpc = 1)) AS n_gpc
FROM {{.From}}
ARRAY JOIN [
    ('all', ''),
    ('hour', toString(toHour(ts))),
    ('country', country),
    ('device', device),
    ('page', path),
    ('policy_version', toString(policy_version)),
    ('language', language)
] AS d
WHERE 1{{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_consent_decisions_mv"}}{{onCluster}} TO {{local "report_consent_decisions"}} AS
{{template "report_consent_decisions" (mv "consent_decisions")}};

INSERT INTO {{table "report_consent_decisions"}} (site_id, dim, date, value, consents, consents_k, consents_est, n_decisions, n_accept_all, n_reject_all, n_custom, n_withdraw, n_performance, n_functionality, n_targeting, n_gpc)
{{template "report_consent_decisions" (backfill "consent_decisions")}};

-- A visitor's days and consent IDs, by key. In cluster mode a visitor's
-- rows are on the shard of its events.
CREATE TABLE IF NOT EXISTS {{local "visitor_index"}}{{onCluster}} (
    site_id String,
    visitor_id UUID,
    date Date,
    consent_id UUID,
    events UInt64
) ENGINE = {{engine "visitor_index" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, visitor_id, date, consent_id);
{{distributed "visitor_index"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "visitor_index_mv"}}{{onCluster}} TO {{local "visitor_index"}} AS
SELECT site_id, visitor_id, date, consent_id, toUInt64(count()) AS events
FROM {{local "events"}}
WHERE visitor_id != toUUID('00000000-0000-0000-0000-000000000000')
GROUP BY site_id, visitor_id, date, consent_id;

INSERT INTO {{table "visitor_index"}} (site_id, visitor_id, date, consent_id, events)
SELECT site_id, visitor_id, date, consent_id, toUInt64(count()) AS events
FROM {{table "events"}}
WHERE visitor_id != toUUID('00000000-0000-0000-0000-000000000000')
GROUP BY site_id, visitor_id, date, consent_id;

-- A consent's days, by key.
CREATE TABLE IF NOT EXISTS {{local "consent_index"}}{{onCluster}} (
    site_id String,
    consent_id UUID,
    date Date,
    decisions UInt64
) ENGINE = {{engine "consent_index" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, consent_id, date);
{{distributed "consent_index"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "consent_index_mv"}}{{onCluster}} TO {{local "consent_index"}} AS
SELECT site_id, consent_id, date, toUInt64(count()) AS decisions
FROM {{local "consent_decisions"}}
GROUP BY site_id, consent_id, date;

INSERT INTO {{table "consent_index"}} (site_id, consent_id, date, decisions)
SELECT site_id, consent_id, date, toUInt64(count()) AS decisions
FROM {{table "consent_decisions"}}
GROUP BY site_id, consent_id, date;

{{alter "consent_decisions" "ADD COLUMN ts_ms UInt64 DEFAULT toUInt64(ts) * 1000 AFTER ts"}};
{{alter "consent_decisions" "ADD COLUMN seq UInt32 DEFAULT 0 AFTER ts_ms"}};

CREATE TABLE IF NOT EXISTS {{local "consent_revocations"}}{{onCluster}} (
    site_id String,
    consent_hash String,
    revoked_ms UInt64,
    date Date,
    inserted DateTime('UTC') DEFAULT now()
) ENGINE = {{engine "consent_revocations" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (inserted, site_id);

CREATE TABLE IF NOT EXISTS {{local "erasure_requests"}}{{onCluster}} (
    site_id String,
    id_hash String,
    version UInt64,
    state Enum8('pending' = 1, 'complete' = 2),
    requested_at DateTime('UTC'),
    completed_at DateTime('UTC'),
    date Date
) ENGINE = {{engine "erasure_requests" "ReplacingMergeTree" "version"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, id_hash);

-- Closed days' exact counts (see 3 above). Several nodes may seal the same
-- day: readers take each day's newest row (argMax by sealed_ms, the time
-- of sealing in milliseconds).
CREATE TABLE IF NOT EXISTS {{local "report_day_visitors"}}{{onCluster}} (
    site_id String,
    date Date,
    visitors UInt64,
    visits UInt64,
    events UInt64,
    sealed_ms UInt64
) ENGINE = {{engine "report_day_visitors" "ReplacingMergeTree" "sealed_ms"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date);
{{distributed "report_day_visitors"}}

CREATE TABLE IF NOT EXISTS {{local "report_day_consents"}}{{onCluster}} (
    site_id String,
    date Date,
    consents UInt64,
    decisions UInt64,
    sealed_ms UInt64
) ENGINE = {{engine "report_day_consents" "ReplacingMergeTree" "sealed_ms"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date);
{{distributed "report_day_consents"}}

-- Visits (see 4 above), by site, day, visitor and visit: a sample of
-- visitors is a range of the primary key.
CREATE TABLE IF NOT EXISTS {{local "report_sessions"}}{{onCluster}} (
    site_id String,
    date Date,
    visitor_id UUID,
    session_id UUID,
    pageviews UInt64,
    engaged_ms UInt64,
    first_ts AggregateFunction(min, DateTime('UTC')),
    last_ts AggregateFunction(max, DateTime('UTC')),
    entry_page AggregateFunction(argMinIf, String, DateTime('UTC'), UInt8),
    exit_page AggregateFunction(argMaxIf, String, DateTime('UTC'), UInt8)
) ENGINE = {{engine "report_sessions" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, visitor_id, session_id);
{{distributed "report_sessions"}}

{{define "report_sessions"}}
SELECT
    site_id,
    date,
    visitor_id,
    session_id,
    toUInt64(countIf(type = 'pageview')) AS pageviews,
    toUInt64(sumIf(duration_ms, type = 'engagement')) AS engaged_ms,
    minState(ts) AS first_ts,
    maxState(ts) AS last_ts,
    argMinIfState(path, ts, toUInt8(type = 'pageview')) AS entry_page,
    argMaxIfState(path, ts, toUInt8(type = 'pageview')) AS exit_page
FROM {{.From}}
WHERE session_id != toUUID('00000000-0000-0000-0000-000000000000'){{.Scope}}
GROUP BY site_id, date, visitor_id, session_id
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_sessions_mv"}}{{onCluster}} TO {{local "report_sessions"}} AS
{{template "report_sessions" (mv "events")}};

INSERT INTO {{table "report_sessions"}} (site_id, date, visitor_id, session_id, pageviews, engaged_ms, first_ts, last_ts, entry_page, exit_page)
{{template "report_sessions" (backfill "events")}};

-- Sealed windows (see 4 above). Readers pick one seal (sealed_ms) whose
-- event count still matches the window's days.
CREATE TABLE IF NOT EXISTS {{local "report_dims_window"}}{{onCluster}} (
    site_id String,
    date Date,
    days UInt16,
    sealed_ms UInt64,
    dim String,
    value String,
    visitors_k AggregateFunction(uniqUpToIf(25), UInt64, UInt8),
    visitors_est AggregateFunction(uniqHLL12If, UInt64, UInt8),
    sessions_est AggregateFunction(uniqHLL12If, UInt64, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_dims_window" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, days, sealed_ms, dim, value)
SETTINGS index_granularity = 64;
{{distributed "report_dims_window"}}

CREATE TABLE IF NOT EXISTS {{local "report_daily_window"}}{{onCluster}} (
    site_id String,
    date Date,
    days UInt16,
    sealed_ms UInt64,
    events UInt64,
    visitors_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    sessions_est AggregateFunction(uniqCombinedIf, UInt64, UInt8),
    pageviews UInt64,
    anon_pageviews UInt64,
    engaged_ms UInt64,
    engagements UInt64,
    event_count UInt64
) ENGINE = {{engine "report_daily_window" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, days, sealed_ms);
{{distributed "report_daily_window"}}
