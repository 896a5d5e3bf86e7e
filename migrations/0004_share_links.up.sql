-- Public, revocable read-only links to one site's dashboard.
CREATE TABLE IF NOT EXISTS share_links (
    share_id String,
    version UInt64,
    revoked UInt8,
    site_id String,
    name String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY share_id;
