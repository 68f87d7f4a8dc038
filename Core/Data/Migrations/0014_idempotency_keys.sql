-- Idempotency-Key: one row per (user, key) the client sent with a POST that creates or acts. While the first
-- request runs the row is 'running' under a lease (locked_until: a request whose process died can be retried
-- after it); once answered it holds the response, replayed byte for byte until expires_at (24 h), after which
-- the hourly sweep (idempotency.sweep) deletes it.
CREATE TABLE idempotency_keys (
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of method, path, response format and body: the same key with another request is refused.
    request_hash     bytea NOT NULL,
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    response_status  integer,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (user_id, key),
    CHECK ((status = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL))
);

CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
