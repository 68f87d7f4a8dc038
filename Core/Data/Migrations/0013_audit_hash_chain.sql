-- A tamper-evident audit log: every row carries a SHA-256 hash over its canonical content and the previous row's
-- hash, so editing or deleting a row breaks the chain at that row (POST /v1/admin/audit/verify finds it). The chain
-- is built by a trigger, so every writer (the services, the seeder, a psql session) extends it the same way.
ALTER TABLE audit_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN arguments_sha256 bytea,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

CREATE SEQUENCE audit_log_chain_seq AS bigint;

-- Every field in a fixed order as a JSON array (strings escaped, so no two rows share a text). The time is in
-- microseconds since the epoch, which does not depend on the session's time zone. Tool-call arguments are in by
-- their hash: the retention sweep clears the text itself after a while, and that must not read as tampering.
CREATE FUNCTION audit_log_canonical(seq bigint, at timestamptz, actor uuid, action text, target_type text,
                                    target_id text, details jsonb, arguments_sha256 bytea)
RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT convert_to(jsonb_build_array(seq, (extract(epoch FROM at) * 1000000)::bigint, actor, action, target_type,
                                        target_id, details, encode(arguments_sha256, 'hex'))::text, 'UTF8')
$$;

CREATE FUNCTION audit_log_genesis() RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT decode(repeat('00', 32), 'hex') $$;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous bytea;
BEGIN
    -- One link at a time, held to the end of the inserting transaction: the sequence then follows the chain.
    PERFORM pg_advisory_xact_lock(hashtext('audit_log_chain'));
    SELECT hash INTO previous FROM audit_log WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1;
    NEW.chain_seq := nextval('audit_log_chain_seq');
    NEW.arguments_sha256 := CASE WHEN NEW.arguments IS NULL THEN NULL ELSE sha256(convert_to(NEW.arguments, 'UTF8')) END;
    NEW.prev_hash := coalesce(previous, audit_log_genesis());
    NEW.hash := sha256(NEW.prev_hash || audit_log_canonical(NEW.chain_seq, NEW.at, NEW.actor_user_id, NEW.action,
        NEW.target_type, NEW.target_id, NEW.details, NEW.arguments_sha256));
    RETURN NEW;
END
$$;

-- Rows written before this migration join the chain in the order they were written.
DO $$
DECLARE
    row record;
    previous bytea := audit_log_genesis();
    seq bigint;
BEGIN
    FOR row IN SELECT * FROM audit_log ORDER BY id LOOP
        seq := nextval('audit_log_chain_seq');
        UPDATE audit_log SET
            chain_seq = seq,
            arguments_sha256 = CASE WHEN row.arguments IS NULL THEN NULL ELSE sha256(convert_to(row.arguments, 'UTF8')) END,
            prev_hash = previous,
            hash = sha256(previous || audit_log_canonical(seq, row.at, row.actor_user_id, row.action, row.target_type,
                row.target_id, row.details,
                CASE WHEN row.arguments IS NULL THEN NULL ELSE sha256(convert_to(row.arguments, 'UTF8')) END))
        WHERE id = row.id
        RETURNING hash INTO previous;
    END LOOP;
END
$$;

ALTER TABLE audit_log ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX audit_log_chain_seq_idx ON audit_log (chain_seq);
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
