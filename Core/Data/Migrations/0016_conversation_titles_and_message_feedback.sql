-- Automatic titles: a conversation created without a title is named after its first complete exchange, unless the
-- user renames it first. A flag rather than comparing with the placeholder text, so a user may choose that text.
-- Constant default: only the catalogue changes, the table is neither rewritten nor scanned under its lock.
ALTER TABLE conversations ADD COLUMN title_pending boolean NOT NULL DEFAULT false;

-- Thumbs up / down on an answer, one per answer (its owner's; changing it overwrites), with what produced the
-- answer copied in: the model and the prompt version are what a prompt rollout compares, and reading them here
-- keeps those queries off the messages table.
CREATE TABLE message_feedback (
    message_id      uuid PRIMARY KEY REFERENCES messages (id),
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    user_id         uuid NOT NULL REFERENCES users (id),
    rating          smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment         text CHECK (comment IS NULL OR char_length(comment) <= 2000),
    model           text,
    prompt_name     text,
    prompt_version  integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_feedback_conversation_idx ON message_feedback (conversation_id);
-- Thumbs-down rate per prompt version over time.
CREATE INDEX message_feedback_prompt_idx ON message_feedback (prompt_name, prompt_version, created_at);
