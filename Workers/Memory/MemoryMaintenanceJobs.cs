using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Workers.Memory;

/// <summary>
/// memory.expire (recurring): sessions that ended take their memories with them (rows, entity links and their own
/// history rows are deleted: nothing of a session outlives it); other memories past their expires_at are
/// invalidated with a DELETE history row (actor "system").
/// </summary>
public sealed partial class MemoryExpireJob(IOptions<MemoryOptions> options, ILogger<MemoryExpireJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.Expire;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var batch = new NpgsqlBatch(context.Connection, context.Transaction);
        await using (batch)
        {
            var sessions = new NpgsqlBatchCommand("""
                WITH ended AS (
                    SELECT id FROM memories WHERE scope = 'session' AND expires_at <= now()
                    LIMIT $1 FOR UPDATE SKIP LOCKED
                ),
                history AS (DELETE FROM memory_history WHERE memory_id IN (SELECT id FROM ended))
                DELETE FROM memories WHERE id IN (SELECT id FROM ended)
                """);
            sessions.Parameters.Add(new() { Value = options.Value.MaintenanceBatchSize });
            var expired = new NpgsqlBatchCommand("""
                WITH expired AS (
                    UPDATE memories m SET invalidated_at = now(), invalidated_reason = 'expired', updated_at = now()
                    WHERE m.id IN (
                        SELECT id FROM memories
                        WHERE scope <> 'session' AND invalidated_at IS NULL AND expires_at <= now()
                        LIMIT $1 FOR UPDATE SKIP LOCKED)
                    RETURNING m.id, m.lineage_id, m.org_id, m.user_id, m.scope, m.text, m.key_id, m.text_ct
                )
                INSERT INTO memory_history (memory_id, lineage_id, org_id, owner_user_id, scope, operation, old_text, key_id, old_text_ct, actor, reason, source)
                SELECT id, lineage_id, org_id, user_id, scope, 'DELETE', text, key_id, text_ct, 'system', 'Expired.', 'memory.expire' FROM expired
                """);
            expired.Parameters.Add(new() { Value = options.Value.MaintenanceBatchSize });
            batch.BatchCommands.Add(sessions);
            batch.BatchCommands.Add(expired);
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (sessions.RecordsAffected + expired.RecordsAffected > 0)
            {
                LogExpired(sessions.RecordsAffected, expired.RecordsAffected);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory expiry: {Sessions} session memories removed, {Expired} memories invalidated")]
    private partial void LogExpired(int sessions, int expired);
}

/// <summary>
/// memory.cap-episodic (recurring): keeps at most <see cref="MemoryOptions.EpisodicCapPerUser"/> current episodic
/// memories per user; the least recently created or used beyond the cap are invalidated ("capped") with history.
/// </summary>
public sealed partial class MemoryEpisodicCapJob(IOptions<MemoryOptions> options, ILogger<MemoryEpisodicCapJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.CapEpisodic;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var cap = options.Value.EpisodicCapPerUser;
        await using var command = context.CreateCommand("""
            WITH heavy AS (
                SELECT user_id FROM memories
                WHERE scope = 'user' AND type = 'episodic' AND invalidated_at IS NULL
                GROUP BY user_id HAVING count(*) > $1
            ),
            ranked AS (
                SELECT m.id, row_number() OVER (
                    PARTITION BY m.user_id ORDER BY greatest(m.created_at, coalesce(m.last_accessed_at, m.created_at)) DESC, m.id DESC) AS position
                FROM memories m JOIN heavy ON heavy.user_id = m.user_id
                WHERE m.scope = 'user' AND m.type = 'episodic' AND m.invalidated_at IS NULL
            ),
            capped AS (
                UPDATE memories m SET invalidated_at = now(), invalidated_reason = 'capped', updated_at = now()
                WHERE m.id IN (SELECT id FROM ranked WHERE position > $1 LIMIT $2) AND m.invalidated_at IS NULL
                RETURNING m.id, m.lineage_id, m.org_id, m.user_id, m.scope, m.text, m.key_id, m.text_ct
            )
            -- The memory's ciphertext moves as it is: history and memories seal their texts alike (same key, same binding).
            INSERT INTO memory_history (memory_id, lineage_id, org_id, owner_user_id, scope, operation, old_text, key_id, old_text_ct, actor, reason, source)
            SELECT id, lineage_id, org_id, user_id, scope, 'DELETE', text, key_id, text_ct, 'system', $3, 'memory.cap-episodic' FROM capped
            """);
        command.Parameters.Add(new() { Value = (long)cap });
        command.Parameters.Add(new() { Value = options.Value.MaintenanceBatchSize });
        command.Parameters.Add(new() { Value = $"More than {cap} episodic memories: the least recently used were invalidated." });
        var capped = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (capped > 0)
        {
            LogCapped(capped, cap);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Episodic cap: {Count} memories invalidated (cap {Cap} per user)")]
    private partial void LogCapped(int count, int cap);
}

/// <summary>
/// memory.purge (recurring): deletes versions invalidated longer than <see cref="MemoryOptions.InvalidatedRetention"/>
/// ago, blanks their texts in the history (the decisions stay, their content goes), and removes entities no memory
/// links any more.
/// </summary>
public sealed partial class MemoryPurgeJob(IOptions<MemoryOptions> options, ILogger<MemoryPurgeJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.Purge;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var batch = new NpgsqlBatch(context.Connection, context.Transaction);
        await using (batch)
        {
            var purge = new NpgsqlBatchCommand("""
                WITH doomed AS (
                    SELECT id FROM memories WHERE invalidated_at < now() - $1 LIMIT $2 FOR UPDATE SKIP LOCKED
                ),
                own AS (
                    UPDATE memory_history SET old_text = NULL, new_text = NULL, old_text_ct = NULL, new_text_ct = NULL
                    WHERE memory_id IN (SELECT id FROM doomed)
                ),
                successors AS (
                    UPDATE memory_history SET old_text = NULL, old_text_ct = NULL
                    WHERE related_memory_id IN (SELECT id FROM doomed) AND memory_id NOT IN (SELECT id FROM doomed) AND operation = 'UPDATE'
                )
                DELETE FROM memories WHERE id IN (SELECT id FROM doomed)
                """);
            purge.Parameters.Add(new() { Value = options.Value.InvalidatedRetention, NpgsqlDbType = NpgsqlDbType.Interval });
            purge.Parameters.Add(new() { Value = options.Value.MaintenanceBatchSize });
            var orphans = new NpgsqlBatchCommand("""
                DELETE FROM entities e
                WHERE e.id IN (
                    SELECT e2.id FROM entities e2
                    WHERE e2.created_at < now() - interval '1 hour'
                      AND NOT EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = e2.id)
                    LIMIT $1 FOR UPDATE SKIP LOCKED)
                """);
            orphans.Parameters.Add(new() { Value = options.Value.MaintenanceBatchSize });
            batch.BatchCommands.Add(purge);
            batch.BatchCommands.Add(orphans);
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (purge.RecordsAffected + orphans.RecordsAffected > 0)
            {
                LogPurged(purge.RecordsAffected, orphans.RecordsAffected);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory purge: {Memories} invalidated versions and {Entities} orphaned entities removed")]
    private partial void LogPurged(int memories, int entities);
}

/// <summary>memory.backlog (recurring): enqueues the extractions left pending while the job queue was full.</summary>
public sealed partial class MemoryBacklogJob(IOptions<MemoryOptions> options, MemoryMetrics metrics, ILogger<MemoryBacklogJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.Backlog;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pending = new List<Guid>();
        await using (var select = context.CreateCommand("""
            SELECT id FROM memory_sources WHERE status = 'pending' ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED
            """))
        {
            select.Parameters.Add(new() { Value = options.Value.BacklogBatchSize });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                pending.Add(reader.GetGuid(0));
            }
        }
        var enqueued = 0;
        foreach (var sourceId in pending)
        {
            JobEnqueueResult job;
            try
            {
                job = await context.EnqueueAsync(MemoryJobs.ExtractionRequest(sourceId), cancellationToken).ConfigureAwait(false);
            }
            catch (JobQueueFullException)
            {
                metrics.SourceDeferred();
                break; // still full: the next run continues
            }
            await MemoryJobs.MarkQueuedAsync(context.Connection, context.Transaction, sourceId, job.JobId, cancellationToken).ConfigureAwait(false);
            enqueued++;
        }
        if (pending.Count > 0)
        {
            LogBacklog(enqueued, pending.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Memory backlog: {Enqueued} of {Pending} pending extractions enqueued")]
    private partial void LogBacklog(int enqueued, int pending);
}

/// <summary>
/// memory.reembed (recurring): when the configured embedding model changes, re-embeds current memories stored with
/// another model, a batch per run. Until then they are still found by keyword and entity, never compared with
/// vectors of the new model.
/// </summary>
public sealed partial class MemoryReembedJob(MemoryEmbedder embedder, FieldCipher cipher, IOptions<MemoryOptions> options, ILogger<MemoryReembedJob> logger) : IJobHandler
{
    public string Type => MemoryJobs.Reembed;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var stale = new List<(Guid Id, string Text)>();
        await using (var select = context.CreateCommand("""
            SELECT id, text, key_id, text_ct FROM memories
            WHERE invalidated_at IS NULL AND scope <> 'session' AND embedding_model <> $1
            LIMIT $2 FOR UPDATE SKIP LOCKED
            """))
        {
            select.Parameters.Add(new() { Value = embedder.CurrentModel });
            select.Parameters.Add(new() { Value = Math.Min(options.Value.MaintenanceBatchSize, 256) });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetGuid(0);
                stale.Add((id, await cipher.OpenAsync(MemorySql.ReadText(reader, 1, 2, 3), EncryptedField.MemoryText, id, cancellationToken).ConfigureAwait(false)));
            }
        }
        if (stale.Count == 0)
        {
            return;
        }
        var vectors = await embedder.EmbedAsync([.. stale.Select(s => s.Text)], cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(context.Connection, context.Transaction);
        for (var i = 0; i < stale.Count; i++)
        {
            var update = new NpgsqlBatchCommand("UPDATE memories SET embedding = $2, embedding_model = $3 WHERE id = $1");
            update.Parameters.Add(new() { Value = stale[i].Id });
            update.Parameters.Add(MemorySql.Vector(vectors[i].Values));
            update.Parameters.Add(new() { Value = vectors[i].Model });
            batch.BatchCommands.Add(update);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        LogReembedded(stale.Count, embedder.CurrentModel);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-embedded {Count} memories with {Model}")]
    private partial void LogReembedded(int count, string model);
}
