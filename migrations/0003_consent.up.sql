-- Proof of consent: every decision a visitor made, with no more data than the
-- proof needs (no IP, no user agent, no visitor ID).

CREATE TABLE IF NOT EXISTS {{local "consent_decisions"}}{{onCluster}} (
    site_id String,
    date Date,
    ts DateTime('UTC'),
    decision_id UUID,
    consent_id UUID,
    policy_version UInt32,
    texts_hash String,
    action Enum8('accept_all' = 1, 'reject_all' = 2, 'custom' = 3, 'withdraw' = 4),
    performance UInt8,
    functionality UInt8,
    targeting UInt8,
    gpc UInt8,
    path String,
    language String,
    country String,
    device String
) ENGINE = {{engine "consent_decisions" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, consent_id, ts);
{{distributed "consent_decisions"}}

-- Banner impressions, counted without any ID so that opt-in rates can be
-- computed. undeclared_cookies lists the names (never values) of cookies the
-- browser held before any decision that the site has not declared necessary.
CREATE TABLE IF NOT EXISTS {{local "consent_impressions"}}{{onCluster}} (
    site_id String,
    date Date,
    ts DateTime('UTC'),
    impression_id UUID,
    policy_version UInt32,
    path String,
    language String,
    country String,
    device String,
    gpc UInt8,
    undeclared_cookies Array(String)
) ENGINE = {{engine "consent_impressions" "MergeTree"}}
PARTITION BY toYYYYMM(date)
ORDER BY (site_id, date, ts);
{{distributed "consent_impressions"}}
