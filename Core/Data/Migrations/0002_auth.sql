-- Sign-in state: rotating refresh tokens and personal API keys. Only SHA-256 hashes of the secrets are stored,
-- so a leaked database (or backup) cannot be replayed against the Api.

CREATE TABLE refresh_tokens (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Every token rotated out of one login shares its family: reuse of any rotated token revokes them all.
    family_id           uuid NOT NULL,
    token_hash          bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    replaced_by         uuid REFERENCES refresh_tokens (id),
    revoked_reason      text CHECK (revoked_reason IN ('rotated', 'reuse_detected', 'logout')),
    created_ip          text,
    created_user_agent  text,
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
-- For a sweep that deletes long-expired rows.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    -- The visible part of the key ("aai_<prefix>_..."), so a user can tell keys apart without the secret.
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    expires_at    timestamptz
);
-- Listing a user's live keys, newest first.
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC) WHERE revoked_at IS NULL;
