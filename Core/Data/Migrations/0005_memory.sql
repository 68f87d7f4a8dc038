-- Long-term memory (issue 5): extract -> consolidate -> store -> retrieve, scoped, versioned, audited, erasable.
-- Postgres is the system of record for every scope; session memories are also mirrored to Redis (with the same
-- expiry), which is where chat retrieval reads them from. See Core/Memory/README.md.

-- One row per version of a memory. An UPDATE never edits text: it invalidates the old row and inserts a new one in
-- the same lineage, so "what did we believe on date X" stays answerable until the retention job purges old versions.
CREATE TABLE memories (
    id                 uuid PRIMARY KEY,
    -- The first version's id, shared by every later version (history is read per lineage).
    lineage_id         uuid NOT NULL,
    supersedes_id      uuid REFERENCES memories (id) ON DELETE SET NULL,
    org_id             uuid NOT NULL REFERENCES orgs (id),
    -- Owner of user and session memories; NULL for the shared agent and org scopes.
    user_id            uuid REFERENCES users (id),
    agent_id           text,
    -- The chat uses the conversation id as the session id.
    session_id         text,
    scope              text NOT NULL CHECK (scope IN ('user', 'session', 'agent', 'org')),
    -- One text key per scope instance: the unit of dedupe, of retrieval filters and of consolidation.
    -- MemoryScopes.KeyOf builds the same string in C#.
    scope_key          text NOT NULL GENERATED ALWAYS AS (
                           CASE scope
                               WHEN 'user' THEN 'u:' || user_id::text
                               WHEN 'session' THEN 's:' || user_id::text || ':' || session_id
                               WHEN 'agent' THEN 'a:' || org_id::text || ':' || agent_id
                               ELSE 'o:' || org_id::text
                           END) STORED,
    type               text NOT NULL CHECK (type IN ('semantic', 'episodic', 'procedural')),
    text               text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    importance         real NOT NULL DEFAULT 0.5 CHECK (importance >= 0 AND importance <= 1),
    -- Width = EmbeddingDefaults.Dimensions (384); a test checks that they agree. Vectors of different models are
    -- never compared: retrieval filters on embedding_model.
    embedding          vector(384) NOT NULL,
    embedding_model    text NOT NULL,
    tsv                tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    valid_from         timestamptz NOT NULL DEFAULT now(),
    invalidated_at     timestamptz,
    invalidated_reason text CHECK (invalidated_reason IN ('superseded', 'retracted', 'deleted', 'expired', 'capped', 'merged')),
    last_accessed_at   timestamptz,
    access_count       integer NOT NULL DEFAULT 0,
    expires_at         timestamptz,
    source_message_ids uuid[] NOT NULL DEFAULT '{}',
    -- sha256 of the normalised text (lowercase, accents folded, punctuation dropped): the dedupe key.
    content_hash       text NOT NULL,
    created_by         uuid,
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK (CASE scope
               WHEN 'user' THEN user_id IS NOT NULL AND session_id IS NULL AND agent_id IS NULL
               WHEN 'session' THEN user_id IS NOT NULL AND session_id IS NOT NULL AND expires_at IS NOT NULL AND agent_id IS NULL
               WHEN 'agent' THEN user_id IS NULL AND session_id IS NULL AND agent_id IS NOT NULL
               ELSE user_id IS NULL AND session_id IS NULL AND agent_id IS NULL
           END),
    CHECK ((invalidated_at IS NULL) = (invalidated_reason IS NULL))
);

