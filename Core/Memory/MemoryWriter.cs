using System.Text.Json;
using AspireAi.Core.Common;
using AspireAi.Core.Data;
using AspireAi.Core.Encryption;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace AspireAi.Core.Memory;

/// <summary>What to store as a new memory or a new version.</summary>
public sealed record NewMemory(string Text, MemoryType Type, float Importance, IReadOnlyList<MemoryEntity> Entities,
    DateTimeOffset? ExpiresAt = null, JsonElement? Metadata = null);

/// <summary>
/// What memory writes do outside Postgres — the Redis mirror of session memories and the operation counts — kept
/// until their transaction has committed and then applied with <see cref="MemoryWriter.ApplyAsync"/>. A transaction
/// that rolls back takes them with it: Redis never holds a memory Postgres lacks, and a retried job is counted once.
/// </summary>
public sealed class MemoryWriteEffects
{
    internal List<SessionMirrorChange> Mirror { get; } = [];

    internal List<(MemoryOperation Operation, MemoryActor Actor)> Operations { get; } = [];

    internal List<(MemoryScopeRef Scope, MemoryEvent Event)> Events { get; } = [];
}

/// <summary>One change to a session's Redis hash: remove <paramref name="RemovedHash"/>, then set <paramref name="Upsert"/>.</summary>
internal sealed record SessionMirrorChange(Guid UserId, string SessionId, string? RemovedHash, (string Hash, SessionMemoryEntry Entry, DateTimeOffset ExpiresAt)? Upsert);

