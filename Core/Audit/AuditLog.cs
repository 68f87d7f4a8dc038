using System.Text.Json;
using AspireAi.Core.Chat;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Audit;

/// <summary>One audit row as an administrator reads it, with its place in the hash chain.</summary>
public sealed record AuditRecord(long Id, long ChainSeq, DateTimeOffset At, Guid? ActorUserId, string Action, string? TargetType,
    string? TargetId, JsonElement Details, string Hash);

/// <summary>Filters of <see cref="AuditLog.ListAsync"/>; null means any.</summary>
public sealed record AuditFilter(string? Action, Guid? ActorUserId, string? TargetType, string? TargetId, DateTimeOffset? From, DateTimeOffset? To);

/// <summary>The result of a verification: null <see cref="FirstBroken"/> when the whole chain holds.</summary>
public sealed record AuditVerification(long RowsChecked, AuditBreak? FirstBroken);

/// <param name="Reason"><c>content_changed</c> (the row's hash no longer matches its content), <c>broken_link</c> (the
/// previous row was deleted, or replaced) or <c>arguments_changed</c> (tool-call arguments differ from their hash).</param>
public sealed record AuditBreak(long Id, long ChainSeq, string Reason);

/// <summary>
/// Reads and verifies the hash-chained audit log (migration 0013: a trigger links every new row). Newest first,
/// keyset-paged by the chain's sequence.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource)
{
    public const string PromptCreated = "prompt.created";
    public const string PromptActivated = "prompt.activated";
    public const string PromptRolledBack = "prompt.rolled_back";
    public const string JobEnqueued = "job.enqueued";
    public const string JobReplayed = "job.replayed";
    public const string JobCancelled = "job.cancelled";
    public const string MemoryExported = "memory.exported";

    /// <summary>
    /// Appends one event done by <paramref name="actorUserId"/> (the trigger links it into the chain). Ids and names
    /// only: never message or memory text, never a secret.
    /// </summary>
    public Task AppendAsync(Guid? actorUserId, string action, string targetType, string targetId,
        IReadOnlyDictionary<string, string?>? details = null, CancellationToken cancellationToken = default) =>
        Identity.IdentityAudit.WriteAsync(dataSource, new Identity.AuditEntry(actorUserId, action, targetType, targetId, details), cancellationToken);

    /// <summary>One page, newest first; <paramref name="cursor"/> is the token of the previous page's last row.</summary>
    public async Task<(IReadOnlyList<AuditRecord> Items, string? NextCursor)> ListAsync(AuditFilter filter, string? cursor, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        long? before = null;
        if (cursor is not null)
        {
            before = TryDecodeCursor(cursor) ?? throw new ArgumentException("The cursor is not valid.", nameof(cursor));
        }

        await using var command = dataSource.CreateCommand("""
            SELECT id, chain_seq, at, actor_user_id, action, target_type, target_id, details, encode(hash, 'hex')
            FROM audit_log
            WHERE ($1::bigint IS NULL OR chain_seq < $1)
              AND ($2::text IS NULL OR action = $2)
              AND ($3::uuid IS NULL OR actor_user_id = $3)
              AND ($4::text IS NULL OR target_type = $4)
              AND ($5::text IS NULL OR target_id = $5)
              AND ($6::timestamptz IS NULL OR at >= $6)
              AND ($7::timestamptz IS NULL OR at < $7)
            ORDER BY chain_seq DESC
            LIMIT $8
            """);
        command.Parameters.Add(new() { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = (object?)filter.Action ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)filter.ActorUserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = (object?)filter.TargetType ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)filter.TargetId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)filter.From ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)filter.To ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = limit + 1 });
        var items = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new AuditRecord(
                reader.GetInt64(0),
                reader.GetInt64(1),
                reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetGuid(3),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                JsonDocument.Parse(reader.GetString(7)).RootElement.Clone(),
                reader.GetString(8)));
        }

        if (items.Count <= limit)
        {
            return (items, null);
        }

        items.RemoveAt(limit);
        return (items, Cursor.Encode(items[^1].ChainSeq.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Whether <paramref name="cursor"/> is a token this log handed out.</summary>
    public static bool IsValidCursor(string cursor) => TryDecodeCursor(cursor) is not null;

    /// <summary>
    /// Recomputes every row's hash from its content and the previous row's hash, in chain order, and reports the
    /// first row where the chain breaks. One pass over the table in the database.
    /// </summary>
    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            WITH checked AS (
                SELECT id, chain_seq,
                       CASE
                           WHEN prev_hash IS DISTINCT FROM coalesce(lag(hash) OVER (ORDER BY chain_seq), audit_log_genesis())
                               THEN 'broken_link'
                           WHEN hash IS DISTINCT FROM sha256(prev_hash || audit_log_canonical(chain_seq, at, actor_user_id, action,
                                    target_type, target_id, details, arguments_sha256))
                               THEN 'content_changed'
                           WHEN arguments IS NOT NULL AND arguments_sha256 IS DISTINCT FROM sha256(convert_to(arguments, 'UTF8'))
                               THEN 'arguments_changed'
                       END AS reason
                FROM audit_log
            )
            SELECT (SELECT count(*) FROM checked),
                   b.id, b.chain_seq, b.reason
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (SELECT id, chain_seq, reason FROM checked WHERE reason IS NOT NULL ORDER BY chain_seq LIMIT 1) AS b ON true
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = reader.GetInt64(0);
        return reader.IsDBNull(1)
            ? new AuditVerification(rows, null)
            : new AuditVerification(rows, new AuditBreak(reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3)));
    }

    private static long? TryDecodeCursor(string cursor) =>
        Cursor.TryDecode(cursor, 1, out var parts)
            && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq)
            ? seq
            : null;
}
