-- Documents and their chunks for retrieval-augmented answers. A document belongs to one scope: a user's own
-- ("user", scope_key = the user's id) or the whole organisation ("org", scope_key = the org's id). A reader sees the
-- chunks whose scope_key is their user id or their org id, so one indexed column carries every visibility rule.
CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES orgs (id),
    owner_user_id   uuid NOT NULL REFERENCES users (id),
    scope           text NOT NULL CHECK (scope IN ('user', 'org')),
    scope_key       uuid NOT NULL,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    file_name       text,
    format          text NOT NULL CHECK (format IN ('txt', 'md', 'html', 'docx')),
    size_bytes      bigint NOT NULL CHECK (size_bytes > 0),
    content_sha256  bytea NOT NULL CHECK (octet_length(content_sha256) = 32),
    tags            text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'parsing', 'embedding', 'ready', 'failed')),
    failure_reason  text,
    chunk_count     integer NOT NULL DEFAULT 0,
    -- Progress of the embedding step, for the status page of a large document.
    embedded_chunks integer NOT NULL DEFAULT 0,
    embedding_model text,
    -- What the parser learned (word count, docx properties ...); never the text itself.
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    ready_at        timestamptz,
    CHECK ((scope = 'user' AND scope_key = owner_user_id) OR (scope = 'org' AND scope_key = org_id)),
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);
-- Identical content in the same scope is one document: uploads race on this index, never on a read.
CREATE UNIQUE INDEX documents_content_idx ON documents (scope_key, content_sha256);
-- The list endpoint: the caller's scopes, newest first (keyset).
CREATE INDEX documents_scope_list_idx ON documents (scope_key, created_at DESC, id DESC);
CREATE INDEX documents_tags_idx ON documents USING gin (tags);

-- The uploaded bytes, kept apart so that listing documents never drags megabytes of content along.
CREATE TABLE document_sources (
    document_id uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    content     bytea NOT NULL
);

-- One row per chunk: its text, full-text vector, metadata and embedding, with the model that produced the
-- embedding. vector(384) is EmbeddingDefaults.Dimensions; the ingestion service checks the two agree on start.
-- Embeddings are stored L2-normalised, so inner product (<#>, the cheaper operator) ranks like cosine.
CREATE TABLE document_chunks (
    id              uuid PRIMARY KEY,
    document_id     uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    scope_key       uuid NOT NULL,
    ordinal         integer NOT NULL CHECK (ordinal >= 0),
    heading         text,
    content         text NOT NULL,
    token_count     integer NOT NULL,
    start_offset    integer NOT NULL,
    end_offset      integer NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    embedding       vector(384) NOT NULL,
    embedding_model text NOT NULL,
    tsv             tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english'::regconfig, coalesce(heading, '')), 'A')
                        || setweight(to_tsvector('english'::regconfig, content), 'B')) STORED,
    UNIQUE (document_id, ordinal)
);
-- A row (vector 1.5 kB + text + tsvector) outgrows the TOAST threshold; keep the vector inline so that exact
-- distance scans and re-ranking never detoast it, and let the text and tsvector move out of line instead.
ALTER TABLE document_chunks ALTER COLUMN embedding SET STORAGE PLAIN;
-- Approximate nearest neighbours. m/ef_construction trade recall for insert speed on a 2-core machine; the recall
-- monitor (documents.recall-monitor) measures what this costs against exact search.
CREATE INDEX document_chunks_embedding_idx ON document_chunks USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX document_chunks_tsv_idx ON document_chunks USING gin (tsv);
-- Small scopes are searched exactly through this index; it also finds chunks still on an old embedding model.
CREATE INDEX document_chunks_scope_idx ON document_chunks (scope_key, embedding_model);
CREATE INDEX document_chunks_model_idx ON document_chunks (embedding_model);

-- Bulk uploads: one batch, many documents; progress is counted from the documents' statuses.
CREATE TABLE document_batches (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    org_id     uuid NOT NULL REFERENCES orgs (id),
    total      integer NOT NULL CHECK (total > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE document_batch_items (
    batch_id    uuid NOT NULL REFERENCES document_batches (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    -- A deleted document leaves its slot: the batch then reports it as deleted.
    document_id uuid REFERENCES documents (id) ON DELETE SET NULL,
    duplicate   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX document_batch_items_document_idx ON document_batch_items (document_id);
