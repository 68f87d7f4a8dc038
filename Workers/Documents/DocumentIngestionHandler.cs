using System.Diagnostics;
using System.Text.Json;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Documents;

/// <summary>
/// The <c>documents.ingest</c> job: parse and clean → chunk → embed in batches → store chunks (vector, tsvector,
/// metadata, model) → ready. The chunks and the ready status are written in the job's transaction, so they appear
/// together exactly once; the intermediate statuses (parsing, embedding and its progress) are written on their own
/// connection so that a client polling the document sees them while the job runs.
/// </summary>
/// <remarks>
/// A file that cannot be parsed fails its document with the reason and the job succeeds: retrying cannot help, and
/// the worker moves on. Other errors (database, embedding provider) are retried by the job queue; the last attempt
/// also marks the document failed with the reason.
/// </remarks>
public sealed partial class DocumentIngestionHandler(
    NpgsqlDataSource dataSource,
    DocumentEmbedder embedder,
    FieldCipher cipher,
    DocumentsTelemetry telemetry,
    IOptions<DocumentsOptions> options,
    ILogger<DocumentIngestionHandler> logger) : IJobHandler
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public string Type => DocumentJobs.Ingest;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var documentId = context.GetPayload<IngestPayload>().DocumentId;
        var started = Stopwatch.GetTimestamp();
        using var activity = DocumentsTelemetry.ActivitySource.StartActivity("documents.ingest");
        activity?.SetTag("aspireai.document.id", documentId);

        var source = await LoadAsync(context, documentId, cancellationToken).ConfigureAwait(false);
        if (source is null)
        {
            LogSkipped(documentId, "deleted");
            return;
        }

        if (source.Status == DocumentStatus.Ready && source.EmbeddingModel == embedder.ModelId)
        {
            LogSkipped(documentId, "already ready");
            return;
        }

        try
        {
            await IngestAsync(context, source, started, cancellationToken).ConfigureAwait(false);
        }
        catch (DocumentParseException ex)
        {
            await FailAsync(context.Connection, context.Transaction, documentId, ex.Message, cancellationToken).ConfigureAwait(false);
            Record(DocumentStatus.Failed, source.Format, started);
            LogFailed(documentId, source.Format, ex.Message);
        }
        catch (Exception ex) when (context.IsLastAttempt && !cancellationToken.IsCancellationRequested)
        {
            // The job is about to become dead; the document must not stay "embedding" for ever. The job transaction
            // may be broken, so the reason goes on a connection of its own.
            await using (var connection = await dataSource.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false))
            await using (var tx = await connection.BeginTransactionAsync(CancellationToken.None).ConfigureAwait(false))
            {
                try
                {
                    // Bounded wait, as for progress: a DELETE queued behind this job's transaction must not deadlock us.
                    await using (var timeout = new NpgsqlCommand("SET LOCAL lock_timeout = '2s'", connection, tx))
                    {
                        await timeout.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                    }

                    await FailAsync(connection, tx, documentId,
                        $"Ingestion failed after {context.Attempt} {(context.Attempt == 1 ? "attempt" : "attempts")}: {ex.GetType().Name}: {Truncate(ex.Message, 300)}", CancellationToken.None).ConfigureAwait(false);
                    await tx.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (PostgresException lockEx) when (lockEx.SqlState == PostgresErrorCodes.LockNotAvailable)
                {
                    LogProgressSkipped(documentId);
                }
            }

            Record(DocumentStatus.Failed, source.Format, started);
            throw;
        }
    }

    private async Task IngestAsync(JobContext context, DocumentSource source, long started, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await ProgressAsync(source.Id, DocumentStatus.Parsing, null, null, cancellationToken).ConfigureAwait(false);

        var parsed = DocumentParser.Parse(source.Content, source.Format, settings.MaxTextChars, settings.Limits, cancellationToken);
        var chunks = TextChunker.Chunk(parsed.Text, settings.Chunking);
        if (chunks.Count == 0)
        {
            throw new DocumentParseException("The document contains no text.");
        }

        if (chunks.Count > settings.MaxChunksPerDocument)
        {
            throw new DocumentParseException(
                $"The document would make {chunks.Count:N0} chunks; the limit is {settings.MaxChunksPerDocument:N0} (Documents:MaxChunksPerDocument).");
        }

        await ProgressAsync(source.Id, DocumentStatus.Embedding, chunks.Count, 0, cancellationToken).ConfigureAwait(false);

        // Hold the document for the write: a concurrent DELETE either happened already (nothing to store) or waits for
        // this commit and then removes the chunks with the document. KEY SHARE (what the chunks' foreign key takes
        // anyway) still lets progress updates through.
        await using (var lockRow = context.CreateCommand("SELECT scope_key FROM documents WHERE id = $1 FOR KEY SHARE"))
        {
            lockRow.Parameters.Add(new() { Value = source.Id });
            if (await lockRow.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                LogSkipped(source.Id, "deleted during ingestion");
                return;
            }
        }

        await using (var clear = context.CreateCommand("DELETE FROM document_chunks WHERE document_id = $1"))
        {
            clear.Parameters.Add(new() { Value = source.Id });
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // Embedding runs a batch ahead of the COPY that stores (and indexes) the previous batch.
        var keys = (await cipher.DataKeyAsync(source.OrgId, cancellationToken).ConfigureAwait(false),
            await cipher.IndexKeyAsync(source.OrgId, cancellationToken).ConfigureAwait(false));
        var written = await ChunkWriter.WriteAsync(context.Connection, source.Id, source.ScopeKey, embedder.ModelId, keys,
            Rows(source.Id, chunks, parsed.Pages, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (written != chunks.Count)
        {
            throw new InvalidOperationException($"Stored {written} of {chunks.Count} chunks.");
        }

        await using (var ready = context.CreateCommand("""
            UPDATE documents
            SET status = 'ready', failure_reason = NULL, chunk_count = $2, embedded_chunks = $2, embedding_model = $3,
                title = CASE WHEN $4::text IS NOT NULL AND NOT coalesce((metadata->>'titleGiven')::boolean, true) THEN left($4, 300) ELSE title END,
                metadata = metadata || $5::jsonb, ready_at = now(), updated_at = now()
            WHERE id = $1
            """))
        {
            ready.Parameters.Add(new() { Value = source.Id });
            ready.Parameters.Add(new() { Value = chunks.Count });
            ready.Parameters.Add(new() { Value = embedder.ModelId });
            ready.Parameters.Add(new() { Value = (object?)parsed.Title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            ready.Parameters.Add(new() { Value = JsonSerializer.Serialize(parsed.Metadata) });
            await ready.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        telemetry.ChunksIngested.Add(chunks.Count);
        Record(DocumentStatus.Ready, source.Format, started);
        var elapsed = Stopwatch.GetElapsedTime(started);
        LogReady(source.Id, source.Format, chunks.Count, embedder.ModelId, elapsed.TotalMilliseconds);
    }

    // The chunk's page (and last page, when it runs onto the next) for paged formats, so a citation can name it.
    internal static string ChunkMetadata(TextChunk chunk, IReadOnlyList<DocumentPage>? pages)
    {
        var metadata = new Dictionary<string, object>();
        if (chunk.SplitSentence)
        {
            metadata["splitSentence"] = true;
        }
        if (pages is { Count: > 0 })
        {
            var first = pages.Last(p => p.Start <= chunk.Start || p == pages[0]).Number;
            var last = pages.Last(p => p.Start < chunk.End || p == pages[0]).Number;
            metadata["page"] = first;
            if (last != first)
            {
                metadata["pageEnd"] = last;
            }
        }
        return JsonSerializer.Serialize(metadata);
    }

    private async IAsyncEnumerable<ChunkRow> Rows(Guid documentId, IReadOnlyList<TextChunk> chunks, IReadOnlyList<DocumentPage>? pages,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lastProgress = Stopwatch.GetTimestamp();
        await foreach (var (start, vectors) in embedder.EmbedPipelinedAsync([.. chunks.Select(EmbeddingInput)], cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < vectors.Length; i++)
            {
                var chunk = chunks[start + i];
                yield return new ChunkRow(Guid.CreateVersion7(), chunk.Ordinal, chunk.Heading, chunk.Content, chunk.TokenCount, chunk.Start, chunk.End,
                    ChunkMetadata(chunk, pages), vectors[i]);
            }

            if (Stopwatch.GetElapsedTime(lastProgress) >= ProgressInterval)
            {
                lastProgress = Stopwatch.GetTimestamp();
                await ProgressAsync(documentId, DocumentStatus.Embedding, chunks.Count, start + vectors.Length, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>What is embedded for a chunk: its heading path gives a short passage its context.</summary>
    internal static string EmbeddingInput(TextChunk chunk) =>
        chunk.Heading is null ? chunk.Content : chunk.Heading + "\n" + chunk.Content;

    private static async Task<DocumentSource?> LoadAsync(JobContext context, Guid documentId, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand("""
            SELECT d.status, d.format, d.scope_key, d.embedding_model, s.content, d.org_id
            FROM documents d JOIN document_sources s ON s.document_id = d.id
            WHERE d.id = $1
            """);
        command.Parameters.Add(new() { Value = documentId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new DocumentSource(documentId, reader.GetString(0), reader.GetString(1), reader.GetGuid(2),
            reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetFieldValue<byte[]>(4), reader.GetGuid(5));
    }

    // Progress is not an effect of the job: it is committed at once, on its own connection, so that clients polling
    // the document see it. It is best effort: if the row is locked (a DELETE waiting for this job's transaction),
    // waiting could deadlock with our own transaction, so it gives up after a moment instead.
    private async Task ProgressAsync(Guid documentId, string status, int? chunkCount, int? embedded, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL lock_timeout = '200ms'"));
        var update = new NpgsqlBatchCommand("""
            UPDATE documents
            SET status = $2, chunk_count = coalesce($3, chunk_count), embedded_chunks = coalesce($4, embedded_chunks), updated_at = now()
            WHERE id = $1 AND status <> 'ready'
            """);
        update.Parameters.Add(new() { Value = documentId });
        update.Parameters.Add(new() { Value = status });
        update.Parameters.Add(new() { Value = (object?)chunkCount ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = (object?)embedded ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        batch.BatchCommands.Add(update);
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            LogProgressSkipped(documentId);
        }
    }

    private static async Task FailAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid documentId, string reason,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE documents SET status = 'failed', failure_reason = $2, embedded_chunks = 0, updated_at = now() WHERE id = $1
            """, connection, transaction);
        command.Parameters.Add(new() { Value = documentId });
        command.Parameters.Add(new() { Value = Truncate(reason, 1000) });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Record(string outcome, string format, long started)
    {
        var tags = new TagList { { "outcome", outcome }, { "format", format } };
        telemetry.DocumentsIngested.Add(1, tags);
        telemetry.IngestionDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];

    private sealed record IngestPayload(Guid DocumentId);

    private sealed record DocumentSource(Guid Id, string Status, string Format, Guid ScopeKey, string? EmbeddingModel, byte[] Content, Guid OrgId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Document {DocumentId} ({Format}) is ready: {Chunks} chunks embedded with {Model} in {ElapsedMs:0} ms")]
    private partial void LogReady(Guid documentId, string format, int chunks, string model, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Document {DocumentId} ({Format}) failed: {Reason}")]
    private partial void LogFailed(Guid documentId, string format, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Progress of document {DocumentId} not recorded: the row is locked (probably being deleted)")]
    private partial void LogProgressSkipped(Guid documentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingestion of document {DocumentId} skipped: {Why}")]
    private partial void LogSkipped(Guid documentId, string why);
}
