-- The daily retention sweep (documents.tool-audit-retention) clears tool-call arguments past their retention period.
-- Only rows that still hold arguments are in this index, so the sweep reads what it clears and nothing else.
CREATE INDEX audit_log_tool_arguments_at_idx ON audit_log (at) WHERE arguments IS NOT NULL;
