-- Memory search's keyword leg reads two GIN indexes, and a GIN index scan reads the index's whole pending list (entries
-- written since it was last merged into the index proper, up to gin_pending_list_limit, 4 MB by default) on every
-- search, whatever its scope. Autovacuum merges it only once enough of a large table has changed, so under steady
-- memory writes each search paid for up to 4 MB of everyone's recent entries: bench/gin-pending-list.sh, 1,000,000 rows
-- and 20,000 written since the merge, 15.6-17.0 ms for a keyword query that takes 7.2-7.5 ms merged. At 256 kB it took
-- 8.1-8.4 ms; each write paid 126 us a row instead of 81 (docs/benchmarks.md, Memory).
ALTER INDEX memories_tsv_idx SET (gin_pending_list_limit = 256);
ALTER INDEX memories_text_bi_idx SET (gin_pending_list_limit = 256);
