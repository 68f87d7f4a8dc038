-- A denser graph for memory search: m 24 (was the default 16) and ef_construction 128 (was 64). At 1,000,000 memories
-- with 100,000 in one user's scope and ef_search 200, recall@10 of the semantic leg against exact search went from
-- 84-93 % (three builds) to 92 % with the float MiniLM and 98 % with its int8 form for questions, and from 95-97 % to
-- 96-99 % for memory-like texts, with the semantic query no slower (docs/benchmarks.md, Memory). The price is paid on writes (each new memory searches the graph with
-- 128 candidates and keeps up to 24 links a layer; memory writes run in the Workers) and in the build time.
-- m is fixed when the graph is built, so the index is rebuilt here when that is quick. A larger table keeps its graph
-- (and the new settings apply to its new rows) until an operator runs REINDEX INDEX CONCURRENTLY
-- memories_embedding_idx, which does not block reads or writes (docs/operations.md).
ALTER INDEX memories_embedding_idx SET (m = 24, ef_construction = 128);
DO $$
BEGIN
    IF (SELECT count(*) FROM memories) <= 50000 THEN
        REINDEX INDEX memories_embedding_idx;
    ELSE
        RAISE WARNING 'memories_embedding_idx keeps its graph of m 16 (more than 50,000 memories): run REINDEX INDEX CONCURRENTLY memories_embedding_idx to rebuild it with m 24 for the recall measured in docs/benchmarks.md';
    END IF;
END $$;
