using System.Globalization;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.RetrievalQuality;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NpgsqlTypes;
using Pgvector;

namespace AspireAi.Workers.Documents;

/// <summary>
/// The recurring <c>documents.recall-monitor</c> job: samples chunks, turns each into a query (its heading and first
/// sentence), and compares the top K of the HNSW index with exact search (index scans disabled) — once shaped like
/// production queries (filtered to the owner's scopes) and once over the whole index. The mean recall@K of each is
/// exported as the gauge <c>aspireai.documents.hnsw.recall</c> (with the share of queries whose exact nearest neighbour
/// was found, as k = 1) and logged.
/// </summary>
public sealed partial class RecallMonitorHandler(
    DocumentEmbedder embedder,
    FieldCipher cipher,
    DocumentsTelemetry telemetry,
    IOptions<DocumentsOptions> options,
    ILogger<RecallMonitorHandler> logger) : IJobHandler
{
    public string Type => DocumentJobs.RecallMonitor;

    /// <summary>The last run's results, for tests and diagnostics.</summary>
    public RecallMeasurement? LastMeasurement { get; private set; }

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = options.Value;
        var k = settings.RecallMonitor.K;
        var model = embedder.ModelId;

        var samples = new List<(string Query, Guid[] Keys)>();
        await using (var sample = context.CreateCommand("""
            SELECT c.heading, c.content, c.scope_key, d.org_id, c.key_id, c.content_ct, c.id
            FROM document_chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.embedding_model = $1
            ORDER BY random()
            LIMIT $2
            """))
        {
            sample.Parameters.Add(new() { Value = model });
            sample.Parameters.Add(new() { Value = settings.RecallMonitor.SampleQueries });
            await using var reader = await sample.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var stored = await cipher.OpenAsync(DocumentStore.ReadContent(reader, 1, 4, 5), EncryptedField.ChunkContent, reader.GetGuid(6), cancellationToken)
                    .ConfigureAwait(false);
                var content = stored.Length > 600 ? stored[..600] : stored;
                var first = SentenceSplitter.Split(content, 0, content.Length).FirstOrDefault();
                var sentence = first.Length > 0 ? content[first.Start..first.End] : content;
                var query = reader.IsDBNull(0) ? sentence : reader.GetString(0) + " " + sentence;
                var scopeKey = reader.GetGuid(2);
                var orgId = reader.GetGuid(3);
                samples.Add((query, scopeKey == orgId ? [orgId] : [scopeKey, orgId]));
            }
        }

        if (samples.Count == 0)
        {
            LogNothingToMeasure(model);
            return;
        }

        var vectors = await embedder.EmbedAsync([.. samples.Select(s => s.Query)], null, cancellationToken).ConfigureAwait(false);
        // The same statement runs through the index and exactly; a generic plan, made once, would walk the index for both.
        await ExecuteAsync(context, PlanCache.CustomPlans, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(context, $"SET LOCAL hnsw.ef_search = {settings.Retrieval.EfSearch.ToString(CultureInfo.InvariantCulture)}", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(context, "SET LOCAL hnsw.iterative_scan = relaxed_order", cancellationToken).ConfigureAwait(false);

        double filtered = 0, global = 0, nearest = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            var (recall, foundNearest) = await RecallAsync(context, vectors[i], model, samples[i].Keys, k, cancellationToken).ConfigureAwait(false);
            filtered += recall;
            nearest += foundNearest ? 1 : 0;
            global += (await RecallAsync(context, vectors[i], model, null, k, cancellationToken).ConfigureAwait(false)).Recall;
        }

        var measurement = new RecallMeasurement(model, k, samples.Count, filtered / samples.Count, global / samples.Count, nearest / samples.Count);
        LastMeasurement = measurement;
        // Kept for the retrieval-quality report; written in the job's transaction, so a failed run leaves no row.
        await RetrievalQualityStore.AddRecallAsync(context.Connection, context.Transaction, model, k, samples.Count, measurement.FilteredRecall,
            measurement.GlobalRecall, measurement.NearestFound, cancellationToken).ConfigureAwait(false);
        telemetry.RecordRecall(model, k, "filtered", measurement.FilteredRecall);
        telemetry.RecordRecall(model, k, "global", measurement.GlobalRecall);
        telemetry.RecordRecall(model, 1, "filtered", measurement.NearestFound);
        LogRecall(k, model, measurement.FilteredRecall, measurement.GlobalRecall, measurement.NearestFound, samples.Count, settings.Retrieval.EfSearch);
    }

    // recall@k, and whether the exact nearest neighbour is among the approximate top k.
    private static async Task<(double Recall, bool NearestFound)> RecallAsync(JobContext context, float[] vector, string model, Guid[]? keys, int k,
        CancellationToken cancellationToken)
    {
        await ExecuteAsync(context, "SET LOCAL enable_indexscan = on", cancellationToken).ConfigureAwait(false);
        var approximate = await TopAsync(context, vector, model, keys, k, cancellationToken).ConfigureAwait(false);
        // Without index scans the planner cannot use HNSW (it has no bitmap scan): the ranking is exact.
        await ExecuteAsync(context, "SET LOCAL enable_indexscan = off", cancellationToken).ConfigureAwait(false);
        var exact = await TopAsync(context, vector, model, keys, k, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(context, "SET LOCAL enable_indexscan = on", cancellationToken).ConfigureAwait(false);
        return exact.Count == 0 ? (1, true) : ((double)exact.Count(approximate.Contains) / exact.Count, approximate.Contains(exact[0]));
    }

    private static async Task<List<Guid>> TopAsync(JobContext context, float[] vector, string model, Guid[]? keys, int k, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand("""
            SELECT id FROM document_chunks
            WHERE embedding_model = $2 AND ($3::uuid[] IS NULL OR scope_key = ANY($3))
            ORDER BY embedding <#> $1
            LIMIT $4
            """);
        command.Parameters.Add(new() { Value = new Vector(vector) });
        command.Parameters.Add(new() { Value = model });
        command.Parameters.Add(new() { Value = (object?)keys ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = k });
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private static async Task ExecuteAsync(JobContext context, string sql, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "HNSW recall@{K} for {Model}: {FilteredRecall:0.000} on scope-filtered queries, {GlobalRecall:0.000} over the whole index; exact nearest neighbour found {NearestFound:P1} ({Samples} sample queries, ef_search {EfSearch})")]
    private partial void LogRecall(int k, string model, double filteredRecall, double globalRecall, double nearestFound, int samples, int efSearch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Recall monitor: no chunk embedded with {Model} yet")]
    private partial void LogNothingToMeasure(string model);
}

/// <summary>One run of the recall monitor.</summary>
/// <param name="NearestFound">Share of scope-filtered queries whose exact nearest neighbour the index returned in its top K
/// (exported as the gauge with k = 1).</param>
public sealed record RecallMeasurement(string Model, int K, int Samples, double FilteredRecall, double GlobalRecall, double NearestFound);
