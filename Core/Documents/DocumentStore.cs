using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Encryption;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Documents;

/// <summary>Job types of the documents feature.</summary>
public static class DocumentJobs
{
    /// <summary>Parse, chunk, embed and store one document. Payload: <c>{ documentId }</c>.</summary>
    public const string Ingest = "documents.ingest";

    /// <summary>Re-embeds chunks whose embedding model is not the configured one, a batch per job.</summary>
    public const string Reembed = "documents.reembed";

    /// <summary>Recurring: HNSW versus exact search on sample queries, exported as recall@10.</summary>
    public const string RecallMonitor = "documents.recall-monitor";

    /// <summary>Recurring: clears tool-call arguments from the audit log once they pass their retention period.</summary>
    public const string ToolAuditRetention = "documents.tool-audit-retention";
}

/// <summary>How a delete ended.</summary>
public enum DocumentDeleteResult
{
    Deleted,
    NotFound,
    Forbidden,
}

/// <summary>
/// Documents as rows: upload (deduplicated by content within a scope, enqueued for ingestion in the same
/// transaction), reads scoped to what the caller may see, delete, and bulk batches.
/// </summary>
/// <remarks>
/// Visibility in one rule: a caller sees documents whose <c>scope_key</c> is their user id (their own) or their org
/// id (the organisation's). Anything else is "not found", never "forbidden", so ids of others' documents leak nothing.
/// </remarks>
public sealed class DocumentStore(NpgsqlDataSource dataSource, IJobQueue jobs, FieldCipher cipher)
{
    public const int MaxPageSize = 100;

    private const string Columns = """
        d.id, d.org_id, d.owner_user_id, d.scope, d.title, d.file_name, d.format, d.size_bytes, d.tags, d.status,
        d.failure_reason, d.chunk_count, d.embedded_chunks, d.embedding_model, d.metadata, d.created_at, d.updated_at, d.ready_at
        """;