-- Exactly one current memory per normalised text and scope, whatever races: the last line of defence behind the
-- per-user advisory lock that serialises consolidation.
CREATE UNIQUE INDEX memories_current_hash_idx ON memories (scope_key, content_hash) WHERE invalidated_at IS NULL;
-- Retrieval and consolidation filters (scope keys), listing and erasure (owner), shared scopes, lineage, sweeps.
CREATE INDEX memories_scope_current_idx ON memories (scope_key, type) WHERE invalidated_at IS NULL;
CREATE INDEX memories_user_idx ON memories (user_id, created_at DESC, id DESC);
CREATE INDEX memories_org_scope_idx ON memories (org_id, scope, created_at DESC, id DESC) WHERE scope IN ('agent', 'org');
CREATE INDEX memories_lineage_idx ON memories (lineage_id);
CREATE INDEX memories_supersedes_idx ON memories (supersedes_id) WHERE supersedes_id IS NOT NULL;
CREATE INDEX memories_expires_idx ON memories (expires_at) WHERE expires_at IS NOT NULL AND invalidated_at IS NULL;
CREATE INDEX memories_invalidated_idx ON memories (invalidated_at) WHERE invalidated_at IS NOT NULL;
-- Only current memories are searched, so only they are indexed for search. The full-text index leads with the
-- scope key (btree_gin, a contrib module of every PostgreSQL distribution): a common word then costs the matches of
-- the caller's scopes, not of every scope.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops) WHERE invalidated_at IS NULL;
CREATE INDEX memories_tsv_idx ON memories USING gin (scope_key, tsv) WHERE invalidated_at IS NULL;

-- The entity index: normalised names shared by every scope (a name alone says nothing about whose memory links
-- it); erasure removes the links and then the entities no memory links any more.
CREATE TABLE entities (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    normalized_name text NOT NULL UNIQUE CHECK (length(normalized_name) BETWEEN 1 AND 200),
    name            text NOT NULL,
    type            text NOT NULL DEFAULT 'other',
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- scope_key is copied from the memory so that "memories of this scope that mention Stripe" is one index range,
-- however many other scopes mention Stripe too.
CREATE TABLE memory_entities (
    memory_id uuid NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    entity_id bigint NOT NULL REFERENCES entities (id),
    scope_key text NOT NULL,
    PRIMARY KEY (memory_id, entity_id)
);
CREATE INDEX memory_entities_entity_scope_idx ON memory_entities (entity_id, scope_key) INCLUDE (memory_id);

-- Every decision about a memory: ADD / UPDATE / DELETE / NOOP with the texts before and after, who decided and why.
-- memory_id is deliberately not a foreign key: history outlives the versions the retention job purges (their
-- texts are blanked then). Erasure deletes the owner's rows outright.
CREATE TABLE memory_history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id         uuid NOT NULL,
    lineage_id        uuid NOT NULL,
    -- UPDATE: the other version (old <-> new); NOOP: the fact's source memory, if any.
    related_memory_id uuid,
    org_id            uuid NOT NULL,
    owner_user_id     uuid,
    scope             text NOT NULL,
    operation         text NOT NULL CHECK (operation IN ('ADD', 'UPDATE', 'DELETE', 'NOOP')),
    old_text          text,
    new_text          text,
    -- 'system' is the scheduled maintenance (expiry, episodic cap), which the issue's list does not name.
    actor             text NOT NULL CHECK (actor IN ('extractor', 'user', 'admin', 'api', 'system')),
    actor_user_id     uuid,
    reason            text,
    -- chat | api | tool | job name; source_id is the memory_sources row (chat: the user message id).
    source            text,
    source_id         uuid,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_history_lineage_idx ON memory_history (lineage_id, id);
CREATE INDEX memory_history_memory_idx ON memory_history (memory_id, id);
CREATE INDEX memory_history_owner_idx ON memory_history (owner_user_id) WHERE owner_user_id IS NOT NULL;

-- What extraction runs on, one row per source (a chat exchange, keyed by its user message id, or an API request).
-- It makes extraction idempotent per source (a done row is never processed again) and survives a full job queue:
-- a row left 'pending' is enqueued later by the memory.backlog job.
CREATE TABLE memory_sources (
    id                   uuid PRIMARY KEY,
    kind                 text NOT NULL CHECK (kind IN ('chat', 'api')),
    org_id               uuid NOT NULL REFERENCES orgs (id),
    user_id              uuid NOT NULL REFERENCES users (id),
    agent_id             text NOT NULL DEFAULT 'default',
    session_id           text,
    -- Where extracted facts go by default (an API call may target a session, agent or org scope).
    scope                text NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'session', 'agent', 'org')),
    conversation_id      uuid,
    user_message_id      uuid,
    assistant_message_id uuid,
    -- API sources only: the messages to extract from (chat sources read the messages table).
    input                jsonb,
    metadata             jsonb NOT NULL DEFAULT '{}'::jsonb,
    status               text NOT NULL CHECK (status IN ('pending', 'queued', 'done', 'skipped')),
    status_reason        text,
    job_id               bigint,
    facts                integer,
    operations           jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    processed_at         timestamptz
);
CREATE INDEX memory_sources_user_idx ON memory_sources (user_id);
CREATE INDEX memory_sources_pending_idx ON memory_sources (created_at) WHERE status = 'pending';

