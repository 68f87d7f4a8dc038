using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Data;
using AspireAi.Core.Encryption;
using AspireAi.Core.Identity;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Memory;

/// <summary>Filters of <c>GET /v1/memories</c>.</summary>
/// <param name="Scopes">Scopes to include (empty: all the caller can see).</param>
/// <param name="Types">Types to include (empty: all).</param>
/// <param name="Entity">Only memories linked to this entity (any spelling of the name).</param>
/// <param name="CreatedFrom">Created at or after.</param>
/// <param name="CreatedTo">Created before.</param>
/// <param name="AsOf">The memories that were valid at this time (versions since superseded included).</param>
/// <param name="IncludeInvalidated">Every version, current or not.</param>
/// <param name="SessionId">Only this session's memories.</param>
/// <param name="AgentId">Only this agent's memories.</param>
public sealed record MemoryListFilter(
    IReadOnlySet<MemoryScope> Scopes, IReadOnlySet<MemoryType> Types, string? Entity, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo,
    DateTimeOffset? AsOf, bool IncludeInvalidated, string? SessionId, string? AgentId);

/// <summary>What erasure removed.</summary>
public sealed record MemoryErasure(long Memories, long History, long EntityLinks, long Entities, long Sources, long RedisKeys);

/// <summary>All of a user's memories (every version) with their history.</summary>
public sealed record MemoryExport(Guid UserId, DateTimeOffset ExportedAt, IReadOnlyList<MemoryRecord> Memories, IReadOnlyList<MemoryHistoryEntry> History);

/// <summary>
/// Reads for the API (get, list, history, export) and erasure. Every query is scoped to what the caller may see: a
/// memory of another user is indistinguishable from one that does not exist.
/// </summary>
public sealed class MemoryStore(NpgsqlDataSource dataSource, SessionMemoryStore sessions, FieldCipher cipher, MemoryEventPublisher events, TimeProvider time)
{
    public const int MaxPageSize = 100;

