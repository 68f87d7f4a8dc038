-- A memory row is ~2.1 kB: its 384-dimension embedding (1.5 kB) plus the encrypted text, its blind index and the
-- columns. That is just above PostgreSQL's default TOAST threshold (~2 kB), so the embedding was stored out of line,
-- and every row a search reads it from (the similarity of each keyword, entity and semantic candidate) cost a lookup in
-- the TOAST index and a second page. At 1,000,000 memories the TOAST table was 1.3 GB beside a 0.8 GB heap.
-- Rows up to 4 kB now stay whole in the heap, and the embedding is the last column moved out of a longer row.
-- Existing rows keep their layout until they are next written (or a VACUUM FULL / pg_repack rewrites the table).
ALTER TABLE memories SET (toast_tuple_target = 4000);
ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN;