-- Versioned prompts of the extraction and consolidation calls (see 0003_chat.sql for the prompts table).
INSERT INTO prompts (id, name, version, template, temperature, sha256, is_active) VALUES (
    '00000000-0000-7000-8000-000000000501', 'memory.extract', 1, $prompt$You extract long-term memories about the user from one exchange of a conversation. Today is {{today}}.

The exchange arrives as JSON: {"messages": [{"role": "user" | "assistant", "content": "..."}]}. Answer with JSON only, matching the schema "memory_facts": {"facts": [...]}, at most {{max_facts}} facts. Each fact has:
- text: one atomic fact, written without a subject in the present tense ("Works at Acme Corp", "Prefers dark mode", "Has two children"); events keep their time ("Visited Lisbon last week"); instructions stay imperative ("Always use TypeScript for code examples").
- type: "semantic" for lasting facts and preferences, "episodic" for events at a point in time, "procedural" for instructions on how the assistant should work.
- importance: from 0 (trivia) to 1 (identity, work, health, strong preferences).
- entities: the named things in the fact, each {"name": "...", "type": "person" | "organization" | "place" | "product" | "technology" | "other"}.
- scope: "session" only when the user limits the fact to this conversation ("for this chat, call me Max"); otherwise "user".
- retraction: true when the user says a fact is no longer true or asks you to forget it; text is then the fact to forget ("Forget that I use Stripe" -> {"text": "Uses Stripe", "retraction": true}).

Rules:
- Only what the user says about themselves, their work, their preferences and their instructions. Ignore questions, requests for help, small talk, general knowledge and everything the assistant says.
- Split compound statements into separate facts: "I work at Acme in the billing team" -> "Works at Acme", "Is in the billing team".
- Never include secrets: passwords, API keys, access tokens, card, bank or identity numbers.
- When the user asks not to remember something ("don't remember this", "off the record"), return no facts from that message.
- Return {"facts": []} when there is nothing worth remembering.$prompt$, 0,
    '3d0af9ccd3ff8e6773911e514bc2cf90e502c0695a4ff91fd2377ecf3c22b4a8', true);
INSERT INTO prompts (id, name, version, template, temperature, sha256, is_active) VALUES (
    '00000000-0000-7000-8000-000000000502', 'memory.consolidate', 1, $prompt$You maintain a user's long-term memory. Decide what to do with one new fact, given the existing memories in the same scope that are most similar to it (listed below with their ids in brackets).

The new fact arrives as JSON: {"fact": "...", "type": "...", "retraction": true | false}. Answer with JSON only, matching the schema "memory_decision": {"operation": "ADD" | "UPDATE" | "DELETE" | "NOOP", "targetId": "<id>" | null, "text": "...", "reason": "..."}.
- ADD: nothing below says this. targetId is null; text is the fact.
- UPDATE: the fact changes or refines one memory about the same thing (a new employer, a moved city, a changed preference, more detail). targetId is that memory; text is the memory as it should read now.
- DELETE: the fact is a retraction (retraction is true) of one memory. targetId is that memory.
- NOOP: a memory already says the same thing. targetId is that memory.

Rules:
- A fact that repeats a memory is a NOOP, never a DELETE.
- A fact that contradicts a memory is an UPDATE of it: the new fact must never be lost.
- Only a retraction may DELETE; a retraction that matches no memory is a NOOP with targetId null.
- Keep texts short, in the same style as the memories.$prompt$, 0,
    '602d61cd1e978693a07e7f3e1efbe9eeb1de380c0614d1adb20cff833116a5cb', true);
