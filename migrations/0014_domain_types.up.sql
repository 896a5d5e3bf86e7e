-- The kind of network a visitor comes from (package rdns): its type, the
-- public suffix of its reverse-DNS name's class (never the name), and what
-- decided it (dns, asn), for the domain_type dimension.

{{alter "events" "ADD COLUMN domain_type String DEFAULT '' AFTER gpc"}};
{{alter "events" "ADD COLUMN domain_suffix String DEFAULT '' AFTER domain_type"}};
{{alter "events" "ADD COLUMN domain_source String DEFAULT '' AFTER domain_suffix"}};

-- Page views by domain type, beside the other page-view dimensions of
-- report_dims (0012); the events stored before have none.
{{define "report_dims_domain"}}
SELECT
    site_id,
    'domain_type' AS dim,
    date,
    domain_type AS value,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors,
    uniqUpToIfState(25)(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_k,
    uniqExactIfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(visitor_id)), visitor_id != toUUID('00000000-0000-0000-0000-000000000000')) AS visitors_est,
    uniqHLL12IfState(reinterpretAsUInt64(reinterpretAsString(session_id)), session_id != toUUID('00000000-0000-0000-0000-000000000000')) AS sessions_est,
    toUInt64(count()) AS pageviews,
    toUInt64(countIf(visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))) AS anon_pageviews,
    toUInt64(0) AS engaged_ms,
    toUInt64(0) AS engagements,
    toUInt64(count()) AS event_count
FROM {{.From}}
WHERE type = 'pageview' AND domain_type != ''{{.Scope}}
GROUP BY site_id, dim, date, value
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_dims_domain_mv"}}{{onCluster}} TO {{local "report_dims"}} AS
{{template "report_dims_domain" (mv "events")}};

INSERT INTO {{table "report_dims"}} (site_id, dim, date, value, visitors, visitors_k, sessions, visitors_est, sessions_est, pageviews, anon_pageviews, engaged_ms, engagements, event_count)
{{template "report_dims_domain" (backfill "events")}};
