-- Page events. One row per event; visitor, session and consent IDs are the
-- zero UUID for anonymous counting. No IP address and no user agent is stored.

CREATE TABLE IF NOT EXISTS {{local "events"}}{{onCluster}} (
    site_id String,
    date Date,
    ts DateTime('UTC'),
    event_id UUID,
    type Enum8('pageview' = 1, 'engagement' = 2, 'search' = 3, 'outbound' = 4, 'download' = 5, 'custom' = 6, 'error' = 7),
    visitor_id UUID,
    session_id UUID,
    consent_id UUID,
    hostname String,
    path String,
    referrer_host String,
    referrer_path String,
    source String,
    channel String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country String,
    region String,
    city String,
    asn UInt32,
    provider String,
    browser String,
    browser_version String,
    os String,
    os_version String,
    device String,
    screen String,
    language String,
    name String,
    prop_keys Array(String),
    prop_values Array(String),
    search_term String,
    link_url String,
    duration_ms UInt32,
    status UInt16
) ENGINE = {{engine "events" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, visitor_id, ts)
SETTINGS index_granularity = 8192;
{{distributed "events"}}
