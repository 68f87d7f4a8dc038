-- A memory row is ~2.6 kB (0023 keeps it whole in the heap), so a full page holds three and has no room for a fourth
-- version. Writes that change no indexed column (a NOOP adding its source message, the record of a memory's use) could
-- then be heap-only (HOT) only where pruning had freed a page: about half were not, and each of those added entries to
-- every index of the table, the HNSW graph and both GIN pending lists (which every keyword search reads) included.
-- Pages filled to 70 % hold two rows and room for one more version of either. New pages only: existing ones keep
-- their layout until the table is rewritten (VACUUM FULL / pg_repack).
ALTER TABLE memories SET (fillfactor = 70);
