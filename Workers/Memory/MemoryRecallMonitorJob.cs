using AspireAi.Core.Jobs;
using AspireAi.Core.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Pgvector;

namespace AspireAi.Workers.Memory;

/// <summary>
/// memory.recall-monitor (recurring): the recall@K of memory search's semantic leg against exact search, measured on
/// the statement production runs (<see cref="MemorySemanticQuery"/> with the configured HNSW settings, and the plan
/// <see cref="MemorySemanticQuery.Choose"/> picks for the scope: a small scope is ranked exactly, and finds all) in the
/// scopes memories live in. Each probe searches the user scope (and the organisation's) of a randomly drawn memory — so large
/// scopes, where the index matters, are drawn most — with the stored vector of another user's randomly drawn memory:
/// a real text embedded by the production model, which the scope does not itself contain. Exported as the gauge
/// <c>aspireai.memory.hnsw.recall</c> and logged.
/// </summary>
public sealed partial class MemoryRecallMonitorJob(
    MemoryEmbedder embedder,
    MemoryStatistics statistics,
    MemoryMetrics metrics,
    IOptions<MemoryOptions> options,
    ILogger<MemoryRecallMonitorJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.RecallMonitor;

    /// <summary>The last run's results, for tests and diagnostics.</summary>
    public MemoryRecallMeasurement? LastMeasurement { get; private set; }

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = options.Value;
        var hnsw = MemoryHnswSettings.From(settings);
        var model = embedder.CurrentModel;
        var k = settings.CandidatesPerRetriever;

        var targets = new List<(Guid OrgId, Guid UserId)>();
        var probes = new List<(Guid UserId, float[] Vector)>();
        await using (var sample = context.CreateCommand($"""
            SELECT m.org_id, m.user_id FROM memories m
            WHERE m.scope = 'user' AND {MemorySql.Current} AND m.embedding_model = $1
            ORDER BY random() LIMIT $2
            """))
        {
            sample.Parameters.Add(new() { Value = model });
            sample.Parameters.Add(new() { Value = settings.RecallMonitorSamples });
            await using var reader = await sample.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                targets.Add((reader.GetGuid(0), reader.GetGuid(1)));
            }
        }
        if (targets.Count == 0)
        {
            LogNothingToMeasure(model);
            return;
        }
        // Twice as many probe texts as scopes, so each scope can get one written by someone else.
        await using (var sample = context.CreateCommand($"""
            SELECT m.user_id, m.embedding FROM memories m
            WHERE {MemorySql.Current} AND m.embedding_model = $1 AND m.embedding IS NOT NULL
            ORDER BY random() LIMIT $2
            """))
        {
            sample.Parameters.Add(new() { Value = model });
            sample.Parameters.Add(new() { Value = 2 * settings.RecallMonitorSamples });
            await using var reader = await sample.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                probes.Add((reader.GetGuid(0), reader.GetFieldValue<Vector>(1).ToArray()));
            }
        }

        double recall = 0, nearest = 0;
        var plans = new Dictionary<MemorySemanticPlan, int>();
        var unused = new List<(Guid UserId, float[] Vector)>(probes);
        foreach (var (orgId, userId) in targets)
        {
            // Another user's text when there is one (a single-user installation only has its own).
            var index = unused.FindIndex(p => p.UserId != userId);
            var probe = unused[index >= 0 ? index : 0];
            unused.Remove(probe);
            if (unused.Count == 0)
            {
                unused.AddRange(probes);
            }
            var vector = new MemoryVector(probe.Vector, model);
            List<string> keys = [MemoryScopeRef.ForUser(orgId, userId).Key, MemoryScopeRef.ForOrg(orgId).Key];
            var plan = MemorySemanticQuery.Choose(await statistics.ScopeSizeAsync(keys, cancellationToken).ConfigureAwait(false), k, hnsw);
            plans[plan] = plans.GetValueOrDefault(plan) + 1;
            var approximate = await DistancesAsync(context, hnsw, vector, keys, k, plan, cancellationToken).ConfigureAwait(false);
            var exact = await DistancesAsync(context, hnsw, vector, keys, k, MemorySemanticPlan.Exact, cancellationToken).ConfigureAwait(false);
            if (exact.Count == 0)
            {
                recall += 1;
                nearest += 1;
                continue;
            }
            // A result as close as the exact K-th neighbour counts: which of several equidistant rows exact search
            // lists is arbitrary.
            recall += Math.Min(exact.Count, approximate.Count(d => d <= exact[^1] + 1e-6)) / (double)exact.Count;
            nearest += approximate.Count > 0 && approximate[0] <= exact[0] + 1e-6 ? 1 : 0;
        }

        var measurement = new MemoryRecallMeasurement(model, k, targets.Count, recall / targets.Count, nearest / targets.Count, hnsw,
            plans.GetValueOrDefault(MemorySemanticPlan.Index), plans.GetValueOrDefault(MemorySemanticPlan.Exact), plans.GetValueOrDefault(MemorySemanticPlan.Planner));
        LastMeasurement = measurement;
        metrics.RecordRecall(model, k, measurement.Recall);
        LogRecall(k, model, measurement.Recall, measurement.NearestFound, measurement.Samples, measurement.IndexSamples, measurement.ExactSamples,
            measurement.PlannerSamples, hnsw.EfSearch, hnsw.IterativeScan, hnsw.MaxScanTuples, hnsw.Overfetch);
    }

    // The semantic leg's distances, nearest first; SET LOCAL stays inside the job's transaction, and is undone after.
    private static async Task<List<double>> DistancesAsync(JobContext context, MemoryHnswSettings settings, MemoryVector vector, List<string> keys, int k,
        MemorySemanticPlan plan, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(context.Connection, context.Transaction);
        MemorySemanticQuery.Add(batch, settings, "m.id, m.embedding <=> $1", vector, keys, MemoryNames.AllTypes, k, plan);
        MemorySemanticQuery.AddRestore(batch);
        var distances = new List<double>();
        // The reader starts at the first command that returns rows (SET returns none): the search's.
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                distances.Add(reader.GetDouble(1));
            }
        }
        distances.Sort();
        return distances;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Memory semantic leg recall@{K} for {Model}: {Recall:0.000} against exact search; exact nearest found {NearestFound:P1} ({Samples} probes: {Walked} through the HNSW graph, {Exact} ranked exactly, {Planned} as PostgreSQL planned them for want of table statistics; ef_search {EfSearch}, {IterativeScan}, max_scan_tuples {MaxScanTuples}, over-fetch {Overfetch})")]
    private partial void LogRecall(int k, string model, double recall, double nearestFound, int samples, int walked, int exact, int planned, int efSearch,
        MemoryIterativeScan iterativeScan, int maxScanTuples, int overfetch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Memory recall monitor: no user memory embedded with {Model} yet")]
    private partial void LogNothingToMeasure(string model);
}

/// <summary>One run of the memory recall monitor.</summary>
/// <param name="Recall">Mean recall@K of the semantic leg against exact search.</param>
/// <param name="NearestFound">Share of probes whose exact nearest neighbour came first.</param>
/// <param name="Settings">The HNSW settings measured (production's).</param>
/// <param name="IndexSamples">Probes whose scope production searches through the HNSW graph.</param>
/// <param name="ExactSamples">Probes whose scope production ranks exactly (small scopes).</param>
/// <param name="PlannerSamples">Probes production leaves to PostgreSQL's planner: the table has no statistics yet.</param>
public sealed record MemoryRecallMeasurement(string Model, int K, int Samples, double Recall, double NearestFound, MemoryHnswSettings Settings,
    int IndexSamples, int ExactSamples, int PlannerSamples);
