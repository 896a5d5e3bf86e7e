-- Site, user and API token configuration. Stored in ClickHouse so that every
-- crumb node sharing the database sees the same configuration. Rows are never
-- updated in place: a change inserts a new row with a higher version and
-- readers keep the newest one (ReplacingMergeTree, read with FINAL).

CREATE TABLE IF NOT EXISTS {{local "sites"}}{{onCluster}} (
    site_id String,
    version UInt64,
    deleted UInt8,
    domain String,
    name String,
    extra_domains Array(String),
    policy_version UInt32,
    consent_lifetime_days UInt16,
    retention_months UInt16,
    consent_retention_months UInt16,
    k UInt16,
    search_params Array(String),
    anonymous_counting UInt8,
    banner String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "sites" "ReplacingMergeTree" "version"}}
ORDER BY site_id;
{{distributed "sites"}}

CREATE TABLE IF NOT EXISTS {{local "users"}}{{onCluster}} (
    email String,
    version UInt64,
    deleted UInt8,
    password_hash String,
    role String,
    site_roles String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "users" "ReplacingMergeTree" "version"}}
ORDER BY email;
{{distributed "users"}}

CREATE TABLE IF NOT EXISTS {{local "api_tokens"}}{{onCluster}} (
    token_id String,
    version UInt64,
    revoked UInt8,
    token_hash String,
    name String,
    site_id String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "api_tokens" "ReplacingMergeTree" "version"}}
ORDER BY token_id;
{{distributed "api_tokens"}}
