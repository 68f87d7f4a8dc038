using System.Diagnostics;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Workers.Documents;

/// <summary>
/// The <c>documents.reembed</c> job, also run every minute as a recurring check: when the configured embedding model
/// differs from the one a ready document's chunks were embedded with, it re-embeds a batch of those chunks (locked
/// with SKIP LOCKED, so concurrent runs share the work) and enqueues its successor until none is left. Queries filter
/// by model, so a half-migrated store serves each chunk only to queries of the model it was embedded with.
/// </summary>
public sealed partial class ReembedHandler(
    DocumentEmbedder embedder,
    FieldCipher cipher,
    DocumentsTelemetry telemetry,
    IOptions<DocumentsOptions> options,
    ILogger<ReembedHandler> logger) : IJobHandler
{
    public string Type => DocumentJobs.Reembed;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var model = embedder.ModelId;
        var batchSize = options.Value.Reembed.BatchSize;
        var started = Stopwatch.GetTimestamp();

        var chunks = new List<(Guid Id, Guid DocumentId, string Input)>();
        await using (var select = context.CreateCommand("""
            SELECT c.id, c.document_id, c.heading, c.content, c.key_id, c.content_ct
            FROM document_chunks c
            WHERE c.document_id IN (
                    SELECT id FROM documents WHERE status = 'ready' AND embedding_model IS DISTINCT FROM $1 ORDER BY id LIMIT 100)
              AND c.embedding_model <> $1
            ORDER BY c.document_id, c.ordinal
            LIMIT $2
            FOR UPDATE OF c SKIP LOCKED
            """))
        {
            select.Parameters.Add(new() { Value = model });
            select.Parameters.Add(new() { Value = batchSize });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var heading = reader.IsDBNull(2) ? null : reader.GetString(2);
                var content = await cipher.OpenAsync(DocumentStore.ReadContent(reader, 3, 4, 5), EncryptedField.ChunkContent, reader.GetGuid(0), cancellationToken)
                    .ConfigureAwait(false);
                chunks.Add((reader.GetGuid(0), reader.GetGuid(1), heading is null ? content : heading + "\n" + content));
            }
        }

        if (chunks.Count > 0)
        {
            var vectors = await embedder.EmbedAsync([.. chunks.Select(c => c.Input)], null, cancellationToken).ConfigureAwait(false);
            await using (var temp = context.CreateCommand("CREATE TEMP TABLE reembedded (id uuid PRIMARY KEY, embedding vector(384) NOT NULL) ON COMMIT DROP"))
            {
                await temp.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var importer = await context.Connection.BeginBinaryImportAsync("COPY reembedded (id, embedding) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < chunks.Count; i++)
                {
                    await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(chunks[i].Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(ChunkWriter.ToVector(vectors[i]), "vector", cancellationToken).ConfigureAwait(false);
                }

                await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var update = context.CreateCommand("""
                UPDATE document_chunks c SET embedding = r.embedding, embedding_model = $1 FROM reembedded r WHERE c.id = r.id
                """))
            {
                update.Parameters.Add(new() { Value = model });
                await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            telemetry.ChunksReembedded.Add(chunks.Count, new KeyValuePair<string, object?>("gen_ai.request.model", model));
        }

        // Documents whose chunks are now all on the current model say so (also those that had no chunk to redo).
        int documentsDone;
        await using (var documents = context.CreateCommand("""
            UPDATE documents d SET embedding_model = $1, updated_at = now()
            WHERE d.status = 'ready' AND d.embedding_model IS DISTINCT FROM $1
              AND ($2::uuid[] IS NULL OR d.id = ANY($2))
              AND NOT EXISTS (SELECT 1 FROM document_chunks c WHERE c.document_id = d.id AND c.embedding_model <> $1)
            """))
        {
            documents.Parameters.Add(new() { Value = model });
            documents.Parameters.Add(new()
            {
                Value = chunks.Count > 0 ? chunks.Select(c => c.DocumentId).Distinct().ToArray() : DBNull.Value,
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid,
            });
            documentsDone = await documents.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var remaining = await RemainingAsync(context, model, cancellationToken).ConfigureAwait(false);
        if (remaining && chunks.Count > 0)
        {
            // The successor has no dedupe key: this job is still "running", and a key would match it.
            await context.EnqueueAsync(new JobRequest(DocumentJobs.Reembed), cancellationToken).ConfigureAwait(false);
        }

        if (chunks.Count > 0 || documentsDone > 0)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            LogReembedded(chunks.Count, documentsDone, model, remaining, elapsed.TotalMilliseconds);
        }
    }

    private static async Task<bool> RemainingAsync(JobContext context, string model, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand("""
            SELECT EXISTS (SELECT 1 FROM documents WHERE status = 'ready' AND embedding_model IS DISTINCT FROM $1)
            """);
        command.Parameters.Add(new() { Value = model });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Re-embedded {Chunks} chunks with {Model}; {Documents} documents completed; more remaining: {Remaining} ({ElapsedMs:0} ms)")]
    private partial void LogReembedded(int chunks, int documents, string model, bool remaining, double elapsedMs);
}