/// <summary>
/// The four write primitives (ADD, UPDATE = supersede, DELETE = invalidate, NOOP), each with its history row, on the
/// caller's connection and transaction so that a decision and its history commit together — with the job that made
/// them, when a job did. What a write does outside Postgres goes to the caller's <see cref="MemoryWriteEffects"/>, for
/// after the commit; the Redis field is the content hash, so applying a change twice rewrites the same field.
/// </summary>
public sealed partial class MemoryWriter(SessionMemoryStore sessions, FieldCipher cipher, MemoryStatistics statistics, MemoryMetrics metrics,
    MemoryEventPublisher events, IOptions<MemoryOptions> options, TimeProvider time, ILogger<MemoryWriter> logger)
{
    /// <summary>Commits the writes' transaction, then applies what they left for after the commit.</summary>
    public async Task CommitAsync(NpgsqlTransaction transaction, MemoryWriteEffects effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        // Committed: the caller's cancellation no longer applies to finishing it.
        await ApplyAsync(effects, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies what the writes of a committed transaction left for after the commit. Postgres is the record: a Redis
    /// failure here is logged and the rest still applied (the session memory is then missing from chat retrieval),
    /// rather than failing a write that has already happened.
    /// </summary>
    public async Task ApplyAsync(MemoryWriteEffects effects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(effects);
        foreach (var change in effects.Mirror)
        {
            try
            {
                if (change.Upsert is { } upsert)
                {
                    await sessions.UpsertAsync(change.UserId, change.SessionId, upsert.Hash, upsert.Entry, upsert.ExpiresAt, change.RemovedHash,
                        cancellationToken).ConfigureAwait(false);
                }
                else if (change.RemovedHash is not null)
                {
                    await sessions.RemoveAsync(change.UserId, change.SessionId, change.RemovedHash, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
            {
                LogMirrorFailed(ex, change.UserId);
            }
        }
        foreach (var (operation, actor) in effects.Operations)
        {
            metrics.Applied(operation, actor);
        }
        // Last: the panels that hear of a change read the list again, which must already show it.
        foreach (var (scope, change) in effects.Events)
        {
            await events.PublishAsync(scope, change).ConfigureAwait(false);
        }
        effects.Mirror.Clear();
        effects.Operations.Clear();
        effects.Events.Clear();
    }

    /// <summary>
    /// The current memories of <paramref name="scope"/> most similar to a new fact: the nearest by vector and the best
    /// full-text matches (so "works at Globex" meets "works at Acme" even when their vectors are far apart).
    /// </summary>
    public async Task<IReadOnlyList<ConsolidationCandidate>> FindCandidatesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        MemoryScopeRef scope, string text, MemoryVector vector, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(vector);
        await using var batch = new NpgsqlBatch(connection, transaction);
        // The very statement of retrieval's semantic leg, with its HNSW settings (ef_search, iterative scan): a near
        // duplicate the graph walk misses in a large scope would be added again instead of updated.
        var hnsw = MemoryHnswSettings.From(options.Value);
        var plan = MemorySemanticQuery.Choose(await statistics.ScopeSizeAsync([scope.Key], cancellationToken).ConfigureAwait(false), limit, hnsw);
        MemorySemanticQuery.Add(batch, hnsw, $"{MemorySql.RecordColumns}, 1 - (m.embedding <=> $1) AS similarity",
            vector, [scope.Key], MemoryNames.AllTypes, limit, plan);
        // Back to PostgreSQL's own planning for the rest of the job's transaction, the keyword query below included.
        MemorySemanticQuery.AddRestore(batch);
        var query = MemorySql.AnyWordQuery(text);
        if (query.Length > 0)
        {
            // Encrypted memories match through the blind index, plain ones left from before encryption through tsv. As in
            // retrieval, words in very many memories only rank the rows the others find (MemoryStatistics).
            var tokens = await cipher.TokensAsync(scope.OrgId, text, cancellationToken).ConfigureAwait(false);
            var match = await statistics.MatchAsync(tokens, [scope.Key], cancellationToken).ConfigureAwait(false);
            var keyword = new NpgsqlBatchCommand($"""
                SELECT {MemorySql.RecordColumns}, 1 - (m.embedding <=> $2) AS similarity
                FROM memories m, to_tsquery('english', $3) q
                WHERE m.scope_key = $1 AND {MemorySql.Current} AND (m.text_bi {match.Operator} $6 OR m.tsv @@ q)
                ORDER BY CASE WHEN m.key_id IS NULL THEN ts_rank_cd(m.tsv, q)
                              ELSE (SELECT count(*) FROM unnest(m.text_bi) t WHERE t = ANY($5))::real / greatest(cardinality($5), 1) END DESC,
                         m.created_at DESC
                LIMIT $4
                """);
            keyword.Parameters.Add(new() { Value = scope.Key });
            keyword.Parameters.Add(MemorySql.Vector(vector.Values));
            keyword.Parameters.Add(new() { Value = query });
            keyword.Parameters.Add(new() { Value = limit });
            keyword.Parameters.Add(MemorySql.Bytes(tokens));
            keyword.Parameters.Add(MemorySql.Bytes(match.Tokens));
            batch.BatchCommands.Add(keyword);
        }
        var found = new Dictionary<Guid, (MemoryRecord Record, double Similarity)>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            do
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var record = await MemorySql.ReadRecordAsync(reader, cipher, cancellationToken).ConfigureAwait(false);
                    found.TryAdd(record.Id, (record, reader.IsDBNull(MemorySql.RecordColumnCount) ? 0 : reader.GetDouble(MemorySql.RecordColumnCount)));
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }
        return [.. found.Values
            .OrderByDescending(c => c.Similarity)
            .Take(limit)
            .Select((c, i) => new ConsolidationCandidate($"m{i + 1}", c.Record, c.Similarity))];
    }

    /// <summary>A visible-or-not memory row by id, locked for the rest of the transaction.</summary>
    public async Task<MemoryRecord?> GetForUpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.id = $1 FOR UPDATE OF m", connection, transaction);
        command.Parameters.Add(new() { Value = id });
        return (await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    public async Task<MemoryRecord?> GetCurrentByHashAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scopeKey, string hash,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.scope_key = $1 AND m.content_hash = $2 AND m.invalidated_at IS NULL
            """, connection, transaction);
        command.Parameters.Add(new() { Value = scopeKey });
        command.Parameters.Add(new() { Value = hash });
        return (await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    /// <summary>ADD. When the same text is already current in the scope (the unique index decides, even against a
    /// concurrent writer), this is a NOOP on that memory instead.</summary>
    public async Task<MemoryWriteResult> AddAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects, MemoryScopeRef scope, NewMemory memory,
        MemoryVector vector, MemoryProvenance provenance, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var id = Guid.CreateVersion7();
        var inserted = await InsertAsync(connection, transaction, id, id, null, scope, memory, vector, provenance, cancellationToken).ConfigureAwait(false);
        if (inserted is null)
        {
            var existing = await GetCurrentByHashAsync(connection, transaction, scope.Key, MemoryText.Hash(memory.Text), cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("A memory with the same text was reported current but could not be read.");
            return await NoopAsync(connection, transaction, effects, existing, memory.Text, provenance, "The same memory already exists.", cancellationToken).ConfigureAwait(false);
        }
        await HistoryAsync(connection, transaction, inserted, null, MemoryOperation.Add, null, inserted.Text, provenance, reason, cancellationToken).ConfigureAwait(false);
        Mirror(effects, inserted, vector, removedHash: null);
        effects.Operations.Add((MemoryOperation.Add, provenance.Actor));
        Announce(effects, MemoryOperation.Add, inserted, null);
        return new MemoryWriteResult(MemoryOperation.Add, inserted, null, reason);
    }

    /// <summary>UPDATE: a new version replaces <paramref name="previous"/>, which is invalidated ("superseded") and kept;
    /// both get a history row. When <paramref name="previous"/> is no longer current (a concurrent change), this is an ADD.
    /// The same text with another type or importance is a new version too (the history keeps both); only a change of
    /// nothing is a NOOP.</summary>
    public async Task<MemoryWriteResult> SupersedeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects, MemoryRecord previous, NewMemory memory,
        MemoryVector vector, MemoryProvenance provenance, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(memory);
        if (MemoryText.Hash(previous.Text) == MemoryText.Hash(memory.Text) && !ChangesMetadata(previous, memory))
        {
            return await NoopAsync(connection, transaction, effects, previous, memory.Text, provenance, "Nothing changed.", cancellationToken).ConfigureAwait(false);
        }
        if (!await MarkInvalidAsync(connection, transaction, previous.Id, "superseded", cancellationToken).ConfigureAwait(false))
        {
            return await AddAsync(connection, transaction, effects, previous.ScopeRef, memory, vector, provenance, reason, cancellationToken).ConfigureAwait(false);
        }
        var id = Guid.CreateVersion7();
        var scope = previous.ScopeRef;
        var inserted = await InsertAsync(connection, transaction, id, previous.LineageId, previous.Id, scope, memory, vector, provenance, cancellationToken).ConfigureAwait(false);
        if (inserted is null)
        {
            // Another current memory already says the new text: the old one is merged into it.
            var existing = await GetCurrentByHashAsync(connection, transaction, scope.Key, MemoryText.Hash(memory.Text), cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("A memory with the same text was reported current but could not be read.");
            await SetReasonAsync(connection, transaction, previous.Id, "merged", cancellationToken).ConfigureAwait(false);
            await HistoryAsync(connection, transaction, previous, existing.Id, MemoryOperation.Delete, previous.Text, existing.Text, provenance,
                $"Merged into an identical memory. {reason}", cancellationToken).ConfigureAwait(false);
            MirrorRemove(effects, previous);
            effects.Operations.Add((MemoryOperation.Delete, provenance.Actor));
            Announce(effects, MemoryOperation.Delete, previous, null);
            return await NoopAsync(connection, transaction, effects, existing, memory.Text, provenance, "The same memory already exists.", cancellationToken).ConfigureAwait(false);
        }
        await HistoryAsync(connection, transaction, previous, inserted.Id, MemoryOperation.Update, previous.Text, inserted.Text, provenance,
            $"Superseded. {reason}", cancellationToken).ConfigureAwait(false);
        await HistoryAsync(connection, transaction, inserted, previous.Id, MemoryOperation.Update, previous.Text, inserted.Text, provenance,
            reason, cancellationToken).ConfigureAwait(false);
        Mirror(effects, inserted, vector, MemoryText.Hash(previous.Text));
        effects.Operations.Add((MemoryOperation.Update, provenance.Actor));
        Announce(effects, MemoryOperation.Update, inserted, previous);
        return new MemoryWriteResult(MemoryOperation.Update, inserted, previous, reason);
    }

    /// <summary>True when <paramref name="memory"/> gives <paramref name="previous"/> another type or importance.</summary>
    public static bool ChangesMetadata(MemoryRecord previous, NewMemory memory)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(memory);
        // Importance is stored as real: compare at its precision, as clamped on insert.
        return previous.Type != memory.Type || Math.Abs(previous.Importance - Math.Clamp(memory.Importance, 0f, 1f)) > 1e-6f;
    }

    /// <summary>DELETE: invalidates <paramref name="target"/> (kept for history until the retention purge).</summary>
    public async Task<MemoryWriteResult> InvalidateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects, MemoryRecord target,
        string invalidationReason, MemoryProvenance provenance, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(provenance);
        if (!await MarkInvalidAsync(connection, transaction, target.Id, invalidationReason, cancellationToken).ConfigureAwait(false))
        {
            return new MemoryWriteResult(MemoryOperation.Noop, target, null, "The memory was already invalidated.");
        }
        await HistoryAsync(connection, transaction, target, null, MemoryOperation.Delete, target.Text, null, provenance, reason, cancellationToken).ConfigureAwait(false);
        MirrorRemove(effects, target);
        effects.Operations.Add((MemoryOperation.Delete, provenance.Actor));
        Announce(effects, MemoryOperation.Delete, target, null);
        return new MemoryWriteResult(MemoryOperation.Delete, target with { InvalidatedAt = time.GetUtcNow(), InvalidatedReason = invalidationReason }, null, reason);
    }

    /// <summary>NOOP: the fact is already known as <paramref name="target"/>; the history says so and the memory's
    /// provenance gains the new source.</summary>
    public async Task<MemoryWriteResult> NoopAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects, MemoryRecord? target, string factText,
        MemoryProvenance provenance, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provenance);
        if (target is not null)
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            if (provenance.SourceMessageIds.Count > 0)
            {
                var sources = new NpgsqlBatchCommand("""
                    UPDATE memories
                    SET source_message_ids = (SELECT array_agg(DISTINCT s) FROM unnest(source_message_ids || $2) AS s)
                    WHERE id = $1 AND cardinality(source_message_ids) < 100
                    """);
                sources.Parameters.Add(new() { Value = target.Id });
                sources.Parameters.Add(new() { Value = provenance.SourceMessageIds.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                batch.BatchCommands.Add(sources);
            }
            var key = await cipher.DataKeyAsync(target.OrgId, cancellationToken).ConfigureAwait(false);
            batch.BatchCommands.Add(HistoryCommand(key, target, null, MemoryOperation.Noop, target.Text, factText, provenance, reason));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        effects.Operations.Add((MemoryOperation.Noop, provenance.Actor));
        return new MemoryWriteResult(MemoryOperation.Noop, target, null, reason);
    }

    private async Task<MemoryRecord?> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, Guid lineageId, Guid? supersedesId,
        MemoryScopeRef scope, NewMemory memory, MemoryVector vector, MemoryProvenance provenance, CancellationToken cancellationToken)
    {
        var hash = MemoryText.Hash(memory.Text);
        var sealedText = await cipher.SealAsync(scope.OrgId, EncryptedField.MemoryText, memory.Text, cancellationToken).ConfigureAwait(false);
        var tokens = await cipher.TokensAsync(scope.OrgId, memory.Text, cancellationToken).ConfigureAwait(false);
        var expiresAt = scope.Scope == MemoryScope.Session ? time.GetUtcNow() + options.Value.SessionTtl : memory.ExpiresAt;
        await using var batch = new NpgsqlBatch(connection, transaction);
        // An expired memory with the same text still holds the unique slot until the expiry job runs: release it.
        var release = new NpgsqlBatchCommand("""
            UPDATE memories SET invalidated_at = now(), invalidated_reason = 'expired', updated_at = now()
            WHERE scope_key = $1 AND content_hash = $2 AND invalidated_at IS NULL AND expires_at <= now()
            """);
        release.Parameters.Add(new() { Value = scope.Key });
        release.Parameters.Add(new() { Value = hash });
        batch.BatchCommands.Add(release);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO memories (id, lineage_id, supersedes_id, org_id, user_id, agent_id, session_id, scope, type, key_id, text_ct, importance,
                                  embedding, embedding_model, expires_at, source_message_ids, content_hash, created_by, metadata, injection_flags, text_bi)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::jsonb, $20, $21)
            ON CONFLICT (scope_key, content_hash) WHERE invalidated_at IS NULL DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = id });
        insert.Parameters.Add(new() { Value = lineageId });
        insert.Parameters.Add(MemorySql.Uuid(supersedesId));
        insert.Parameters.Add(new() { Value = scope.OrgId });
        insert.Parameters.Add(MemorySql.Uuid(scope.Scope is MemoryScope.User or MemoryScope.Session ? scope.UserId : null));
        insert.Parameters.Add(MemorySql.Text(scope.Scope == MemoryScope.Agent ? scope.AgentId : null));
        insert.Parameters.Add(MemorySql.Text(scope.Scope == MemoryScope.Session ? scope.SessionId : null));
        insert.Parameters.Add(new() { Value = MemoryNames.Of(scope.Scope) });
        insert.Parameters.Add(new() { Value = MemoryNames.Of(memory.Type) });
        insert.Parameters.Add(new() { Value = sealedText.KeyId!.Value });
        insert.Parameters.Add(new() { Value = sealedText.Ciphertext! });
        insert.Parameters.Add(new() { Value = Math.Clamp(memory.Importance, 0f, 1f) });
        insert.Parameters.Add(MemorySql.Vector(vector.Values));
        insert.Parameters.Add(new() { Value = vector.Model });
        insert.Parameters.Add(MemorySql.Time(expiresAt));
        insert.Parameters.Add(new() { Value = provenance.SourceMessageIds.Distinct().ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        insert.Parameters.Add(new() { Value = hash });
        insert.Parameters.Add(MemorySql.Uuid(provenance.ActorUserId));
        insert.Parameters.Add(new() { Value = memory.Metadata is { ValueKind: JsonValueKind.Object } metadata ? metadata.GetRawText() : "{}" });
        insert.Parameters.Add(new() { Value = PromptInjection.Names(PromptInjection.Scan(memory.Text)), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(MemorySql.Bytes(tokens));
        batch.BatchCommands.Add(insert);
        // The statements after the insert act only if it inserted (the id is new), so the whole write is one round trip.
        if (LinkEntitiesCommand(id, scope.Key, memory.Entities) is { } link)
        {
            batch.BatchCommands.Add(link);
        }
        if (scope.Scope == MemoryScope.Session)
        {
            // A session lives until SessionTtl after its last memory write: every memory of it gets the new expiry.
            var extend = new NpgsqlBatchCommand("""
                UPDATE memories SET expires_at = $2
                WHERE scope_key = $1 AND invalidated_at IS NULL AND expires_at > now() AND EXISTS (SELECT 1 FROM memories WHERE id = $3)
                """);
            extend.Parameters.Add(new() { Value = scope.Key });
            extend.Parameters.Add(MemorySql.Time(expiresAt));
            extend.Parameters.Add(new() { Value = id });
            batch.BatchCommands.Add(extend);
        }
        var read = new NpgsqlBatchCommand($"SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.id = $1");
        read.Parameters.Add(new() { Value = id });
        batch.BatchCommands.Add(read);
        // The reader starts at the first statement that returns rows: the read.
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return insert.RecordsAffected == 1 && await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? await MemorySql.ReadRecordAsync(reader, cipher, cancellationToken).ConfigureAwait(false)
            : null;
    }

    // Links the memory to its entities (created as needed), provided the memory row exists: in the insert's batch, a
    // conflicting insert leaves nothing to link.
    private static NpgsqlBatchCommand? LinkEntitiesCommand(Guid memoryId, string scopeKey, IReadOnlyList<MemoryEntity> entities)
    {
        var distinct = entities
            .Select(e => (Normalized: MemoryText.NormalizeName(e.Name), Name: e.Name.Trim(), Type: string.IsNullOrWhiteSpace(e.Type) ? "other" : e.Type.Trim().ToLowerInvariant()))
            .Where(e => e.Normalized.Length is > 0 and <= 200)
            .DistinctBy(e => e.Normalized)
            .Take(20)
            .ToList();
        if (distinct.Count == 0)
        {
            return null;
        }
        // DO UPDATE (not DO NOTHING) so RETURNING yields existing entities too; the update is a no-op write.
        var command = new NpgsqlBatchCommand("""
            WITH upserted AS (
                INSERT INTO entities (normalized_name, name, type)
                SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) WHERE EXISTS (SELECT 1 FROM memories WHERE id = $1)
                ON CONFLICT (normalized_name) DO UPDATE SET normalized_name = excluded.normalized_name
                RETURNING id
            )
            INSERT INTO memory_entities (memory_id, entity_id, scope_key) SELECT $1, id, $5 FROM upserted ON CONFLICT DO NOTHING
            """);
        command.Parameters.Add(new() { Value = memoryId });
        command.Parameters.Add(MemorySql.TextArray([.. distinct.Select(e => e.Normalized)]));
        command.Parameters.Add(MemorySql.TextArray([.. distinct.Select(e => e.Name[..Math.Min(e.Name.Length, 200)])]));
        command.Parameters.Add(MemorySql.TextArray([.. distinct.Select(e => e.Type[..Math.Min(e.Type.Length, 40)])]));
        command.Parameters.Add(new() { Value = scopeKey });
        return command;
    }

    private static async Task<bool> MarkInvalidAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, string reason, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE memories SET invalidated_at = now(), invalidated_reason = $2, updated_at = now() WHERE id = $1 AND invalidated_at IS NULL
            """, connection, transaction);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = reason });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static async Task SetReasonAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, string reason, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("UPDATE memories SET invalidated_reason = $2 WHERE id = $1 AND invalidated_at IS NOT NULL", connection, transaction);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = reason });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task HistoryAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryRecord memory, Guid? related,
        MemoryOperation operation, string? oldText, string? newText, MemoryProvenance provenance, string reason, CancellationToken cancellationToken)
    {
        var key = await cipher.DataKeyAsync(memory.OrgId, cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(HistoryCommand(key, memory, related, operation, oldText, newText, provenance, reason));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A history row for <paramref name="memory"/>, its texts sealed under <paramref name="key"/> (the
    /// memory's organisation's data key); public for the maintenance jobs and the API.</summary>
    public static NpgsqlBatchCommand HistoryCommand(DataKey key, MemoryRecord memory, Guid? related, MemoryOperation operation, string? oldText, string? newText,
        MemoryProvenance provenance, string reason)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(provenance);
        var command = new NpgsqlBatchCommand("""
            INSERT INTO memory_history (memory_id, lineage_id, related_memory_id, org_id, owner_user_id, scope, operation, key_id, old_text_ct, new_text_ct,
                                        actor, actor_user_id, reason, source, source_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            """);
        command.Parameters.Add(new() { Value = memory.Id });
        command.Parameters.Add(new() { Value = memory.LineageId });
        command.Parameters.Add(MemorySql.Uuid(related));
        command.Parameters.Add(new() { Value = memory.OrgId });
        command.Parameters.Add(MemorySql.Uuid(memory.UserId));
        command.Parameters.Add(new() { Value = MemoryNames.Of(memory.Scope) });
        command.Parameters.Add(new() { Value = MemoryNames.Of(operation) });
        command.Parameters.Add(new() { Value = key.Id });
        command.Parameters.Add(Sealed(key, oldText));
        command.Parameters.Add(Sealed(key, newText));
        command.Parameters.Add(new() { Value = MemoryNames.Of(provenance.Actor) });
        command.Parameters.Add(MemorySql.Uuid(provenance.ActorUserId));
        command.Parameters.Add(MemorySql.Text(reason.Length > 1000 ? reason[..1000] : reason));
        command.Parameters.Add(MemorySql.Text(provenance.Source));
        command.Parameters.Add(MemorySql.Uuid(provenance.SourceId));
        return command;
    }

    private static NpgsqlParameter Sealed(DataKey key, string? text) => new()
    {
        Value = text is null ? DBNull.Value : FieldCipher.Seal(key, EncryptedField.MemoryText, text).Ciphertext!,
        NpgsqlDbType = NpgsqlDbType.Bytea,
    };

    private void Mirror(MemoryWriteEffects effects, MemoryRecord memory, MemoryVector vector, string? removedHash)
    {
        if (memory.Scope != MemoryScope.Session)
        {
            return;
        }
        var entry = new SessionMemoryEntry(memory.Id, memory.Type, memory.Text, memory.Importance, memory.UpdatedAt, memory.LastAccessedAt,
            vector.Values, vector.Model);
        effects.Mirror.Add(new SessionMirrorChange(memory.UserId!.Value, memory.SessionId!, removedHash,
            (MemoryText.Hash(memory.Text), entry, memory.ExpiresAt ?? time.GetUtcNow() + options.Value.SessionTtl)));
    }

    private void Announce(MemoryWriteEffects effects, MemoryOperation operation, MemoryRecord memory, MemoryRecord? previous)
    {
        if (events.Describe(operation, memory, previous) is { } change)
        {
            effects.Events.Add((memory.ScopeRef, change));
        }
    }

    private static void MirrorRemove(MemoryWriteEffects effects, MemoryRecord memory)
    {
        if (memory.Scope == MemoryScope.Session)
        {
            effects.Mirror.Add(new SessionMirrorChange(memory.UserId!.Value, memory.SessionId!, MemoryText.Hash(memory.Text), null));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mirroring a committed session memory of user {UserId} to Redis failed; chat retrieval misses it until the session ends")]
    private partial void LogMirrorFailed(Exception exception, Guid userId);
}
