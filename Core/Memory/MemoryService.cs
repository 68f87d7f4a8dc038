using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Common;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Memory;

/// <summary>Why a change was refused.</summary>
public enum MemoryChangeStatus
{
    Done,

    /// <summary>No such memory for this caller (another user's memory is reported the same way).</summary>
    NotFound,

    /// <summary>The caller may read it but not change it (a shared memory and not an administrator).</summary>
    Forbidden,

    /// <summary>It is an old version: change the current one.</summary>
    NotCurrent,

    /// <summary>Another current memory of the scope already says the new text.</summary>
    Duplicate,
}

/// <summary>The outcome of a change made through the API or a tool.</summary>
public sealed record MemoryChange(MemoryChangeStatus Status, MemoryWriteResult? Result = null, Guid? ConflictingId = null, Guid? CurrentId = null);

/// <summary>An extraction request accepted for a job.</summary>
public sealed record MemoryExtractionTicket(Guid SourceId, long? JobId);

/// <summary>
/// Where an extraction request stands, as its owner may see it: <c>queued</c>, <c>running</c>, <c>done</c> (with the
/// facts kept and the consolidation operations), <c>skipped</c> (with why) or <c>failed</c> (its job is dead; an
/// administrator can replay it). The job's own error text is not shown: it can quote the model's output.
/// </summary>
public sealed record MemoryExtractionStatus(Guid SourceId, string Status, string? Reason, int? Facts,
    IReadOnlyDictionary<string, int>? Operations, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset? ProcessedAt);

