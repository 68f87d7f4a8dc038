-- Ingestion is bounded by HNSW maintenance: each inserted chunk searches the graph for its neighbours with a
-- candidate list of ef_construction. Halving it (64 -> 32) made inserts ~1.8x cheaper on the 2-core machine (4,000
-- vectors into a 4,000-vector index: 11.5 s -> 6.5 s) and ingestion at the Workers' default concurrency ~1.2x faster,
-- for some recall: recall@10 against exact search at the default ef_search, offline embedder, synthetic corpus,
-- 0.46 -> 0.41 at 108k chunks and within noise at 32k (docs/benchmarks.md, Documents). The recall monitor exports the
-- live figure; Documents:Retrieval:EfSearch buys recall back at query time.
-- A reloption change, not a rebuild: existing graph edges stay, new chunks are linked with the new setting, and the
-- statement only touches the catalogue.
ALTER INDEX document_chunks_embedding_idx SET (ef_construction = 32);
