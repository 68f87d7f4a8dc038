-- Tool calls are audited with what they were asked to do (issue: "who, arguments, result size, duration"). The
-- arguments are stored redacted (SecretDetector) and truncated, so they are text, not jsonb: a truncated JSON document
-- is not valid JSON, and the audit row must be written whatever the model sent. NULL for every other audit action.
ALTER TABLE audit_log ADD COLUMN arguments text;
