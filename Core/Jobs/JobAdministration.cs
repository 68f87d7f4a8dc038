using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Jobs;

/// <summary>A job as stored. <see cref="Payload"/> is null in lists.</summary>
public sealed record JobRecord(
    long Id, string Type, string Status, int Priority, DateTimeOffset RunAt, int Attempts, int MaxAttempts, string? DedupeKey,
    string? LeaseOwner, DateTimeOffset? LeaseExpiresAt, DateTimeOffset? StartedAt, string? LastError, int Replays,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt, string? TraceParent, JsonElement? Payload);

/// <summary>One finished attempt of a job.</summary>
public sealed record JobAttemptRecord(int Attempt, string WorkerId, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, string Outcome, string? Error);

/// <summary>A page of jobs, newest first; <see cref="NextBefore"/> is the keyset position of the next page.</summary>
public sealed record JobPage(IReadOnlyList<JobRecord> Items, long? NextBefore);

/// <summary>The state of one job type's queue. <see cref="Queued"/> includes <see cref="Scheduled"/> (not yet due).</summary>
public sealed record JobTypeStats(string Type, long Queued, long Scheduled, long Running, long Dead, double? OldestQueuedAgeSeconds);

public sealed record JobQueueStats(DateTimeOffset At, IReadOnlyList<JobTypeStats> Types);

public enum JobChangeOutcome
{
    Changed,
    NotFound,

    /// <summary>The job's status does not allow the change.</summary>
    WrongStatus,

    /// <summary>Replay refused: an unfinished job with the same type and dedupe key exists.</summary>
    DuplicateActive,
}

/// <summary>The outcome of a change, and the job as it is after it (or as it was, when the change was refused).</summary>
public sealed record JobChangeResult(JobChangeOutcome Outcome, JobRecord? Job)
{
    public string? Status => Job?.Status;
}

/// <summary>Inspection and repair of jobs, for the admin API: list, show with attempts, replay, cancel, statistics.</summary>
public sealed class JobAdministration(NpgsqlDataSource dataSource, IOptionsMonitor<JobsOptions> options)
{
    private const string Columns = """
        id, type, status, priority, run_at, attempts, max_attempts, dedupe_key, lease_owner, lease_expires_at, started_at,
        last_error, replays, created_at, updated_at, finished_at, traceparent
        """;

