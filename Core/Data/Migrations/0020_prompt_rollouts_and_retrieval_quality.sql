-- Staged prompt rollouts: a candidate version serves a stable share of users (1 → 10 → 50 → 100 %) while the
-- active version (the baseline) serves the rest. At most one rollout per prompt runs at a time; finished ones stay
-- as history. Reaching 100 % activates the candidate and completes the rollout.
CREATE TABLE prompt_rollouts (
    id                uuid PRIMARY KEY,
    prompt_name       text NOT NULL,
    candidate_version integer NOT NULL,
    baseline_version  integer NOT NULL,
    percent           integer NOT NULL CHECK (percent IN (1, 10, 50, 100)),
    status            text NOT NULL CHECK (status IN ('running', 'completed', 'stopped', 'auto_stopped')),
    -- Null: advanced by hand only.
    stage_minutes     integer CHECK (stage_minutes IS NULL OR stage_minutes > 0),
    started_by        uuid REFERENCES users (id),
    started_at        timestamptz NOT NULL DEFAULT now(),
    stage_started_at  timestamptz NOT NULL DEFAULT now(),
    next_advance_at   timestamptz,
    ended_at          timestamptz,
    end_reason        text,
    FOREIGN KEY (prompt_name, candidate_version) REFERENCES prompts (name, version),
    FOREIGN KEY (prompt_name, baseline_version) REFERENCES prompts (name, version),
    CHECK (candidate_version <> baseline_version)
);
CREATE UNIQUE INDEX prompt_rollouts_one_running_idx ON prompt_rollouts (prompt_name) WHERE status = 'running';
CREATE INDEX prompt_rollouts_name_idx ON prompt_rollouts (prompt_name, started_at DESC);
-- The rollout comparison counts failed answers per prompt version since the rollout started.
CREATE INDEX messages_prompt_version_idx ON messages (prompt_name, prompt_version, created_at) WHERE role = 'assistant';

-- Retrieval quality per 15-minute window and source ('memory', 'document'). Every Api instance aggregates in
-- memory and adds its counts here, so a window's row is the sum over instances; the average top similarity is
-- similarity_sum / scored. alerted_at marks that the window's low-average alert has fired (once, whichever
-- instance gets there first).
CREATE TABLE retrieval_quality_windows (
    window_start    timestamptz NOT NULL,
    source          text NOT NULL CHECK (source IN ('memory', 'document')),
    retrievals      bigint NOT NULL DEFAULT 0 CHECK (retrievals >= 0),
    scored          bigint NOT NULL DEFAULT 0 CHECK (scored >= 0),
    similarity_sum  double precision NOT NULL DEFAULT 0,
    low_confidence  bigint NOT NULL DEFAULT 0 CHECK (low_confidence >= 0),
    alerted_at      timestamptz,
    PRIMARY KEY (window_start, source)
);

-- Each run of the HNSW recall monitor (Workers), so the retrieval-quality report can show it beside the windows.
CREATE TABLE recall_measurements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    model           text NOT NULL,
    k               integer NOT NULL,
    samples         integer NOT NULL,
    filtered_recall double precision NOT NULL,
    global_recall   double precision NOT NULL,
    nearest_found   double precision NOT NULL
);
CREATE INDEX recall_measurements_at_idx ON recall_measurements (at);
