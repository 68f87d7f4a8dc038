using System.Globalization;
using AspireAi.Core.Data;
using Npgsql;

namespace AspireAi.Core.Memory;

/// <summary>How pgvector 0.8 continues an HNSW scan whose rows a filter (here the scope) rejects.</summary>
public enum MemoryIterativeScan
{
    /// <summary>Rows come back nearly in distance order; the query re-sorts the candidates it over-fetched.</summary>
    RelaxedOrder,

    /// <summary>Rows come back in exact distance order (slower: the scan keeps a second queue).</summary>
    StrictOrder,
}

/// <summary>The HNSW settings of the semantic leg (<see cref="MemoryOptions"/>), as one value the recall monitor and the benchmark reuse.</summary>
/// <param name="EfSearch">hnsw.ef_search.</param>
/// <param name="IterativeScan">hnsw.iterative_scan.</param>
/// <param name="MaxScanTuples">hnsw.max_scan_tuples: graph tuples an iterative scan visits at most.</param>
/// <param name="Overfetch">Candidates taken from the index per candidate returned; the closest of them are kept.</param>
public sealed record MemoryHnswSettings(int EfSearch, MemoryIterativeScan IterativeScan, int MaxScanTuples, int Overfetch)
{
    /// <summary>The settings production uses.</summary>
    public static MemoryHnswSettings From(MemoryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.HnswEfSearch, options.HnswIterativeScan, options.HnswMaxScanTuples, options.HnswOverfetch);
    }
}

/// <summary>
/// The semantic leg of memory search as one SQL batch: the retriever runs it, and the recall monitor and the benchmark
/// run the very same statement (once through the index, once exactly) to measure its recall.
/// </summary>
public static class MemorySemanticQuery
{
    /// <summary>
    /// Adds the session settings and the query to <paramref name="batch"/>, which must run in a transaction (SET LOCAL).
    /// Parameters of the query: $1 vector, $2 scope keys, $3 embedding model, $4 types, $5 limit.
    /// </summary>
    /// <param name="columns">Select list over the alias <c>m</c> (<c>m.embedding &lt;=&gt; $1</c> is the distance).</param>
    /// <param name="exact">Rank every row of the scopes instead of walking the index: the ground truth of recall.</param>
    public static void Add(NpgsqlBatch batch, MemoryHnswSettings settings, string columns, MemoryVector vector, IReadOnlyCollection<string> keys,
        string[] types, int limit, bool exact = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(vector);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(PlanCache.CustomPlans));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SET LOCAL hnsw.ef_search = {settings.EfSearch.ToString(CultureInfo.InvariantCulture)}"));
        // Iterative scans keep walking the graph when the scope filter rejects rows, instead of returning fewer than
        // LIMIT rows; max_scan_tuples bounds that walk for a query whose scope holds few of its neighbours.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(settings.IterativeScan == MemoryIterativeScan.StrictOrder
            ? "SET LOCAL hnsw.iterative_scan = strict_order" : "SET LOCAL hnsw.iterative_scan = relaxed_order"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SET LOCAL hnsw.max_scan_tuples = {settings.MaxScanTuples.ToString(CultureInfo.InvariantCulture)}"));
        // Without index scans the planner cannot use HNSW (it has no bitmap scan): the ranking is exact.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(exact ? "SET LOCAL enable_indexscan = off" : "SET LOCAL enable_indexscan = on"));
        var filter = $"m.scope_key = ANY($2) AND {MemorySql.Current} AND m.embedding_model = $3 AND m.type = ANY($4)";
        // A relaxed scan returns rows only roughly by distance, so its first LIMIT rows can miss a closer one found a
        // little later: taking Overfetch × LIMIT from the index and keeping the closest recovers them.
        var select = new NpgsqlBatchCommand(settings.Overfetch <= 1 || exact
            ? $"""
                SELECT {columns} FROM memories m
                WHERE {filter}
                ORDER BY m.embedding <=> $1
                LIMIT $5
                """
            : $"""
                SELECT {columns} FROM (
                    SELECT m.* FROM memories m
                    WHERE {filter}
                    ORDER BY m.embedding <=> $1
                    LIMIT $5 * {settings.Overfetch.ToString(CultureInfo.InvariantCulture)}
                ) m
                ORDER BY m.embedding <=> $1
                LIMIT $5
                """);
        select.Parameters.Add(MemorySql.Vector(vector.Values));
        select.Parameters.Add(MemorySql.TextArray(keys));
        select.Parameters.Add(new() { Value = vector.Model });
        select.Parameters.Add(MemorySql.TextArray(types));
        select.Parameters.Add(new() { Value = limit });
        batch.BatchCommands.Add(select);
    }
}
