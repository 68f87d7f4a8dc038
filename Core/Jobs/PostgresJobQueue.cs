using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Jobs;

/// <summary><see cref="IJobQueue"/> on the jobs table; the enqueue wakes workers with pg_notify, delivered on commit.</summary>
internal sealed class PostgresJobQueue(NpgsqlDataSource dataSource, IOptionsMonitor<JobsOptions> options, JobMetrics metrics) : IJobQueue
{
    public async Task<JobEnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var result = await EnqueueAsync(request, connection, transaction, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    public async Task<JobEnqueueResult> EnqueueAsync(JobRequest request, NpgsqlConnection connection, NpgsqlTransaction transaction,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        if (!ReferenceEquals(transaction.Connection, connection))
        {
            throw new ArgumentException("The transaction belongs to another connection (or has completed).", nameof(transaction));
        }
        request.Validate();

        var (activity, traceParent, traceState) = JobsTelemetry.StartEnqueue(request.Type);
        using (activity)
        {
            // A type without a queue limit tries the insert first: its ON CONFLICT finds a duplicate as well as the
            // look-up would, and most enqueues have none, so the look-up's round trip is only paid after a conflict.
            // A limited type looks first, so that a duplicate is answered even while the queue is full.
            var lookFirst = options.CurrentValue.For(request.Type).MaxQueuedDepth is not null;
            // Three tries: a job holding the key can finish between our insert and our look-up.
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (request.DedupeKey is not null && (lookFirst || attempt > 0)
                    && await FindUnfinishedAsync(request, connection, transaction, cancellationToken).ConfigureAwait(false) is { } existing)
                {
                    activity?.SetTag("messaging.message.id", existing);
                    return new JobEnqueueResult(existing, Created: false);
                }
                await CheckCapacityAsync(request.Type, connection, transaction, cancellationToken).ConfigureAwait(false);
                if (await InsertAsync(request, traceParent, traceState, connection, transaction, cancellationToken).ConfigureAwait(false) is { } id)
                {
                    activity?.SetTag("messaging.message.id", id);
                    metrics.Enqueued(request.Type);
                    return new JobEnqueueResult(id, Created: true);
                }
            }
            throw new InvalidOperationException($"Could not enqueue '{request.Type}' with dedupe key '{request.DedupeKey}': the key kept changing hands.");
        }
    }

    public async Task EnsureCapacityAsync(string type, CancellationToken cancellationToken = default)
    {
        if (options.CurrentValue.For(type).MaxQueuedDepth is null)
        {
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await CheckCapacityAsync(type, connection, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task CheckCapacityAsync(string type, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue.For(type);
        if (settings.MaxQueuedDepth is not { } limit)
        {
            return;
        }
        // Bounded by the limit: a full queue costs at most one index range of that length, never a full count.
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'queued' AND type = $1 LIMIT $2) AS queued
            """, connection, transaction);
        command.Parameters.Add(new() { Value = type });
        command.Parameters.Add(new() { Value = (long)limit });
        var depth = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        if (depth >= limit)
        {
            metrics.Rejected(type);
            throw new JobQueueFullException(type, depth, limit, settings.RetryAfter);
        }
    }

    private static async Task<long?> FindUnfinishedAsync(JobRequest request, NpgsqlConnection connection, NpgsqlTransaction transaction,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT id FROM jobs WHERE type = $1 AND dedupe_key = $2 AND status IN ('queued', 'running')
            """, connection, transaction);
        command.Parameters.Add(new() { Value = request.Type });
        command.Parameters.Add(new() { Value = request.DedupeKey! });
        return (long?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long?> InsertAsync(JobRequest request, string? traceParent, string? traceState,
        NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        // pg_notify (channel JobNotifications.Channel) inside the transaction is delivered only if it commits, once
        // per type per transaction.
        await using var command = new NpgsqlCommand("""
            WITH inserted AS (
                INSERT INTO jobs (type, payload, priority, run_at, max_attempts, dedupe_key, traceparent, tracestate)
                VALUES ($1, $2, $3, coalesce($4, now() + $5), $6, $7, $8, $9)
                ON CONFLICT (type, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING
                RETURNING id
            )
            SELECT inserted.id FROM inserted, LATERAL (SELECT pg_notify('aspireai_jobs', $1)) AS wake
            """, connection, transaction);
        command.Parameters.Add(new() { Value = request.Type });
        command.Parameters.Add(new() { Value = request.Payload.GetRawText(), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new() { Value = request.Priority });
        command.Parameters.Add(new() { Value = request.RunAt is { } runAt ? runAt.ToUniversalTime() : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = request.Delay ?? TimeSpan.Zero, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = (object?)request.MaxAttempts ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)request.DedupeKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)traceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)traceState ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        // Prepared once per physical connection (Npgsql keeps it across pooling): enqueues are frequent.
        await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
        return (long?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }
}