    public async Task<MemoryRecord?> GetAsync(MemoryCaller caller, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        await using var command = dataSource.CreateCommand($"""
            SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.id = $3 AND {MemorySql.Visible(1, 2)}
            """);
        command.Parameters.Add(new() { Value = caller.UserId });
        command.Parameters.Add(new() { Value = caller.OrgId });
        command.Parameters.Add(new() { Value = id });
        return (await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    /// <summary>Newest first by (created_at, id); the cursor is the last row's key.</summary>
    public Task<Page<MemoryRecord>> ListAsync(MemoryCaller caller, MemoryListFilter filter, (DateTimeOffset CreatedAt, Guid Id)? after, int limit,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return ListCoreAsync(MemorySql.Visible(1, 2), caller.UserId, caller.OrgId, filter, after, limit, cancellationToken);
    }

    /// <summary>
    /// The administrators' memory browser: every memory of the organisation (of one user when
    /// <paramref name="userId"/> is given), with the same filters. Callers audit each use.
    /// </summary>
    public Task<Page<MemoryRecord>> ListForAdminAsync(Guid orgId, Guid? userId, MemoryListFilter filter, (DateTimeOffset CreatedAt, Guid Id)? after, int limit,
        CancellationToken cancellationToken) =>
        ListCoreAsync(AdminVisible, userId, orgId, filter, after, limit, cancellationToken);

    /// <summary>A memory of the organisation, for administrators; null when it is not in <paramref name="orgId"/>.</summary>
    public async Task<MemoryRecord?> GetForAdminAsync(Guid orgId, Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {MemorySql.RecordColumns} FROM memories m WHERE m.id = $3 AND {AdminVisible}");
        command.Parameters.Add(MemorySql.Uuid(null));
        command.Parameters.Add(new() { Value = orgId });
        command.Parameters.Add(new() { Value = id });
        return (await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    /// <summary>The lineage history of a memory already authorised by the caller.</summary>
    public async Task<IReadOnlyList<MemoryHistoryEntry>> LineageHistoryAsync(MemoryRecord memory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(memory);
        await using var command = dataSource.CreateCommand($"SELECT {HistoryColumns} FROM memory_history h WHERE h.lineage_id = $1 ORDER BY h.id");
        command.Parameters.Add(new() { Value = memory.LineageId });
        return await ReadHistoryAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records that an administrator looked at users' memories (who, whose, how many): ids and counts only.</summary>
    public async Task AuditAdminViewAsync(Guid adminId, string what, Guid? userId, Guid? memoryId, int count, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await IdentityAudit.WriteAsync(connection, null, new AuditEntry(adminId, "memory.admin_viewed", memoryId is null ? "user" : "memory",
            (memoryId ?? userId)?.ToString(), new Dictionary<string, string?>
            {
                ["view"] = what,
                ["count"] = count.ToString(CultureInfo.InvariantCulture),
            }), cancellationToken).ConfigureAwait(false);
    }

    // $1: a user to narrow to (or null), $2: the organisation. Ended sessions are gone for administrators too.
    private const string AdminVisible = "m.org_id = $2 AND ($1::uuid IS NULL OR m.user_id = $1) AND NOT (m.scope = 'session' AND m.expires_at <= now())";

    private async Task<Page<MemoryRecord>> ListCoreAsync(string visible, Guid? first, Guid orgId, MemoryListFilter filter,
        (DateTimeOffset CreatedAt, Guid Id)? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var command = dataSource.CreateCommand($"""
            SELECT {MemorySql.RecordColumns}
            FROM memories m
            WHERE {visible}
              AND m.scope = ANY($3)
              AND ($4::text[] IS NULL OR m.type = ANY($4))
              AND ($5::text IS NULL OR EXISTS (
                    SELECT 1 FROM memory_entities me JOIN entities e ON e.id = me.entity_id
                    WHERE me.memory_id = m.id AND e.normalized_name = $5))
              AND ($6::timestamptz IS NULL OR m.created_at >= $6)
              AND ($7::timestamptz IS NULL OR m.created_at < $7)
              AND CASE WHEN $8::timestamptz IS NOT NULL THEN m.valid_from <= $8 AND (m.invalidated_at IS NULL OR m.invalidated_at > $8)
                       WHEN $9 THEN true
                       ELSE {MemorySql.Current} END
              AND ($10::text IS NULL OR m.session_id = $10)
              AND ($11::text IS NULL OR m.agent_id = $11)
              AND ($12::timestamptz IS NULL OR (m.created_at, m.id) < ($12, $13))
            ORDER BY m.created_at DESC, m.id DESC
            LIMIT $14
            """);
        var scopes = filter.Scopes.Count > 0 ? filter.Scopes : new HashSet<MemoryScope>(Enum.GetValues<MemoryScope>());
        command.Parameters.Add(MemorySql.Uuid(first));
        command.Parameters.Add(new() { Value = orgId });
        command.Parameters.Add(MemorySql.TextArray([.. scopes.Select(MemoryNames.Of)]));
        command.Parameters.Add(MemorySql.TextArray(filter.Types.Count > 0 ? [.. filter.Types.Select(MemoryNames.Of)] : null));
        command.Parameters.Add(MemorySql.Text(filter.Entity is null ? null : MemoryText.NormalizeName(filter.Entity)));
        command.Parameters.Add(MemorySql.Time(filter.CreatedFrom));
        command.Parameters.Add(MemorySql.Time(filter.CreatedTo));
        command.Parameters.Add(MemorySql.Time(filter.AsOf));
        command.Parameters.Add(new() { Value = filter.IncludeInvalidated });
        command.Parameters.Add(MemorySql.Text(filter.SessionId));
        command.Parameters.Add(MemorySql.Text(filter.AgentId));
        command.Parameters.Add(MemorySql.Time(after?.CreatedAt));
        command.Parameters.Add(new() { Value = after?.Id ?? Guid.Empty });
        command.Parameters.Add(new() { Value = limit + 1 });
        var items = await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false);
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            var last = items[^1];
            next = Cursor.Encode(Cursor.EncodeTime(last.CreatedAt), last.Id.ToString("N"));
        }
        return new Page<MemoryRecord>(items, next);
    }

    /// <summary>The history of the memory's whole lineage (every version), oldest first; null when it is not visible.</summary>
    public async Task<IReadOnlyList<MemoryHistoryEntry>?> HistoryAsync(MemoryCaller caller, Guid id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return await GetAsync(caller, id, cancellationToken).ConfigureAwait(false) is { } memory
            ? await LineageHistoryAsync(memory, cancellationToken).ConfigureAwait(false)
            : null;
    }

    /// <summary>Every version of the user's own (user and session) memories, with their history.</summary>
    public async Task<MemoryExport> ExportAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot for both reads, so the history matches the memories.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        List<MemoryRecord> memories;
        await using (var command = new NpgsqlCommand($"""
            SELECT {MemorySql.RecordColumns} FROM memories m
            WHERE m.user_id = $1 AND NOT (m.scope = 'session' AND m.expires_at <= now())
            ORDER BY m.created_at, m.id
            """, connection, transaction))
        {
            command.Parameters.Add(new() { Value = userId });
            memories = await MemorySql.ReadRecordsAsync(command, cipher, cancellationToken).ConfigureAwait(false);
        }
        IReadOnlyList<MemoryHistoryEntry> history;
        await using (var command = new NpgsqlCommand($"""
            SELECT {HistoryColumns} FROM memory_history h WHERE h.owner_user_id = $1 ORDER BY h.id
            """, connection, transaction))
        {
            command.Parameters.Add(new() { Value = userId });
            history = await ReadHistoryAsync(command, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new MemoryExport(userId, time.GetUtcNow(), memories, history);
    }

    /// <summary>
    /// Erases everything the user's memory holds: their memories (every version, with embeddings and entity links),
    /// the history rows with their texts, the extraction sources, entities no memory links any more, and the
    /// session keys in Redis. The audit log keeps one row with counts and no content. An extraction job already
    /// consolidating for the user finishes first (same advisory lock); one still waiting on the model holds no lock
    /// and finds its source gone when it claims it, and writes nothing.
    /// </summary>
    public async Task<MemoryErasure> EraseAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await MemorySql.LockUserAsync(connection, transaction, userId, cancellationToken).ConfigureAwait(false);

        long[] entityIds;
        await using (var command = new NpgsqlCommand("""
            SELECT DISTINCT me.entity_id FROM memory_entities me JOIN memories m ON m.id = me.memory_id WHERE m.user_id = $1
            """, connection, transaction))
        {
            command.Parameters.Add(new() { Value = userId });
            var ids = new List<long>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ids.Add(reader.GetInt64(0));
            }
            entityIds = [.. ids];
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        string[] statements =
        [
            "DELETE FROM memory_entities WHERE memory_id IN (SELECT id FROM memories WHERE user_id = $1)",
            "DELETE FROM memory_history WHERE owner_user_id = $1",
            "DELETE FROM memories WHERE user_id = $1",
            "DELETE FROM memory_sources WHERE user_id = $1",
        ];
        foreach (var sql in statements)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new() { Value = userId });
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        var links = batch.BatchCommands[0].RecordsAffected;
        var history = batch.BatchCommands[1].RecordsAffected;
        var memories = batch.BatchCommands[2].RecordsAffected;
        var sources = batch.BatchCommands[3].RecordsAffected;

        long entities = 0;
        if (entityIds.Length > 0)
        {
            // A concurrent writer may link one of these entities between our check and the delete; the foreign key
            // then refuses, and the entity (still in use) stays. The savepoint keeps the erasure going.
            await transaction.SaveAsync("orphans", cancellationToken).ConfigureAwait(false);
            try
            {
                await using var orphans = new NpgsqlCommand("""
                    DELETE FROM entities e WHERE e.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = e.id)
                    """, connection, transaction);
                orphans.Parameters.Add(new() { Value = entityIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
                entities = await orphans.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                await transaction.ReleaseAsync("orphans", cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                await transaction.RollbackAsync("orphans", cancellationToken).ConfigureAwait(false);
            }
        }

        // Redis before the commit: if it is unreachable the erasure fails as a whole and can be retried.
        var redisKeys = await sessions.EraseAsync(userId, cancellationToken).ConfigureAwait(false);
        var erasure = new MemoryErasure(memories, history, links, entities, sources, redisKeys);
        await IdentityAudit.WriteAsync(connection, transaction, new AuditEntry(userId, "memory.erased", "user", userId.ToString(),
            new Dictionary<string, string?>
            {
                ["memories"] = memories.ToString(CultureInfo.InvariantCulture),
                ["history"] = history.ToString(CultureInfo.InvariantCulture),
                ["entityLinks"] = links.ToString(CultureInfo.InvariantCulture),
                ["entities"] = entities.ToString(CultureInfo.InvariantCulture),
                ["sources"] = sources.ToString(CultureInfo.InvariantCulture),
                ["redisKeys"] = redisKeys.ToString(CultureInfo.InvariantCulture),
            }), cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        // Writers mirror session memories to Redis after their own commit: one that committed just before this
        // erasure took the lock may have written its key after the pass above. Its rows are gone; so goes the key.
        await sessions.EraseAsync(userId, CancellationToken.None).ConfigureAwait(false);
        await events.PublishErasedAsync(userId).ConfigureAwait(false);
        return erasure;
    }

    /// <summary>
    /// Counts uses (last_accessed_at, access_count) of memories injected into a prompt (before the model call, or just
    /// after the turn by <see cref="MemoryAccessRecorder"/>), and returns those that are still current: a session
    /// memory read from Redis may have lost its row meanwhile (invalidated,
    /// erased, or a mirror write that outlived a failed commit), and the caller leaves those out. A memory whose use was
    /// recorded less than <paramref name="recordInterval"/> ago is returned without being written again
    /// (<see cref="MemoryOptions.AccessRecordInterval"/>).
    /// </summary>
    public async Task<IReadOnlySet<Guid>> MarkAccessedAsync(IReadOnlyCollection<Guid> ids, TimeSpan recordInterval, CancellationToken cancellationToken)
    {
        var current = new HashSet<Guid>();
        if (ids.Count == 0)
        {
            return current;
        }
        // The CTE's rows are the ones still current whether or not their use is written now. Planned once per
        // connection: by primary key, one plan serves any list of ids, where PostgreSQL's own choice planned every call
        // (0.4-0.6 ms a call, more than half of it planning). One round trip, as before.
        await using var batch = dataSource.CreateBatch();
        var command = new NpgsqlBatchCommand("""
            WITH current_memories AS (
                SELECT id, last_accessed_at FROM memories
                WHERE id = ANY($1) AND invalidated_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ),
            recorded AS (
                UPDATE memories m SET last_accessed_at = now(), access_count = m.access_count + 1
                FROM current_memories c
                WHERE m.id = c.id AND (c.last_accessed_at IS NULL OR c.last_accessed_at <= now() - $2)
            )
            SELECT id FROM current_memories
            """);
        command.Parameters.Add(new() { Value = ids.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = recordInterval, NpgsqlDbType = NpgsqlDbType.Interval });
        PlanCache.AddOnGenericPlans(batch, command);
        // The reader starts at the first command that returns rows (BEGIN and SET return none): the update's.
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            current.Add(reader.GetGuid(0));
        }
        return current;
    }

    internal const string HistoryColumns =
        "h.id, h.memory_id, h.related_memory_id, h.operation, h.old_text, h.new_text, h.actor, h.actor_user_id, h.reason, h.source, h.source_id, h.created_at, " +
        "h.key_id, h.old_text_ct, h.new_text_ct";

    internal async Task<IReadOnlyList<MemoryHistoryEntry>> ReadHistoryAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<MemoryHistoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetInt64(0);
            Guid? keyId = reader.IsDBNull(12) ? null : reader.GetGuid(12);
            var oldText = await cipher.OpenNullableAsync(keyId, reader.IsDBNull(13) ? null : reader.GetFieldValue<byte[]>(13),
                reader.IsDBNull(4) ? null : reader.GetString(4), EncryptedField.MemoryText, id, cancellationToken).ConfigureAwait(false);
            var newText = await cipher.OpenNullableAsync(keyId, reader.IsDBNull(14) ? null : reader.GetFieldValue<byte[]>(14),
                reader.IsDBNull(5) ? null : reader.GetString(5), EncryptedField.MemoryText, id, cancellationToken).ConfigureAwait(false);
            entries.Add(new MemoryHistoryEntry(
                id, reader.GetGuid(1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3),
                oldText, newText, reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetGuid(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetGuid(10),
                reader.GetFieldValue<DateTimeOffset>(11)));
        }
        return entries;
    }

    internal static JsonElement EmptyObject { get; } = JsonElement.Parse("{}");
}
