-- Durable background jobs. The jobs table is also the transactional outbox: a feature inserts its job in the
-- same transaction as the change that calls for it. Workers claim rows with FOR UPDATE SKIP LOCKED and hold a
-- lease (lease_owner, lease_expires_at) that a heartbeat extends; a row whose lease ran out is claimable again.
CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type             text NOT NULL CHECK (type ~ '^[a-z0-9][a-z0-9._:-]{0,99}$'),
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
    priority         integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- Attempts started so far; the running attempt's number while status = 'running'.
    attempts         integer NOT NULL DEFAULT 0,
    -- Per-job override; NULL means the worker's Jobs:Types:{type}:MaxAttempts.
    max_attempts     integer CHECK (max_attempts IS NULL OR max_attempts > 0),
    dedupe_key       text,
    traceparent      text,
    tracestate       text,
    lease_owner      text,
    lease_expires_at timestamptz,
    started_at       timestamptz,
    last_error       text,
    replays          integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK ((status = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (
    -- A queue table churns: vacuum it early so the claim index does not fill with dead entries.
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);

-- The claim order. Partial, so it holds only what is waiting and stays small however long the history grows.
CREATE INDEX jobs_claim_idx ON jobs (priority DESC, run_at, id) WHERE status = 'queued';
-- Depth per type (backpressure, stats, metrics), running rows (lease reaper, concurrency limits), admin filters.
CREATE INDEX jobs_status_type_idx ON jobs (status, type, id);
-- Idempotent enqueue: one unfinished job per (type, dedupe_key). Finished jobs leave the index.
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (type, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');

-- One row per finished attempt (succeeded, failed, or lost with its worker). Kept across replays.
CREATE TABLE job_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker_id   text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'lease_expired')),
    error       text
);
CREATE INDEX job_attempts_job_idx ON job_attempts (job_id, id);

-- Recurring jobs: the worker that moves next_run_at forward (compare-and-set) enqueues that slot's job in the
-- same transaction, so each slot runs once however many Workers instances are up.
CREATE TABLE job_schedules (
    name        text PRIMARY KEY,
    schedule    text NOT NULL,
    job_type    text NOT NULL,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz,
    last_job_id bigint,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
