-- What an assistant answer cited and which memories it was given, stored with the answer so that a reloaded chat
-- shows the same sources as the streamed one. A jsonb snapshot on the message rather than a table with foreign keys:
-- citations are only ever read together with their message, and they record what the answer pointed at when it was
-- written. Deleting or renaming a document later must neither rewrite nor block the chat history (the link then
-- leads to a 404, which is the truth). [Sn] in the content is citations[n-1], so the array's order matters.
-- Constant defaults and no CHECK: adding the columns changes only the catalogue, it neither rewrites nor scans the
-- messages table while holding its lock.
ALTER TABLE messages
    ADD COLUMN citations  jsonb  NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN memory_ids uuid[] NOT NULL DEFAULT '{}';
