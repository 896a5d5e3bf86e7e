-- The banner's time to decision over a sealed window.
--
-- The consent view's median time to decision and its distribution read
-- every banner decision of the range (1.7 million in 30 days at 10
-- million events), on every load of the default dashboard. The sealing
-- job now also writes, for each window of closed days it seals (0012, 4),
-- how many of the window's banner decisions took each number of
-- milliseconds: about 47,000 rows for those 30 days. A query without
-- filters reads that distribution and today's decisions, and finds the
-- same median (the middle decision, as quantileExact) and counts.
--
-- decisions is the window's count of decisions (report_consent_decisions)
-- when it was sealed: readers use a seal only while that count still
-- matches (an erasure or a late decision makes them read the decisions
-- again until the window is sealed anew). Each seal has a row with
-- decision_ms = 0 and n = 0, so that a window without banner decisions is
-- sealed too.
CREATE TABLE IF NOT EXISTS {{local "report_window_decisions"}}{{onCluster}} (
    site_id String,
    date Date,
    days UInt16,
    sealed_ms UInt64,
    decisions UInt64,
    decision_ms UInt32,
    n UInt64
) ENGINE = {{engine "report_window_decisions" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, days, sealed_ms, decision_ms);
{{distributed "report_window_decisions"}}

-- The windows sealed before have no distribution: they are sealed again
-- (a window is sealed when report_daily_window has no row for it).
{{alter "report_daily_window" "DELETE WHERE 1 = 1"}};
