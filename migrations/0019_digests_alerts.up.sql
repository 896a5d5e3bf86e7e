-- E-mail digests and traffic alerts.
--
-- digest_recipients: who gets a site's digest and how often (week, month,
-- or '' for none), with the random token of their unsubscribe link; an
-- unsubscribe keeps the row (unsubscribed = 1) so that no later command
-- mails the address by mistake. Versioned like the rest of the
-- configuration.
CREATE TABLE IF NOT EXISTS {{local "digest_recipients"}}{{onCluster}} (
    site_id String,
    recipient String,
    version UInt64,
    every String,
    unsubscribed UInt8,
    token String,
    added_by String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "digest_recipients" "ReplacingMergeTree" "version"}}
ORDER BY (site_id, recipient);
{{distributed "digest_recipients"}}

-- notifications: the claims and deliveries of digests and alerts, so that
-- with several crumb nodes each goes out once: a node inserts a claim,
-- reads the claims of the key back, and the earliest sends; then it
-- records the delivery. key names the digest's or alert's period; a
-- few rows a week per recipient and alert, kept.
CREATE TABLE IF NOT EXISTS {{local "notifications"}}{{onCluster}} (
    key String,
    claim_id String,
    state String,
    node String,
    at DateTime('UTC'),
    detail String
) ENGINE = {{engine "notifications" "MergeTree"}}
PARTITION BY toYYYYMM(at)
ORDER BY (key, at, claim_id);
{{distributed "notifications"}}

-- A site's traffic alerts, as JSON (model.Alert), with its other settings.
{{alter "sites" "ADD COLUMN alerts String DEFAULT '' AFTER funnels"}};
