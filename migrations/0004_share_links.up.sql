-- Public, revocable read-only links to one site's dashboard.
CREATE TABLE IF NOT EXISTS {{local "share_links"}}{{onCluster}} (
    share_id String,
    version UInt64,
    revoked UInt8,
    site_id String,
    name String,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = {{engine "share_links" "ReplacingMergeTree" "version"}}
ORDER BY share_id;
{{distributed "share_links"}}