    /// <summary>Stores an upload and enqueues its ingestion, or returns the document that already has this content.</summary>
    public async Task<DocumentUpload> CreateAsync(CurrentUser user, NewDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(document);
        await jobs.EnsureCapacityAsync(DocumentJobs.Ingest, cancellationToken).ConfigureAwait(false);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var upload = await InsertAsync(user, document, connection, tx, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return upload;
    }

    /// <summary>Stores many uploads as one batch, all or nothing (a full queue rolls every one back).</summary>
    public async Task<(Guid BatchId, IReadOnlyList<DocumentUpload> Documents)> CreateBatchAsync(
        CurrentUser user, IReadOnlyList<NewDocument> documents, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(documents);
        await jobs.EnsureCapacityAsync(DocumentJobs.Ingest, cancellationToken).ConfigureAwait(false);
        var batchId = Guid.CreateVersion7();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var batch = new NpgsqlCommand("INSERT INTO document_batches (id, user_id, org_id, total) VALUES ($1, $2, $3, $4)", connection, tx))
        {
            batch.Parameters.Add(new() { Value = batchId });
            batch.Parameters.Add(new() { Value = user.UserId });
            batch.Parameters.Add(new() { Value = user.OrgId });
            batch.Parameters.Add(new() { Value = documents.Count });
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var uploads = new List<DocumentUpload>(documents.Count);
        for (var i = 0; i < documents.Count; i++)
        {
            var upload = await InsertAsync(user, documents[i], connection, tx, cancellationToken).ConfigureAwait(false);
            uploads.Add(upload);
            await using var item = new NpgsqlCommand(
                "INSERT INTO document_batch_items (batch_id, position, document_id, duplicate) VALUES ($1, $2, $3, $4)", connection, tx);
            item.Parameters.Add(new() { Value = batchId });
            item.Parameters.Add(new() { Value = i });
            item.Parameters.Add(new() { Value = upload.Id });
            item.Parameters.Add(new() { Value = upload.Duplicate });
            await item.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (batchId, uploads);
    }

    private async Task<DocumentUpload> InsertAsync(CurrentUser user, NewDocument document, NpgsqlConnection connection, NpgsqlTransaction tx,
        CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var scopeKey = document.Scope == DocumentScope.Org ? user.OrgId : user.UserId;
        var hash = SHA256.HashData(document.Content.Span);
        // A text sent without a title is named after its own title or first line, not "Untitled document".
        var title = document.Title ?? document.FileName ?? DocumentTitle.FromContent(document.Content.Span, document.Format) ?? "Untitled document";

        // ON CONFLICT on the content index: two identical uploads racing both end on the same document.
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO documents (id, org_id, owner_user_id, scope, scope_key, title, file_name, format, size_bytes, content_sha256, tags, metadata)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (scope_key, content_sha256) DO NOTHING
            """, connection, tx))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = user.OrgId });
            insert.Parameters.Add(new() { Value = user.UserId });
            insert.Parameters.Add(new() { Value = document.Scope });
            insert.Parameters.Add(new() { Value = scopeKey });
            insert.Parameters.Add(new() { Value = title });
            insert.Parameters.Add(new() { Value = (object?)document.FileName ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = document.Format });
            insert.Parameters.Add(new() { Value = (long)document.Content.Length });
            insert.Parameters.Add(new() { Value = hash });
            insert.Parameters.Add(new() { Value = document.Tags.ToArray() });
            // Whether the title was given: the parser may replace a fallback title with the one inside the document.
            insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(new { titleGiven = document.Title is not null }), NpgsqlDbType = NpgsqlDbType.Jsonb });
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return await ExistingAsync(scopeKey, hash, connection, tx, cancellationToken).ConfigureAwait(false);
            }
        }

        await using (var source = new NpgsqlCommand("INSERT INTO document_sources (document_id, content) VALUES ($1, $2)", connection, tx))
        {
            source.Parameters.Add(new() { Value = id });
            source.Parameters.Add(new() { Value = document.Content, NpgsqlDbType = NpgsqlDbType.Bytea });
            await source.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await EnqueueIngestionAsync(id, connection, tx, cancellationToken).ConfigureAwait(false);
        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(user.UserId, "document.uploaded", "document", id.ToString(),
            new Dictionary<string, string?>
            {
                ["scope"] = document.Scope,
                ["format"] = document.Format,
                ["sizeBytes"] = document.Content.Length.ToString(CultureInfo.InvariantCulture),
            }), cancellationToken).ConfigureAwait(false);
        return new DocumentUpload(id, DocumentStatus.Queued, title, Duplicate: false);
    }

    // The same content is already in the scope. A failed one gets another try (the failure may have been the
    // embedding provider's); anything else is returned as it is.
    private async Task<DocumentUpload> ExistingAsync(Guid scopeKey, byte[] hash, NpgsqlConnection connection,
        NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        Guid id;
        string status, title;
        await using (var select = new NpgsqlCommand(
            "SELECT id, status, title FROM documents WHERE scope_key = $1 AND content_sha256 = $2 FOR UPDATE", connection, tx))
        {
            select.Parameters.Add(new() { Value = scopeKey });
            select.Parameters.Add(new() { Value = hash });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Deleted between our insert attempt and this read: the caller may simply upload again.
                throw new InvalidOperationException("A document with the same content was deleted concurrently; upload again.");
            }

            (id, status, title) = (reader.GetGuid(0), reader.GetString(1), reader.GetString(2));
        }

        if (status == DocumentStatus.Failed)
        {
            await using var retry = new NpgsqlCommand("""
                UPDATE documents SET status = 'queued', failure_reason = NULL, embedded_chunks = 0, updated_at = now() WHERE id = $1
                """, connection, tx);
            retry.Parameters.Add(new() { Value = id });
            await retry.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await EnqueueIngestionAsync(id, connection, tx, cancellationToken).ConfigureAwait(false);
            status = DocumentStatus.Queued;
        }

        return new DocumentUpload(id, status, title, Duplicate: true);
    }

    private Task<JobEnqueueResult> EnqueueIngestionAsync(Guid documentId, NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken) =>
        jobs.EnqueueAsync(new JobRequest(DocumentJobs.Ingest, new { documentId }) { DedupeKey = documentId.ToString("N") }, connection, tx, cancellationToken);

    public async Task<DocumentRecord?> GetAsync(CurrentUser user, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM documents d WHERE d.id = $1 AND d.scope_key = ANY($2)");
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = ScopeKeys(user) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>The caller's documents and their organisation's, newest first.</summary>
    public async Task<DocumentPage<DocumentRecord>> ListAsync(CurrentUser user, string? scope, string? status, string? tag,
        (DateTimeOffset CreatedAt, Guid Id)? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM documents d
            WHERE d.scope_key = ANY($1)
              AND ($2::text IS NULL OR d.status = $2)
              AND ($3::text IS NULL OR $3 = ANY(d.tags))
              AND ($4::timestamptz IS NULL OR (d.created_at, d.id) < ($4, $5))
            ORDER BY d.created_at DESC, d.id DESC
            LIMIT $6
            """);
        command.Parameters.Add(new() { Value = scope switch { DocumentScope.User => new[] { user.UserId }, DocumentScope.Org => [user.OrgId], _ => ScopeKeys(user) } });
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)tag ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = after is { } a ? a.CreatedAt : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = after is { } b ? b.Id : Guid.Empty });
        command.Parameters.Add(new() { Value = limit + 1 });
        var items = new List<DocumentRecord>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                items.Add(Read(reader));
            }
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            var last = items[^1];
            next = Cursor.Encode(Cursor.EncodeTime(last.CreatedAt), last.Id.ToString("N"));
        }

        return new DocumentPage<DocumentRecord>(items, next);
    }

    /// <summary>
    /// Deletes a document with its source, chunks and embeddings (one statement, cascading). A user's own documents are
    /// theirs to delete; the organisation's only an administrator's.
    /// </summary>
    public async Task<DocumentDeleteResult> DeleteAsync(CurrentUser user, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string scope;
        await using (var select = new NpgsqlCommand("SELECT scope FROM documents WHERE id = $1 AND scope_key = ANY($2) FOR UPDATE", connection, tx))
        {
            select.Parameters.Add(new() { Value = id });
            select.Parameters.Add(new() { Value = ScopeKeys(user) });
            if (await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not string found)
            {
                return DocumentDeleteResult.NotFound;
            }

            scope = found;
        }

        if (scope == DocumentScope.Org && !user.IsAdmin)
        {
            return DocumentDeleteResult.Forbidden;
        }

        await using (var delete = new NpgsqlCommand("DELETE FROM documents WHERE id = $1", connection, tx))
        {
            delete.Parameters.Add(new() { Value = id });
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(user.UserId, "document.deleted", "document", id.ToString(),
            new Dictionary<string, string?> { ["scope"] = scope }), cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return DocumentDeleteResult.Deleted;
    }

    /// <summary>A page of a visible document's chunks in order; null when the document is not visible.</summary>
    public async Task<DocumentPage<DocumentChunkRecord>?> ListChunksAsync(CurrentUser user, Guid documentId, int? afterOrdinal, int limit,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (await GetAsync(user, documentId, cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        await using var command = dataSource.CreateCommand("""
            SELECT id, document_id, ordinal, heading, content, token_count, embedding_model, key_id, content_ct FROM document_chunks
            WHERE document_id = $1 AND ordinal > $2
            ORDER BY ordinal
            LIMIT $3
            """);
        command.Parameters.Add(new() { Value = documentId });
        command.Parameters.Add(new() { Value = afterOrdinal ?? -1 });
        command.Parameters.Add(new() { Value = limit + 1 });
        var items = await ReadChunksAsync(command, cancellationToken).ConfigureAwait(false);
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = Cursor.Encode(items[^1].Ordinal.ToString(CultureInfo.InvariantCulture));
        }

        return new DocumentPage<DocumentChunkRecord>(items, next);
    }

    /// <summary>One chunk of a visible document (the target of a citation link).</summary>
    public async Task<DocumentChunkRecord?> GetChunkAsync(CurrentUser user, Guid documentId, Guid chunkId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var command = dataSource.CreateCommand("""
            SELECT id, document_id, ordinal, heading, content, token_count, embedding_model, key_id, content_ct FROM document_chunks
            WHERE id = $1 AND document_id = $2 AND scope_key = ANY($3)
            """);
        command.Parameters.Add(new() { Value = chunkId });
        command.Parameters.Add(new() { Value = documentId });
        command.Parameters.Add(new() { Value = ScopeKeys(user) });
        var items = await ReadChunksAsync(command, cancellationToken).ConfigureAwait(false);
        return items.Count == 0 ? null : items[0];
    }

    /// <summary>Progress of one of the caller's bulk uploads, or null.</summary>
    public async Task<DocumentBatchProgress?> GetBatchAsync(CurrentUser user, Guid batchId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var command = dataSource.CreateCommand("""
            SELECT b.total, b.created_at, i.position, i.document_id, d.title, d.status, d.failure_reason, i.duplicate
            FROM document_batches b
            LEFT JOIN document_batch_items i ON i.batch_id = b.id
            LEFT JOIN documents d ON d.id = i.document_id
            WHERE b.id = $1 AND b.user_id = $2
            ORDER BY i.position
            """);
        command.Parameters.Add(new() { Value = batchId });
        command.Parameters.Add(new() { Value = user.UserId });
        var items = new List<DocumentBatchItem>();
        int? total = null;
        var createdAt = default(DateTimeOffset);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                total = reader.GetInt32(0);
                createdAt = reader.GetFieldValue<DateTimeOffset>(1);
                if (reader.IsDBNull(2))
                {
                    continue;
                }

                var documentId = reader.IsDBNull(3) ? (Guid?)null : reader.GetGuid(3);
                items.Add(new DocumentBatchItem(reader.GetInt32(2), documentId, reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.IsDBNull(5) ? "deleted" : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetBoolean(7)));
            }
        }

        if (total is null)
        {
            return null;
        }

        var counts = DocumentStatus.All.ToDictionary(s => s, s => items.Count(i => i.Status == s), StringComparer.Ordinal);
        var deleted = items.Count(i => i.Status == "deleted");
        var completed = items.All(i => i.Status is DocumentStatus.Ready or DocumentStatus.Failed or "deleted");
        return new DocumentBatchProgress(batchId, total.Value, counts, deleted, completed, createdAt, items);
    }

    /// <summary>The scope keys a user reads: their own id and their organisation's.</summary>
    public static Guid[] ScopeKeys(CurrentUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return [user.UserId, user.OrgId];
    }

    private async Task<List<DocumentChunkRecord>> ReadChunksAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<DocumentChunkRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var content = await cipher.OpenAsync(ReadContent(reader, 4, 7, 8), EncryptedField.ChunkContent, reader.GetGuid(0), cancellationToken).ConfigureAwait(false);
            items.Add(new DocumentChunkRecord(reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                content, reader.GetInt32(5), reader.GetString(6)));
        }

        return items;
    }

    /// <summary>A chunk's text as stored: plain column, key id and ciphertext at the given ordinals.</summary>
    public static StoredText ReadContent(NpgsqlDataReader reader, int plainOrdinal, int keyOrdinal, int ciphertextOrdinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new StoredText(
            reader.IsDBNull(keyOrdinal) ? null : reader.GetGuid(keyOrdinal),
            reader.IsDBNull(ciphertextOrdinal) ? null : reader.GetFieldValue<byte[]>(ciphertextOrdinal),
            reader.IsDBNull(plainOrdinal) ? null : reader.GetString(plainOrdinal));
    }

    private static DocumentRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3), reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetInt64(7), reader.GetFieldValue<string[]>(8),
        reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10), reader.GetInt32(11), reader.GetInt32(12),
        reader.IsDBNull(13) ? null : reader.GetString(13), JsonElement.Parse(reader.GetString(14)),
        reader.GetFieldValue<DateTimeOffset>(15), reader.GetFieldValue<DateTimeOffset>(16),
        reader.IsDBNull(17) ? null : reader.GetFieldValue<DateTimeOffset>(17));
}
