-- Pre-aggregated consent analytics (package report): banner impressions and
-- consent decisions per site, dimension, day and value, filled by
-- materialized views and backfilled from the rows already stored (see
-- 0010_report_traffic for the backfill and retention notes). consents is a
-- HyperLogLog of consent IDs, consents_k an exact count capped at 26 for
-- the k-anonymity check of breakdown rows; no ID can be read back.
--
-- dim is one of: all (value ''), hour (value '0'…'23'), country, device,
-- page, policy_version, language. Impressions also have cookie (an
-- undeclared cookie's name) and cookie_page (path, unit separator \x1F,
-- cookie name).

CREATE TABLE IF NOT EXISTS {{local "report_consent_decisions"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    consents AggregateFunction(uniqHLL12, UUID),
    consents_k AggregateFunction(uniqUpTo(25), UUID),
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
SETTINGS index_granularity = 256;
{{distributed "report_consent_decisions"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_consent_decisions_mv"}}{{onCluster}} TO {{local "report_consent_decisions"}} AS
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    uniqHLL12State(consent_id) AS consents,
    uniqUpToState(25)(consent_id) AS consents_k,
    toUInt64(count()) AS n_decisions,
    toUInt64(countIf(action = 'accept_all')) AS n_accept_all,
    toUInt64(countIf(action = 'reject_all')) AS n_reject_all,
    toUInt64(countIf(action = 'custom')) AS n_custom,
    toUInt64(countIf(action = 'withdraw')) AS n_withdraw,
    toUInt64(countIf(performance = 1)) AS n_performance,
    toUInt64(countIf(functionality = 1)) AS n_functionality,
    toUInt64(countIf(targeting = 1)) AS n_targeting,
    toUInt64(countIf(gpc = 1)) AS n_gpc
FROM {{local "consent_decisions"}}
ARRAY JOIN [
    ('all', ''),
    ('hour', toString(toHour(ts))),
    ('country', country),
    ('device', device),
    ('page', path),
    ('policy_version', toString(policy_version)),
    ('language', language)
] AS d
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_consent_decisions"}} (site_id, dim, date, value, consents, consents_k, n_decisions, n_accept_all, n_reject_all, n_custom, n_withdraw, n_performance, n_functionality, n_targeting, n_gpc)
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    uniqHLL12State(consent_id) AS consents,
    uniqUpToState(25)(consent_id) AS consents_k,
    toUInt64(count()) AS n_decisions,
    toUInt64(countIf(action = 'accept_all')) AS n_accept_all,
    toUInt64(countIf(action = 'reject_all')) AS n_reject_all,
    toUInt64(countIf(action = 'custom')) AS n_custom,
    toUInt64(countIf(action = 'withdraw')) AS n_withdraw,
    toUInt64(countIf(performance = 1)) AS n_performance,
    toUInt64(countIf(functionality = 1)) AS n_functionality,
    toUInt64(countIf(targeting = 1)) AS n_targeting,
    toUInt64(countIf(gpc = 1)) AS n_gpc
FROM {{table "consent_decisions"}}
ARRAY JOIN [
    ('all', ''),
    ('hour', toString(toHour(ts))),
    ('country', country),
    ('device', device),
    ('page', path),
    ('policy_version', toString(policy_version)),
    ('language', language)
] AS d
GROUP BY site_id, dim, date, value;

CREATE TABLE IF NOT EXISTS {{local "report_consent_impressions"}}{{onCluster}} (
    site_id String,
    dim String,
    date Date,
    value String,
    n_impressions UInt64,
    n_gpc UInt64,
    n_undeclared UInt64
) ENGINE = {{engine "report_consent_impressions" "SummingMergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, dim, value, date)
SETTINGS index_granularity = 256;
{{distributed "report_consent_impressions"}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_consent_impressions_mv"}}{{onCluster}} TO {{local "report_consent_impressions"}} AS
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(countIf(notEmpty(undeclared_cookies))) AS n_undeclared
FROM {{local "consent_impressions"}}
ARRAY JOIN [
    ('all', ''),
    ('hour', toString(toHour(ts))),
    ('country', country),
    ('device', device),
    ('page', path),
    ('policy_version', toString(policy_version)),
    ('language', language)
] AS d
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_consent_impressions"}} (site_id, dim, date, value, n_impressions, n_gpc, n_undeclared)
SELECT
    site_id,
    d.1 AS dim,
    date,
    d.2 AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(countIf(notEmpty(undeclared_cookies))) AS n_undeclared
FROM {{table "consent_impressions"}}
ARRAY JOIN [
    ('all', ''),
    ('hour', toString(toHour(ts))),
    ('country', country),
    ('device', device),
    ('page', path),
    ('policy_version', toString(policy_version)),
    ('language', language)
] AS d
GROUP BY site_id, dim, date, value;

-- Undeclared cookies seen before any decision, by name (dim cookie) and by
-- page (dim cookie_page). n_impressions is the number of banner showings
-- on which the cookie was present.

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_consent_cookie_mv"}}{{onCluster}} TO {{local "report_consent_impressions"}} AS
SELECT
    site_id,
    'cookie' AS dim,
    date,
    cookie_name AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(count()) AS n_undeclared
FROM {{local "consent_impressions"}}
ARRAY JOIN arrayDistinct(undeclared_cookies) AS cookie_name
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_consent_impressions"}} (site_id, dim, date, value, n_impressions, n_gpc, n_undeclared)
SELECT
    site_id,
    'cookie' AS dim,
    date,
    cookie_name AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(count()) AS n_undeclared
FROM {{table "consent_impressions"}}
ARRAY JOIN arrayDistinct(undeclared_cookies) AS cookie_name
GROUP BY site_id, dim, date, value;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_consent_cookie_page_mv"}}{{onCluster}} TO {{local "report_consent_impressions"}} AS
SELECT
    site_id,
    'cookie_page' AS dim,
    date,
    concat(path, '\x1F', cookie_name) AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(count()) AS n_undeclared
FROM {{local "consent_impressions"}}
ARRAY JOIN arrayDistinct(undeclared_cookies) AS cookie_name
GROUP BY site_id, dim, date, value;

INSERT INTO {{table "report_consent_impressions"}} (site_id, dim, date, value, n_impressions, n_gpc, n_undeclared)
SELECT
    site_id,
    'cookie_page' AS dim,
    date,
    concat(path, '\x1F', cookie_name) AS value,
    toUInt64(count()) AS n_impressions,
    toUInt64(countIf(gpc = 1)) AS n_gpc,
    toUInt64(count()) AS n_undeclared
FROM {{table "consent_impressions"}}
ARRAY JOIN arrayDistinct(undeclared_cookies) AS cookie_name
GROUP BY site_id, dim, date, value;
