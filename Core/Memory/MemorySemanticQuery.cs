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

/// <summary>How the semantic leg finds a scope's nearest memories.</summary>
public enum MemorySemanticPlan
{
    /// <summary>PostgreSQL plans every call for its values (before the table's statistics exist).</summary>
    Planner,

    /// <summary>Every row of the scopes is ranked: the ground truth, and the faster way for a small scope.</summary>
    Exact,

    /// <summary>The HNSW graph is walked, the scope filtered as rows come (iterative scan).</summary>
    Index,
}

/// <summary>
/// The semantic leg of memory search as one SQL batch: the retriever and consolidation run it, and the recall monitor and
/// the benchmark run the very same statement (once as production would, once exactly) to measure its recall.
/// </summary>
public static class MemorySemanticQuery
{
    // Measured on the 1M-memory data (docs/benchmarks.md): ranking a scope exactly costs ~1.1-1.7 µs a row, the
    // HNSW walk ~11-14 µs a graph tuple it visits.
    private const double IndexTupleCost = 10;

    /// <summary>
    /// The plan for a search of <paramref name="limit"/> rows in a scope of <paramref name="size"/>: the cheaper of
    /// ranking the scope's rows and walking the graph, which visits about ef_search tuples plus, since the scope filter
    /// rejects the other rows, LIMIT for every share of the table the scope holds. PostgreSQL's own estimate weighs the
    /// walk less (it chose the graph for a scope of 10,000 among 1,000,000 rows: 49 ms, against 17 ms exactly), and
    /// asking it means planning every call, most of the leg's time. Without statistics, it still decides.
    /// </summary>
    public static MemorySemanticPlan Choose(MemoryScopeSize? size, int limit, MemoryHnswSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (size is null)
        {
            return MemorySemanticPlan.Planner;
        }
        var scopeRows = Math.Max(size.ScopeRows, 1);
        var visited = settings.EfSearch + limit * (double)Math.Max(settings.Overfetch, 1) * Math.Max(size.TableRows, scopeRows) / scopeRows;
        return scopeRows <= IndexTupleCost * visited ? MemorySemanticPlan.Exact : MemorySemanticPlan.Index;
    }

    /// <summary>
    /// Adds the session settings and the query to <paramref name="batch"/>, which must run in a transaction (SET LOCAL).
    /// Parameters of the query: $1 vector, $2 scope keys, $3 embedding model, $4 types, $5 limit.
    /// </summary>
    /// <param name="columns">Select list over the alias <c>m</c> (<c>m.embedding &lt;=&gt; $1</c> is the distance).</param>
    /// <param name="plan">
    /// <see cref="MemorySemanticPlan.Exact"/> and <see cref="MemorySemanticPlan.Index"/> are each a statement that can
    /// only be planned one way, so it is planned once per connection (a generic plan) and never again:
    /// the exact one orders by an expression the HNSW index cannot serve, the index one filters the scope by one no
    /// B-tree can, and neither may scan the whole table.
    /// </param>
    public static void Add(NpgsqlBatch batch, MemoryHnswSettings settings, string columns, MemoryVector vector, IReadOnlyCollection<string> keys,
        string[] types, int limit, MemorySemanticPlan plan)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(vector);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(plan == MemorySemanticPlan.Planner ? PlanCache.CustomPlans : PlanCache.GenericPlans));
        if (plan != MemorySemanticPlan.Exact)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SET LOCAL hnsw.ef_search = {settings.EfSearch.ToString(CultureInfo.InvariantCulture)}"));
            // Iterative scans keep walking the graph when the scope filter rejects rows, instead of returning fewer than
            // LIMIT rows; max_scan_tuples bounds that walk for a query whose scope holds few of its neighbours.
            batch.BatchCommands.Add(new NpgsqlBatchCommand(settings.IterativeScan == MemoryIterativeScan.StrictOrder
                ? "SET LOCAL hnsw.iterative_scan = strict_order" : "SET LOCAL hnsw.iterative_scan = relaxed_order"));
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SET LOCAL hnsw.max_scan_tuples = {settings.MaxScanTuples.ToString(CultureInfo.InvariantCulture)}"));
        }
        // Set either way: a transaction that searches twice (the recall monitor's) must not carry one search's setting
        // into the other.
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            plan == MemorySemanticPlan.Planner ? "SET LOCAL enable_seqscan = DEFAULT" : "SET LOCAL enable_seqscan = off"));
        // "|| ''" hides the scope from the B-tree indexes, "+ 0" the distance from the HNSW index.
        var scope = plan == MemorySemanticPlan.Index ? "(m.scope_key || '') = ANY($2)" : "m.scope_key = ANY($2)";
        var distance = plan == MemorySemanticPlan.Exact ? "(m.embedding <=> $1) + 0" : "m.embedding <=> $1";
        var filter = $"{scope} AND {MemorySql.Current} AND m.embedding_model = $3 AND m.type = ANY($4)";
        // A relaxed scan returns rows only roughly by distance, so its first LIMIT rows can miss a closer one found a
        // little later: taking Overfetch × LIMIT from the index and keeping the closest recovers them.
        var select = new NpgsqlBatchCommand(settings.Overfetch <= 1 || plan == MemorySemanticPlan.Exact
            ? $"""
                SELECT {columns} FROM memories m
                WHERE {filter}
                ORDER BY {distance}
                LIMIT $5
                """
            : $"""
                SELECT {columns} FROM (
                    SELECT m.* FROM memories m
                    WHERE {filter}
                    ORDER BY {distance}
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

    /// <summary>
    /// Adds what puts the planner settings of <see cref="Add"/> back for the rest of the transaction: for a caller whose
    /// transaction goes on with other statements (a job's), which would otherwise all be planned the search's way.
    /// </summary>
    public static void AddRestore(NpgsqlBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(PlanCache.DefaultPlans));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan = DEFAULT"));
    }
}
