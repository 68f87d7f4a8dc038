using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Chat;

public sealed record UsageEntry(
    Guid UserId, Guid OrgId, Guid? ConversationId, Guid? MessageId, string? RequestId, string Operation,
    string Model, int InputTokens, int OutputTokens, decimal Cost, bool Estimated, string? TraceId);

public sealed record UsageTotal(string Key, DateOnly? Day, long Calls, long InputTokens, long OutputTokens, decimal Cost);

/// <summary>One user's tokens since the start of the budget day.</summary>
public sealed record BudgetUse(Guid UserId, string Email, long TokensUsed);

public enum UsageGrouping
{
    Day,
    Model,
    User,
}

/// <summary>The append-only usage ledger: one row per provider call, the source of budgets and cost reports.</summary>
public sealed class UsageLedger(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    public static async Task RecordAsync(UsageEntry entry, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { Command(entry) } };
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The insert of <paramref name="entry"/>, for a caller that sends it in a batch with its other writes.</summary>
    public static NpgsqlBatchCommand Command(UsageEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var command = new NpgsqlBatchCommand("""
            INSERT INTO usage_ledger (user_id, org_id, conversation_id, message_id, request_id, operation, model,
                                      input_tokens, output_tokens, cost, estimated, trace_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """);
        command.Parameters.Add(new() { Value = entry.UserId });
        command.Parameters.Add(new() { Value = entry.OrgId });
        command.Parameters.Add(new() { Value = entry.ConversationId is { } c ? c : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = entry.MessageId is { } m ? m : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = (object?)entry.RequestId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = entry.Operation });
        command.Parameters.Add(new() { Value = entry.Model });
        command.Parameters.Add(new() { Value = entry.InputTokens });
        command.Parameters.Add(new() { Value = entry.OutputTokens });
        command.Parameters.Add(new() { Value = entry.Cost });
        command.Parameters.Add(new() { Value = entry.Estimated });
        command.Parameters.Add(new() { Value = (object?)entry.TraceId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return command;
    }

    /// <summary>The start of the current budget day (UTC midnight) and when the next one starts.</summary>
    public (DateTimeOffset Start, DateTimeOffset Reset) CurrentDay()
    {
        var now = timeProvider.GetUtcNow();
        var start = new DateTimeOffset(now.Date, TimeSpan.Zero);
        return (start, start.AddDays(1));
    }

    public async Task<long> TokensSinceAsync(Guid userId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT COALESCE(SUM(input_tokens + output_tokens), 0)::bigint FROM usage_ledger WHERE user_id = $1 AND at >= $2
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = since });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Every user with usage since <paramref name="since"/> (the start of the budget day), most tokens first.</summary>
    public async Task<IReadOnlyList<BudgetUse>> BudgetUseSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT l.user_id, u.email, SUM(l.input_tokens + l.output_tokens)::bigint AS tokens
            FROM usage_ledger l JOIN users u ON u.id = l.user_id
            WHERE l.at >= $1
            GROUP BY l.user_id, u.email
            ORDER BY tokens DESC, l.user_id
            LIMIT $2
            """);
        command.Parameters.Add(new() { Value = since });
        command.Parameters.Add(new() { Value = limit });
        var uses = new List<BudgetUse>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            uses.Add(new BudgetUse(reader.GetGuid(0), reader.GetString(1), reader.GetInt64(2)));
        }
        return uses;
    }

    /// <summary>Totals over [from, to), grouped; <paramref name="userId"/> null means every user (admin reports).</summary>
    public async Task<IReadOnlyList<UsageTotal>> TotalsAsync(Guid? userId, DateTimeOffset from, DateTimeOffset to, UsageGrouping grouping, CancellationToken cancellationToken)
    {
        // The grouping expression comes from this switch, never from input.
        var key = grouping switch
        {
            UsageGrouping.Day => "to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
            UsageGrouping.Model => "model",
            _ => "user_id::text",
        };
        await using var command = dataSource.CreateCommand($"""
            SELECT {key} AS key, COUNT(*), COALESCE(SUM(input_tokens), 0)::bigint, COALESCE(SUM(output_tokens), 0)::bigint, COALESCE(SUM(cost), 0)
            FROM usage_ledger
            WHERE ($1::uuid IS NULL OR user_id = $1) AND at >= $2 AND at < $3
            GROUP BY 1
            ORDER BY 1
            LIMIT 1000
            """);
        command.Parameters.Add(new() { Value = userId is { } u ? u : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = to });
        var totals = new List<UsageTotal>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var k = reader.GetString(0);
            totals.Add(new UsageTotal(k, grouping == UsageGrouping.Day ? DateOnly.ParseExact(k, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) : null,
                reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetDecimal(4)));
        }
        return totals;
    }
}
