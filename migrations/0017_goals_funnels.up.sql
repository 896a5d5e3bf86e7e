-- A site's goals and saved funnels, as JSON (model.Goal, model.Funnel),
-- versioned with the rest of the site's configuration.
{{alter "sites" "ADD COLUMN goals String DEFAULT '' AFTER banner"}};
{{alter "sites" "ADD COLUMN funnels String DEFAULT '' AFTER goals"}};
