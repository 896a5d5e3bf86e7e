-- How long the banner was shown before a decision made in it, in
-- milliseconds (0: not made in the banner, or by an older script).
{{alter "consent_decisions" "ADD COLUMN decision_ms UInt32 DEFAULT 0 AFTER device"}};
