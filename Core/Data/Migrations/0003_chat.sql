-- Conversations and messages: the chat history, owned by a user and soft-deleted.
CREATE TABLE conversations (
    id                   uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES users (id),
    org_id               uuid NOT NULL REFERENCES orgs (id),
    agent_id             text NOT NULL DEFAULT 'default',
    title                text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- Denormalised so the conversation list needs no join or per-row subquery.
    last_message_preview text,
    last_message_at      timestamptz,
    -- Also the per-conversation sequence allocator: incrementing it row-locks the conversation, which
    -- serialises concurrent sends into one conversation.
    message_count        bigint NOT NULL DEFAULT 0,
    deleted_at           timestamptz
);
CREATE INDEX conversations_user_list_idx ON conversations (user_id, updated_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    sequence        bigint NOT NULL,
    role            text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('complete', 'streaming', 'cancelled', 'failed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    model           text,
    prompt_name     text,
    prompt_version  integer,
    input_tokens    integer,
    output_tokens   integer,
    cost            numeric(14, 8),
    latency_ms      integer,
    trace_id        text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- Serves "latest N messages" and keyset pages going back in time; also enforces one row per sequence.
CREATE UNIQUE INDEX messages_conversation_sequence_idx ON messages (conversation_id, sequence DESC);

-- Prompt templates, versioned. A version never changes once written; exactly one version per name is active.
CREATE TABLE prompts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    template    text NOT NULL,
    model       text,
    temperature real CHECK (temperature IS NULL OR (temperature >= 0 AND temperature <= 2)),
    max_tokens  integer CHECK (max_tokens IS NULL OR max_tokens > 0),
    created_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    sha256      text NOT NULL,
    is_active   boolean NOT NULL DEFAULT false,
    UNIQUE (name, version)
);
CREATE UNIQUE INDEX prompts_one_active_idx ON prompts (name) WHERE is_active;

CREATE FUNCTION prompts_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.template IS DISTINCT FROM OLD.template OR NEW.model IS DISTINCT FROM OLD.model
       OR NEW.temperature IS DISTINCT FROM OLD.temperature OR NEW.max_tokens IS DISTINCT FROM OLD.max_tokens
       OR NEW.sha256 IS DISTINCT FROM OLD.sha256 THEN
        RAISE EXCEPTION 'prompt versions are immutable; create a new version';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER prompts_immutable BEFORE UPDATE ON prompts FOR EACH ROW EXECUTE FUNCTION prompts_immutable();

INSERT INTO prompts (id, name, version, template, sha256, is_active) VALUES (
    '00000000-0000-7000-8000-000000000001', 'chat.system', 1,
    E'You are AspireAi, a helpful assistant. Today is {{date}}. You are talking with {{user_name}}.\nAnswer concisely. Use the memories and sources you are given when they are relevant, and cite sources by their id. If you do not know, say so.',
    'eef42dac12863ccd006cd9118763176be22cfff7947f398820d437891e7ac54c', true);

-- One row per provider call. Append-only: corrections are new rows, never edits.
CREATE TABLE usage_ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    user_id         uuid NOT NULL REFERENCES users (id),
    org_id          uuid NOT NULL REFERENCES orgs (id),
    conversation_id uuid,
    message_id      uuid,
    request_id      text,
    operation       text NOT NULL,
    model           text NOT NULL,
    input_tokens    integer NOT NULL CHECK (input_tokens >= 0),
    output_tokens   integer NOT NULL CHECK (output_tokens >= 0),
    cost            numeric(14, 8) NOT NULL CHECK (cost >= 0),
    estimated       boolean NOT NULL DEFAULT false,
    trace_id        text
);
CREATE INDEX usage_ledger_user_at_idx ON usage_ledger (user_id, at);
CREATE INDEX usage_ledger_at_idx ON usage_ledger (at);

CREATE FUNCTION usage_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'usage_ledger is append-only';
END $$;
CREATE TRIGGER usage_ledger_append_only BEFORE UPDATE ON usage_ledger FOR EACH ROW EXECUTE FUNCTION usage_ledger_append_only();
