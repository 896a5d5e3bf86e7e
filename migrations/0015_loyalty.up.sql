-- How often visitors come: the days since a visit's visitor was last seen,
-- and visitors by their number of visits in a range. Both need every visit
-- of every visitor, so the closed days' answers are sealed, like the exact
-- counts of 0012, by the nodes' sealing job:
--
-- 1. report_day_loyalty: for each closed day, its visits (the visits that
--    start that day and have a page view) by the days since the visitor's
--    previous activity ("same day" when the visitor had an event earlier
--    that day, else the days since the last earlier day with an event,
--    "first visit" when there is none), with the visitors' keys as a small
--    and an exact set. A row with since = '' marks a day's seal complete
--    and holds the day's event count it was taken at; readers use a seal
--    only while the count still matches.
-- 2. report_window_visitors: for each sealed window of the preset periods
--    (report_daily_window), every visitor's key with its number of visits
--    in the window and the buckets of those visits' days since the last
--    visit (since_mask, a bit per bucket). A range of the window and today
--    reads the window's distributions and corrects them for today's
--    visitors alone.
--
-- Both hold 64-bit keys of visitor IDs: an erasure deletes the seals of the
-- erased visitor's days and the site's windows, which are sealed again.

CREATE TABLE IF NOT EXISTS {{local "report_day_loyalty"}}{{onCluster}} (
    site_id String,
    date Date,
    sealed_ms UInt64,
    events UInt64,
    since String,
    visitors_k AggregateFunction(uniqUpTo(25), UInt64),
    visitors AggregateFunction(uniqExact, UInt64),
    visits UInt64
) ENGINE = {{engine "report_day_loyalty" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, sealed_ms, since)
SETTINGS index_granularity = 64;
{{distributed "report_day_loyalty"}}

CREATE TABLE IF NOT EXISTS {{local "report_window_visitors"}}{{onCluster}} (
    site_id String,
    date Date,
    days UInt16,
    sealed_ms UInt64,
    visitor UInt64,
    visits UInt32,
    since_mask UInt8
) ENGINE = {{engine "report_window_visitors" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, days, sealed_ms, visitor);
{{distributed "report_window_visitors"}}

-- Windows sealed before this migration have no visitors: they go, and are
-- sealed again with them.
{{alter "report_daily_window" "DELETE WHERE 1 = 1"}};
