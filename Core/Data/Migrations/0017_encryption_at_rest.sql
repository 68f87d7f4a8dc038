-- Encryption at rest (issue 18): message content, memory text (current and history) and document chunk text are
-- stored as AES-256-GCM ciphertext under per-organisation data keys, which are stored here wrapped by the master key
-- (configuration, never the database). See Core/Encryption and docs/security.md.
CREATE TABLE data_keys (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES orgs (id),
    -- 'data' encrypts text and is rotated; 'index' keys the HMAC of the blind index and is only re-wrapped.
    purpose       text NOT NULL CHECK (purpose IN ('data', 'index')),
    -- nonce | wrapped key | tag, bound to (id, org_id, purpose): a wrapped key copied to another row does not unwrap.
    wrapped_key   bytea NOT NULL,
    -- Derived from the master key (a hash of it): which configured master key unwraps this row.
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Retired keys stay: rows not yet re-encrypted are still read with them.
    retired_at    timestamptz
);
CREATE UNIQUE INDEX data_keys_active_idx ON data_keys (org_id, purpose) WHERE retired_at IS NULL;
CREATE INDEX data_keys_master_idx ON data_keys (master_key_id);

-- Each table keeps its plain column for the rows written before this migration (key_id NULL: read as they are,
-- encrypted by the rotation job); an encrypted row has the plain column NULL and the ciphertext beside its key id.
-- The blind index (*_bi) holds the keyed HMAC of each normalised word, for keyword search over ciphertext.
-- The constraints are NOT VALID: existing rows satisfy them, and validating would scan the tables under lock.
ALTER TABLE messages
    ALTER COLUMN content DROP NOT NULL,
    ADD COLUMN key_id uuid REFERENCES data_keys (id),
    ADD COLUMN content_ct bytea,
    ADD COLUMN content_bi bytea[];
ALTER TABLE messages ADD CONSTRAINT messages_content_sealed
    CHECK (CASE WHEN key_id IS NULL THEN content IS NOT NULL AND content_ct IS NULL ELSE content IS NULL AND content_ct IS NOT NULL END) NOT VALID;
CREATE INDEX messages_content_bi_idx ON messages USING gin (content_bi);

-- The conversation list's preview is the start of the last message: sealed like it, under the same key.
ALTER TABLE conversations
    ADD COLUMN preview_key_id uuid REFERENCES data_keys (id),
    ADD COLUMN last_message_preview_ct bytea;

-- The generated tsv becomes NULL for encrypted rows (its input is NULL): the full-text index then only serves the
-- plain rows left from before, and the blind index the rest.
ALTER TABLE memories
    ALTER COLUMN text DROP NOT NULL,
    ADD COLUMN key_id uuid REFERENCES data_keys (id),
    ADD COLUMN text_ct bytea,
    ADD COLUMN text_bi bytea[];
ALTER TABLE memories ADD CONSTRAINT memories_text_sealed
    CHECK (CASE WHEN key_id IS NULL THEN text IS NOT NULL AND text_ct IS NULL ELSE text IS NULL AND text_ct IS NOT NULL END) NOT VALID;
-- Led by the scope key like memories_tsv_idx: a common word costs the matches of the caller's scopes only.
CREATE INDEX memories_text_bi_idx ON memories USING gin (scope_key, text_bi) WHERE invalidated_at IS NULL;

-- Both texts of a history row are sealed under the row's one key (the retention purge sets them NULL).
ALTER TABLE memory_history
    ADD COLUMN key_id uuid REFERENCES data_keys (id),
    ADD COLUMN old_text_ct bytea,
    ADD COLUMN new_text_ct bytea;
ALTER TABLE memory_history ADD CONSTRAINT memory_history_text_sealed
    CHECK (key_id IS NOT NULL OR (old_text_ct IS NULL AND new_text_ct IS NULL)) NOT VALID;

ALTER TABLE document_chunks
    ALTER COLUMN content DROP NOT NULL,
    ADD COLUMN key_id uuid REFERENCES data_keys (id),
    ADD COLUMN content_ct bytea,
    ADD COLUMN content_bi bytea[];
ALTER TABLE document_chunks ADD CONSTRAINT document_chunks_content_sealed
    CHECK (CASE WHEN key_id IS NULL THEN content IS NOT NULL AND content_ct IS NULL ELSE content IS NULL AND content_ct IS NOT NULL END) NOT VALID;
CREATE INDEX document_chunks_content_bi_idx ON document_chunks USING gin (content_bi);

-- The rotation job walks each table by primary key; these find the rows a key still encrypts (status, checks).
CREATE INDEX messages_key_idx ON messages (key_id);
CREATE INDEX conversations_preview_key_idx ON conversations (preview_key_id);
CREATE INDEX memories_key_idx ON memories (key_id);
CREATE INDEX memory_history_key_idx ON memory_history (key_id);
CREATE INDEX document_chunks_key_idx ON document_chunks (key_id);