    /// <summary>Jobs newest first, optionally filtered, starting below the id <paramref name="before"/>.</summary>
    public async Task<JobPage> ListAsync(string? status, string? type, long? before, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM jobs
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2) AND ($3::bigint IS NULL OR id < $3)
            ORDER BY id DESC
            LIMIT $4
            """);
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = limit + 1 });
        var jobs = new List<JobRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(Read(reader, withPayload: false));
        }
        // One extra row says whether another page follows, without a count.
        return jobs.Count > limit ? new JobPage(jobs[..limit], jobs[limit - 1].Id) : new JobPage(jobs, null);
    }

    /// <summary>A job with its payload and its attempts in order; null when there is no such job.</summary>
    public async Task<(JobRecord Job, IReadOnlyList<JobAttemptRecord> Attempts)?> GetAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        JobRecord job;
        await using (var command = new NpgsqlCommand($"SELECT {Columns}, payload FROM jobs WHERE id = $1", connection))
        {
            command.Parameters.Add(new() { Value = id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
            job = Read(reader, withPayload: true);
        }
        var attempts = new List<JobAttemptRecord>();
        await using (var command = new NpgsqlCommand("""
            SELECT attempt, worker_id, started_at, finished_at, outcome, error FROM job_attempts WHERE job_id = $1 ORDER BY id
            """, connection))
        {
            command.Parameters.Add(new() { Value = id });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                attempts.Add(new JobAttemptRecord(reader.GetInt32(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5)));
            }
        }
        return (job, attempts);
    }

    /// <summary>
    /// Puts a dead or cancelled job back in the queue, due now, with its attempt count reset; its attempt history and
    /// last error are kept. The result holds the job as the change left it (a worker may take it the next moment).
    /// </summary>
    public Task<JobChangeResult> ReplayAsync(long id, CancellationToken cancellationToken) => ChangeAsync(id, $"""
        WITH changed AS (
            UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), replays = replays + 1, finished_at = NULL, updated_at = now()
            WHERE id = $1 AND status IN ('dead', 'cancelled')
            RETURNING {Columns}
        )
        SELECT true, changed.* FROM changed, LATERAL (SELECT pg_notify('aspireai_jobs', changed.type)) AS wake
        UNION ALL
        SELECT false, {Columns} FROM jobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM changed)
        """, cancellationToken);

    /// <summary>Cancels a queued job. Running and finished jobs cannot be cancelled.</summary>
    public Task<JobChangeResult> CancelAsync(long id, CancellationToken cancellationToken) => ChangeAsync(id, $"""
        WITH changed AS (
            UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
            WHERE id = $1 AND status = 'queued'
            RETURNING {Columns}
        )
        SELECT true, changed.* FROM changed
        UNION ALL
        SELECT false, {Columns} FROM jobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM changed)
        """, cancellationToken);

    /// <summary>Depth per type and status, the age of the oldest due job, and dead jobs. Succeeded and cancelled jobs are not counted.</summary>
    public async Task<JobQueueStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT type,
                   count(*) FILTER (WHERE status = 'queued'),
                   count(*) FILTER (WHERE status = 'queued' AND run_at > now()),
                   count(*) FILTER (WHERE status = 'running'),
                   count(*) FILTER (WHERE status = 'dead'),
                   extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'queued' AND run_at <= now()))::float8,
                   now()
            FROM jobs
            WHERE status IN ('queued', 'running', 'dead')
            GROUP BY type
            ORDER BY type
            """);
        var types = new List<JobTypeStats>();
        DateTimeOffset? at = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            types.Add(new JobTypeStats(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5)));
            at ??= reader.GetFieldValue<DateTimeOffset>(6);
        }
        return new JobQueueStats(at ?? DateTimeOffset.UtcNow, types);
    }

    private async Task<JobChangeResult> ChangeAsync(long id, string sql, CancellationToken cancellationToken)
    {
        // The statement answers (changed, job): the job after the change, or as it is when its status did not allow
        // it. Its plain SELECT reads the snapshot from before the CTE's update, which is what NOT EXISTS relies on.
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = id });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return new JobChangeResult(JobChangeOutcome.NotFound, null);
            }
            return new JobChangeResult(reader.GetBoolean(0) ? JobChangeOutcome.Changed : JobChangeOutcome.WrongStatus, Read(reader, withPayload: false, offset: 1));
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == "jobs_dedupe_idx")
        {
            return new JobChangeResult(JobChangeOutcome.DuplicateActive, null);
        }
    }

    private JobRecord Read(NpgsqlDataReader reader, bool withPayload, int offset = 0)
    {
        var type = reader.GetString(offset + 1);
        return new JobRecord(
            reader.GetInt64(offset), type, reader.GetString(offset + 2), reader.GetInt32(offset + 3), reader.GetFieldValue<DateTimeOffset>(offset + 4),
            reader.GetInt32(offset + 5),
            reader.IsDBNull(offset + 6) ? options.CurrentValue.For(type).MaxAttempts : reader.GetInt32(offset + 6),
            Text(offset + 7), Text(offset + 8), Time(offset + 9), Time(offset + 10), Text(offset + 11),
            reader.GetInt32(offset + 12), reader.GetFieldValue<DateTimeOffset>(offset + 13), reader.GetFieldValue<DateTimeOffset>(offset + 14),
            Time(offset + 15), Text(offset + 16),
            withPayload ? JsonElement.Parse(reader.GetString(offset + 17)) : null);

        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
    }
}