/// <summary>
/// The memory writes that are not part of a job: direct writes (POST with infer=false), extraction requests (POST with
/// infer=true), user edits (PUT/DELETE) and the remember tool. Each runs in its own transaction under the same
/// per-user lock as consolidation.
/// </summary>
public sealed partial class MemoryService(
    NpgsqlDataSource dataSource,
    MemoryConsolidator consolidator,
    MemoryWriter writer,
    FieldCipher cipher,
    MemoryEmbedder embedder,
    IJobQueue queue,
    MemoryMetrics metrics,
    ILogger<MemoryService> logger)
{
    /// <summary>True when <paramref name="caller"/> may change memories of <paramref name="scope"/>.</summary>
    public static bool CanWrite(MemoryCaller caller, MemoryScopeRef scope)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(scope);
        return scope.IsPersonal
            ? scope.UserId == caller.UserId
            // Agent and org memories are read by every user of the organisation: only its administrators write them.
            : caller.IsAdmin && scope.OrgId == caller.OrgId;
    }

    /// <summary>Stores a text as written (POST infer=false): ADD, or NOOP when the scope already holds the same text.</summary>
    public async Task<MemoryWriteResult> StoreAsync(MemoryCaller caller, MemoryScopeRef scope, NewMemory memory, MemoryActor actor, string source,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var effects = new MemoryWriteEffects();
        var result = await consolidator.StoreVerbatimAsync(connection, transaction, effects, scope, memory,
            new MemoryProvenance(actor, caller.UserId, source, null, []), cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(transaction, effects, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Queues extraction from <paramref name="messages"/> into <paramref name="scope"/> (POST infer=true). The queue's
    /// capacity is checked first, then again inside the transaction; a full queue throws
    /// <see cref="JobQueueFullException"/> (503 + Retry-After) and nothing is stored.
    /// </summary>
    public async Task<MemoryExtractionTicket> RequestExtractionAsync(MemoryCaller caller, MemoryScopeRef scope, string agentId,
        IReadOnlyList<(string Role, string Content)> messages, JsonElement? metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(messages);
        await queue.EnsureCapacityAsync(MemoryJobs.Extract, cancellationToken).ConfigureAwait(false);
        var sourceId = Guid.CreateVersion7();
        var optOut = messages.Any(m => m.Role == "user" && SecretDetector.IsOptOut(m.Content));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO memory_sources (id, kind, org_id, user_id, agent_id, session_id, scope, input, metadata, status, status_reason)
            VALUES ($1, 'api', $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = sourceId });
            insert.Parameters.Add(new() { Value = caller.OrgId });
            insert.Parameters.Add(new() { Value = caller.UserId });
            insert.Parameters.Add(new() { Value = scope.AgentId ?? agentId });
            insert.Parameters.Add(MemorySql.Text(scope.SessionId));
            insert.Parameters.Add(new() { Value = MemoryNames.Of(scope.Scope) });
            insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(messages.Select(m => new { role = m.Role, content = m.Content })) });
            insert.Parameters.Add(new() { Value = metadata is { ValueKind: JsonValueKind.Object } m ? m.GetRawText() : "{}" });
            insert.Parameters.Add(new() { Value = optOut ? "skipped" : "pending" });
            insert.Parameters.Add(MemorySql.Text(optOut ? "opt_out" : null));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        long? jobId = null;
        if (!optOut)
        {
            // Unlike the chat, an API caller is told about a full queue (503) instead of having the work deferred.
            jobId = (await queue.EnqueueAsync(MemoryJobs.ExtractionRequest(sourceId), connection, transaction, cancellationToken).ConfigureAwait(false)).JobId;
            await MemoryJobs.MarkQueuedAsync(connection, transaction, sourceId, jobId.Value, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            metrics.FactRejected("opt_out");
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new MemoryExtractionTicket(sourceId, jobId);
    }

    /// <summary>The caller's own extraction request <paramref name="sourceId"/>, or null (unknown or someone else's).</summary>
    public async Task<MemoryExtractionStatus?> GetExtractionAsync(MemoryCaller caller, Guid sourceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var command = dataSource.CreateCommand("""
            SELECT s.status, s.status_reason, s.facts, s.operations::text, j.status, coalesce(j.attempts, 0), s.created_at, s.processed_at
            FROM memory_sources s LEFT JOIN jobs j ON j.id = s.job_id
            WHERE s.id = $1 AND s.user_id = $2
            """);
        command.Parameters.Add(new() { Value = sourceId });
        command.Parameters.Add(new() { Value = caller.UserId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var sourceStatus = reader.GetString(0);
        var jobStatus = reader.IsDBNull(4) ? null : reader.GetString(4);
        var (status, reason) = (sourceStatus, jobStatus) switch
        {
            ("done" or "skipped", _) => (sourceStatus, reader.IsDBNull(1) ? null : reader.GetString(1)),
            (_, "dead") => ("failed", "Extraction failed on every attempt; an administrator can replay its job."),
            (_, "cancelled") => ("failed", "Extraction was cancelled by an administrator."),
            (_, "running") => ("running", null),
            _ => ("queued", null),
        };
        var operations = reader.IsDBNull(3) ? null : JsonSerializer.Deserialize<Dictionary<string, int>>(reader.GetString(3));
        return new MemoryExtractionStatus(sourceId, status, reason, reader.IsDBNull(2) ? null : reader.GetInt32(2), operations,
            reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7));
    }

    /// <summary>PUT: a new version with the caller's text (actor "user", or "admin" for shared memories).</summary>
    public async Task<MemoryChange> UpdateAsync(MemoryCaller caller, Guid id, string text, MemoryType? type, float? importance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var vector = await embedder.EmbedAsync(text, cancellationToken).ConfigureAwait(false);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var (status, memory) = await LoadForChangeAsync(connection, transaction, caller, id, cancellationToken).ConfigureAwait(false);
        if (status != MemoryChangeStatus.Done)
        {
            return new MemoryChange(status, CurrentId: status == MemoryChangeStatus.NotCurrent ? await CurrentOfAsync(connection, transaction, memory!, cancellationToken).ConfigureAwait(false) : null);
        }
        var hash = MemoryText.Hash(text);
        if (hash != MemoryText.Hash(memory!.Text)
            && await writer.GetCurrentByHashAsync(connection, transaction, memory.ScopeRef.Key, hash, cancellationToken).ConfigureAwait(false) is { } duplicate)
        {
            return new MemoryChange(MemoryChangeStatus.Duplicate, ConflictingId: duplicate.Id);
        }
        var sameText = hash == MemoryText.Hash(memory.Text);
        // The same text keeps its entities (possibly the model's); a new text gets the ones it names.
        var edited = new NewMemory(text, type ?? memory.Type, importance ?? memory.Importance, sameText ? memory.Entities : OfflineFactExtractor.Entities(text),
            memory.ExpiresAt, memory.Metadata);
        // The history has no type or importance columns: a change of either is spelled out in the reason.
        var reason = sameText && MemoryWriter.ChangesMetadata(memory, edited)
            ? string.Create(CultureInfo.InvariantCulture,
                $"Edited by the user (type {MemoryNames.Of(memory.Type)} → {MemoryNames.Of(edited.Type)}, importance {memory.Importance:0.##} → {edited.Importance:0.##}).")
            : "Edited by the user.";
        var effects = new MemoryWriteEffects();
        var result = await writer.SupersedeAsync(connection, transaction, effects, memory, edited,
            vector, new MemoryProvenance(ActorFor(caller, memory), caller.UserId, "api", null, []), reason, cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(transaction, effects, cancellationToken).ConfigureAwait(false);
        return new MemoryChange(MemoryChangeStatus.Done, result);
    }

    /// <summary>DELETE of one memory: invalidated with history (kept, not shown, until the retention purge or erasure).</summary>
    public async Task<MemoryChange> DeleteAsync(MemoryCaller caller, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var (status, memory) = await LoadForChangeAsync(connection, transaction, caller, id, cancellationToken).ConfigureAwait(false);
        if (status == MemoryChangeStatus.NotCurrent)
        {
            return new MemoryChange(MemoryChangeStatus.Done); // already gone: deleting is idempotent
        }
        if (status != MemoryChangeStatus.Done)
        {
            return new MemoryChange(status);
        }
        var effects = new MemoryWriteEffects();
        var result = await writer.InvalidateAsync(connection, transaction, effects, memory!, "deleted",
            new MemoryProvenance(ActorFor(caller, memory!), caller.UserId, "api", null, []), "Deleted by the user.", cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(transaction, effects, cancellationToken).ConfigureAwait(false);
        return new MemoryChange(MemoryChangeStatus.Done, result);
    }

    /// <summary>
    /// The remember tool: an explicit write of a fact the user asked to keep. First-person text is phrased as a fact
    /// ("I prefer dark mode" → "Prefers dark mode"); then it is consolidated like an extracted fact (actor "user").
    /// </summary>
    public async Task<ConsolidationReport> RememberAsync(Guid userId, Guid orgId, string? sessionId, string text, MemoryType? type, bool sessionOnly,
        CancellationToken cancellationToken)
    {
        var facts = OfflineFactExtractor.FromText(text).Where(f => !f.Retraction).ToList();
        if (facts.Count == 0)
        {
            facts.Add(new MemoryFact(text.TrimEnd('.'), type ?? MemoryType.Semantic, 0.7f, OfflineFactExtractor.Entities(text), false));
        }
        // A fact the text itself limits to the conversation ("remember that for this chat …") stays in the session
        // even when the caller asked for the user scope: it must not leak into other conversations.
        MemoryScopeRef ScopeOf(MemoryFact fact) => (sessionOnly || fact.Scope == MemoryScope.Session) && sessionId is not null
            ? MemoryScopeRef.ForSession(orgId, userId, sessionId)
            : MemoryScopeRef.ForUser(orgId, userId);
        var scoped = facts.Select(f => new ScopedFact(type is { } t ? f with { Type = t } : f, ScopeOf(f))).ToList();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var effects = new MemoryWriteEffects();
        var report = await consolidator.ConsolidateAsync(connection, transaction, effects, scoped,
            new MemoryProvenance(MemoryActor.User, userId, "tool", null, []), cancellationToken).ConfigureAwait(false);
        await writer.CommitAsync(transaction, effects, cancellationToken).ConfigureAwait(false);
        LogRemembered(userId, report.Results.Count);
        return report;
    }

    private static MemoryActor ActorFor(MemoryCaller caller, MemoryRecord memory) =>
        memory.ScopeRef.IsPersonal ? MemoryActor.User : MemoryActor.Admin;

    private async Task<(MemoryChangeStatus Status, MemoryRecord? Memory)> LoadForChangeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        MemoryCaller caller, Guid id, CancellationToken cancellationToken)
    {
        // Locks first (the memory's scope lock, then the row), the same order consolidation uses.
        var peek = await ReadVisibleAsync(connection, transaction, caller, id, cancellationToken).ConfigureAwait(false);
        if (peek is null)
        {
            return (MemoryChangeStatus.NotFound, null);
        }
        if (!CanWrite(caller, peek.ScopeRef))
        {
            return (MemoryChangeStatus.Forbidden, peek);
        }
        await MemorySql.LockScopeAsync(connection, transaction, peek.ScopeRef, cancellationToken).ConfigureAwait(false);
        var memory = await writer.GetForUpdateAsync(connection, transaction, id, cancellationToken).ConfigureAwait(false);
        if (memory is null)
        {
            return (MemoryChangeStatus.NotFound, null);
        }
        return memory.IsCurrent && (memory.ExpiresAt is null || memory.ExpiresAt > DateTimeOffset.UtcNow)
            ? (MemoryChangeStatus.Done, memory)
            : (MemoryChangeStatus.NotCurrent, memory);
    }

    private async Task<MemoryRecord?> ReadVisibleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryCaller caller, Guid id,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.id = $3 AND {MemorySql.Visible(1, 2)}",
            connection, transaction);
        command.Parameters.Add(new() { Value = caller.UserId });
        command.Parameters.Add(new() { Value = caller.OrgId });
        command.Parameters.Add(new() { Value = id });
        return (await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    private static async Task<Guid?> CurrentOfAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryRecord memory, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT id FROM memories WHERE lineage_id = $1 AND invalidated_at IS NULL LIMIT 1
            """, connection, transaction);
        command.Parameters.Add(new() { Value = memory.LineageId, NpgsqlDbType = NpgsqlDbType.Uuid });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as Guid?;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Remember tool for user {UserId}: {Count} decisions")]
    private partial void LogRemembered(Guid userId, int count);
}
