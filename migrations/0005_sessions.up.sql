-- Dashboard login sessions, so that a logout, a password change or a removed
-- user ends a session on every node. The cookie's secret is stored only as
-- its SHA-256 hash. A revocation inserts a new version with revoked = 1;
-- every version of a session has the same expires_at, so it stays in one
-- partition, and reads of live sessions skip the months already past.
CREATE TABLE IF NOT EXISTS {{local "sessions"}}{{onCluster}} (
    session_id String,
    version UInt64,
    revoked UInt8,
    email String,
    secret_hash String,
    created_at DateTime('UTC'),
    expires_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "sessions" "ReplacingMergeTree" "version"}}
PARTITION BY toYYYYMM(expires_at)
ORDER BY session_id;
{{distributed "sessions"}}
