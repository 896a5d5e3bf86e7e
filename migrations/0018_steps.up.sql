-- Funnel steps: every consented page view and custom event as the step it
-- is ("p" and the path, "e" and the event's name), each custom event's
-- property values too ("e", name, key and value joined by \x1F), with the
-- keys of its visitor and visit and its time, ordered by step: a funnel
-- without filters reads only the rows of its steps. The table holds keys
-- of IDs: an erasure rebuilds its days like the other pre-aggregated
-- tables, and retention cuts it with the events.

CREATE TABLE IF NOT EXISTS {{local "report_steps"}}{{onCluster}} (
    site_id String,
    step String,
    date Date,
    vk UInt64,
    sk UInt64,
    ts DateTime('UTC')
) ENGINE = {{engine "report_steps" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, step, date, vk);
{{distributed "report_steps"}}

{{define "report_steps_event"}}
SELECT
    site_id,
    concat(if(type = 'pageview', 'p', 'e'), if(type = 'pageview', path, name)) AS step,
    date,
    reinterpretAsUInt64(reinterpretAsString(visitor_id)) AS vk,
    reinterpretAsUInt64(reinterpretAsString(session_id)) AS sk,
    ts
FROM {{.From}}
WHERE type IN ('pageview', 'custom') AND visitor_id != toUUID('00000000-0000-0000-0000-000000000000'){{.Scope}}
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_steps_event_mv"}}{{onCluster}} TO {{local "report_steps"}} AS
{{template "report_steps_event" (mv "events")}};

INSERT INTO {{table "report_steps"}} (site_id, step, date, vk, sk, ts)
{{template "report_steps_event" (backfill "events")}};

{{define "report_steps_prop"}}
SELECT
    site_id,
    concat('e', name, '\x1F', prop_key, '\x1F', prop_value) AS step,
    date,
    reinterpretAsUInt64(reinterpretAsString(visitor_id)) AS vk,
    reinterpretAsUInt64(reinterpretAsString(session_id)) AS sk,
    ts
FROM {{.From}}
ARRAY JOIN prop_keys AS prop_key, prop_values AS prop_value
WHERE type = 'custom' AND visitor_id != toUUID('00000000-0000-0000-0000-000000000000'){{.Scope}}
{{end}}

CREATE MATERIALIZED VIEW IF NOT EXISTS {{view "report_steps_prop_mv"}}{{onCluster}} TO {{local "report_steps"}} AS
{{template "report_steps_prop" (mv "events")}};

INSERT INTO {{table "report_steps"}} (site_id, step, date, vk, sk, ts)
{{template "report_steps_prop" (backfill "events")}};
