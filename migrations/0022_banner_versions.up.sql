-- Every banner version a proof of consent can name. A decision records the
-- hash of the banner it was made on (texts_hash: policy version, language,
-- texts, categories with their cookies, policy link), while the sites table
-- keeps only a site's current settings. This table keeps, by that hash, the
-- whole banner as visitors were shown it (config, JSON), so that the proof
-- can show the texts behind a decision after the site has changed them or
-- the built-in texts have changed with a release. Each node adds the
-- versions its sites resolve to, in every language, when it starts and
-- when a site's settings change; a hash holds one banner, so the table
-- keeps one row per hash. It holds no visitor's data and is kept.
CREATE TABLE IF NOT EXISTS {{local "banner_versions"}}{{onCluster}} (
    site_id String,
    texts_hash String,
    policy_version UInt32,
    language String,
    config String,
    first_seen DateTime('UTC')
) ENGINE = {{engine "banner_versions" "ReplacingMergeTree"}}
ORDER BY (site_id, texts_hash);
{{distributed "banner_versions"}}
