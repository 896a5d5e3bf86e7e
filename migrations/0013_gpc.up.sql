-- Global Privacy Control as the browser sends it: events record the
-- Sec-GPC request header (gpc), and a decision says what carried its
-- signal (gpc_source: header, script, both, or '' without one).

{{alter "events" "ADD COLUMN gpc UInt8 DEFAULT 0 AFTER status"}};
{{alter "consent_decisions" "ADD COLUMN gpc_source String DEFAULT '' AFTER gpc"}};
