using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// The worker's side of the jobs table: claim, complete, fail, heartbeat, reclaim expired leases. Every write after
/// the claim is fenced by (id, lease_owner, attempts), so a worker that lost its lease can never complete or fail a job
/// another worker now holds.
/// </summary>
/// <remarks>
/// The fences name no status: a lease owner is set exactly while a job runs (the table's CHECK ties a running job to
/// its lease, and every write sets or clears the owner with the lease's expiry), so it already says "running". With
/// <c>status = 'running'</c> in them, the planner looked the row up through jobs_status_type_idx (status, type, id)
/// rather than the primary key, reading every 'running' entry, those of jobs finished since the last vacuum included:
/// ~240 pages a completion with 40,000 jobs behind it, against 3 through the key.
/// </remarks>
internal sealed class WorkerJobStore(NpgsqlDataSource dataSource, IOptions<JobsOptions> options)
{
    private const string ClaimedColumns = """
        j.id, j.type, j.payload::text, j.attempts, j.max_attempts, j.priority, j.dedupe_key, j.traceparent, j.tracestate, j.created_at, j.run_at
        """;

    // The claim's own now() (its transaction's start): the jobs due by then were there for it to take.
    private const string ClaimTime = "SELECT now()";

    // Losing a claim, a heartbeat or a reclaim in a database crash only makes a job claimable again, so these never
    // wait for the WAL flush; the completion (which carries the handler's effects) follows Jobs:SynchronousCommit.
    private const string AsynchronousCommit = "SET LOCAL synchronous_commit = off";

    /// <summary>Claims up to <paramref name="count"/> due jobs of <paramref name="types"/>, highest priority first.</summary>
    /// <remarks>
    /// The claimed ids are matched as an array (= ANY), which always uses the primary key: joined to the candidates
    /// instead, a claim of a hundred or more jobs (an adaptive batch per slot) could be planned as a scan of the table.
    /// Leases and start times use clock_timestamp(), not now(): a claim of a limited type may have waited on the type's
    /// lock since its transaction began, and its start must come after the finish of the job whose slot it took.
    /// The claim is planned once per connection (<see cref="PlanCache.GenericPlans"/>): its one plan walks the claim
    /// index whatever the values, and PostgreSQL's own choice planned it again on four calls in five (half the
    /// claim's database time in the chat benchmark).
    /// </remarks>
    public async Task<ClaimResult> ClaimAsync(string workerId, string[] types, int count, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // BEGIN … COMMIT in one pipelined batch: one round trip per claim.
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("BEGIN"),
                new NpgsqlBatchCommand(AsynchronousCommit),
                new NpgsqlBatchCommand(PlanCache.GenericPlans),
                Claim($"""
                    WITH candidates AS (
                        SELECT id FROM jobs
                        WHERE status = 'queued' AND run_at <= now() AND type = ANY($1)
                        ORDER BY priority DESC, run_at, id
                        LIMIT $2
                        FOR UPDATE SKIP LOCKED
                    )
                    UPDATE jobs AS j
                    SET status = 'running', attempts = j.attempts + 1, lease_owner = $3, lease_expires_at = clock_timestamp() + $4,
                        started_at = clock_timestamp(), updated_at = now(), max_attempts = coalesce(j.max_attempts, l.max_attempts)
                    FROM unnest($1, $5) AS l (type, max_attempts)
                    WHERE j.id = ANY (ARRAY(SELECT id FROM candidates)) AND l.type = j.type
                    RETURNING {ClaimedColumns}
                    """, types, count, workerId),
                new NpgsqlBatchCommand(ClaimTime),
                new NpgsqlBatchCommand("COMMIT"),
            },
        };
        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        return await ReadClaimedAsync(batch, skipResults: 0, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims jobs of a type with a concurrency limit. Claimers of the type queue on an advisory lock, so the count
    /// of running jobs they read cannot change under them: the limit holds across any number of workers.
    /// </summary>
    public async Task<ClaimResult> ClaimLimitedAsync(string workerId, string type, int maxConcurrency, int count,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var claim = Claim($"""
            WITH candidates AS (
                SELECT id FROM jobs
                WHERE status = 'queued' AND run_at <= now() AND type = $1[1]
                ORDER BY priority DESC, run_at, id
                LIMIT greatest(0, least($2, $6 - (SELECT count(*) FROM jobs WHERE status = 'running' AND type = $1[1])))
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs AS j
            SET status = 'running', attempts = j.attempts + 1, lease_owner = $3, lease_expires_at = clock_timestamp() + $4,
                started_at = clock_timestamp(), updated_at = now(), max_attempts = coalesce(j.max_attempts, $5[1])
            WHERE j.id = ANY (ARRAY(SELECT id FROM candidates))
            RETURNING {ClaimedColumns}
            """, [type], count, workerId);
        claim.Parameters.Add(new() { Value = (long)maxConcurrency });
        var lockType = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtextextended('aspireai.jobs.concurrency:' || $1, 0))");
        lockType.Parameters.Add(new() { Value = type });
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("BEGIN"), new NpgsqlBatchCommand(AsynchronousCommit), lockType, claim, new NpgsqlBatchCommand(ClaimTime),
                new NpgsqlBatchCommand("COMMIT"),
            },
        };
        return await ReadClaimedAsync(batch, skipResults: 1, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks the job succeeded inside the handler's transaction and records the attempt. False when the lease was
    /// lost: the caller must then roll back, discarding the handler's effects. <paramref name="thenSavepoint"/>, in a
    /// batch, is set in the same round trip for the next job.
    /// </summary>
    public async Task<bool> CompleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, string workerId,
        bool notify, string? thenSavepoint, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (!options.Value.SynchronousCommit)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(AsynchronousCommit));
        }
        var complete = new NpgsqlBatchCommand("""
            WITH done AS (
                UPDATE jobs
                SET status = 'succeeded', finished_at = clock_timestamp(), updated_at = now(),
                    lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
                WHERE id = $1 AND lease_owner = $2 AND attempts = $3
                RETURNING id, attempts, started_at
            )
            INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome)
            SELECT id, attempts, $2, started_at, clock_timestamp(), 'succeeded' FROM done
            """);
        AddFence(complete, job, workerId);
        batch.BatchCommands.Add(complete);
        if (notify)
        {
            // A type with a concurrency limit: a slot just opened for workers that are waiting on it.
            var wake = new NpgsqlBatchCommand("SELECT pg_notify('aspireai_jobs', $1)");
            wake.Parameters.Add(new() { Value = job.Type });
            batch.BatchCommands.Add(wake);
        }
        if (thenSavepoint is not null)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"SAVEPOINT {thenSavepoint}"));
        }
        // Prepared once per physical connection (Npgsql keeps it across pooling): this runs for every job.
        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return complete.RecordsAffected == 1;
    }

    /// <summary>Records a failed attempt in a transaction of its own: the job is requeued after <paramref name="retryDelay"/>, or becomes dead.</summary>
    public async Task<bool> FailAsync(ClaimedJob job, string workerId, string error, bool dead, TimeSpan retryDelay, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var recorded = await FailAsync(connection, transaction, job, workerId, error, dead, retryDelay, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return recorded;
    }

    /// <summary>Records a failed attempt in the given transaction (a batch's, after rolling back to the job's savepoint).</summary>
    public async Task<bool> FailAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedJob job, string workerId, string error,
        bool dead, TimeSpan retryDelay, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (!options.Value.SynchronousCommit)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(AsynchronousCommit));
        }
        var fail = new NpgsqlBatchCommand("""
            WITH failed AS (
                UPDATE jobs
                SET status = $4, last_error = $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                    run_at = CASE WHEN $4 = 'queued' THEN clock_timestamp() + $6 ELSE run_at END,
                    finished_at = CASE WHEN $4 = 'dead' THEN clock_timestamp() END
                WHERE id = $1 AND lease_owner = $2 AND attempts = $3
                RETURNING id, attempts, started_at
            )
            INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
            SELECT id, attempts, $2, started_at, clock_timestamp(), 'failed', $5 FROM failed
            """);
        AddFence(fail, job, workerId);
        fail.Parameters.Add(new() { Value = dead ? JobStatus.Dead : JobStatus.Queued, NpgsqlDbType = NpgsqlDbType.Text });
        fail.Parameters.Add(new() { Value = error, NpgsqlDbType = NpgsqlDbType.Text });
        fail.Parameters.Add(new() { Value = retryDelay, NpgsqlDbType = NpgsqlDbType.Interval });
        batch.BatchCommands.Add(fail);
        if (!dead)
        {
            // Other idle workers learn of the retry's due time (they schedule a wake-up for it).
            var wake = new NpgsqlBatchCommand("SELECT pg_notify('aspireai_jobs', $1)");
            wake.Parameters.Add(new() { Value = job.Type });
            batch.BatchCommands.Add(wake);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return fail.RecordsAffected == 1;
    }

    /// <summary>
    /// Gives back claimed jobs that did not run (never started before shutdown, or their batch's transaction was
    /// lost through no fault of theirs): queued again at once, without using up an attempt.
    /// </summary>
    public async Task ReleaseAsync(string workerId, IEnumerable<ClaimedJob> jobs, CancellationToken cancellationToken)
    {
        var released = jobs.ToArray();
        if (released.Length == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand("""
            WITH released AS (
                UPDATE jobs AS j
                SET status = 'queued', attempts = j.attempts - 1, lease_owner = NULL, lease_expires_at = NULL, started_at = NULL, updated_at = now()
                FROM unnest($1::bigint[], $3::integer[]) AS r (id, attempt)
                WHERE j.id = r.id AND j.attempts = r.attempt AND j.lease_owner = $2
                RETURNING j.type
            )
            SELECT pg_notify('aspireai_jobs', type) FROM (SELECT DISTINCT type FROM released) AS types
            """);
        command.Parameters.Add(new() { Value = released.Select(j => j.Id).ToArray() });
        command.Parameters.Add(new() { Value = workerId });
        command.Parameters.Add(new() { Value = released.Select(j => j.Attempt).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Extends the leases of this worker's jobs; returns the ids it still holds. Rows locked by a completion that is
    /// about to commit are skipped rather than waited for (waiting could deadlock with a batch's transaction): they
    /// still count as held.
    /// </summary>
    public async Task<HashSet<long>> ExtendLeasesAsync(string workerId, long[] ids, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var extend = new NpgsqlBatchCommand("""
            WITH held AS (
                SELECT id FROM jobs WHERE id = ANY($1) AND lease_owner = $2
            ),
            extended AS (
                UPDATE jobs SET lease_expires_at = clock_timestamp() + $3
                WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1) AND lease_owner = $2 FOR UPDATE SKIP LOCKED)
            )
            SELECT id FROM held
            """);
        extend.Parameters.Add(new() { Value = ids });
        extend.Parameters.Add(new() { Value = workerId });
        extend.Parameters.Add(new() { Value = options.Value.LeaseDuration, NpgsqlDbType = NpgsqlDbType.Interval });
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { new NpgsqlBatchCommand(AsynchronousCommit), extend } };
        var held = new HashSet<long>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                held.Add(reader.GetInt64(0));
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return held;
    }

    /// <summary>
    /// Takes back jobs whose lease expired (their worker died or stalled): requeued, or dead when that was the last
    /// attempt. The lost attempt is recorded with its worker. Any worker may reclaim any type.
    /// </summary>
    public async Task<IReadOnlyList<ReclaimedJob>> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // max_attempts was pinned when the job was claimed.
        var reclaim = new NpgsqlBatchCommand("""
            WITH expired AS (
                SELECT id, lease_owner, started_at, attempts >= coalesce(max_attempts, $1) AS exhausted
                FROM jobs
                WHERE status = 'running' AND lease_expires_at < now()
                ORDER BY lease_expires_at
                LIMIT 100
                FOR UPDATE SKIP LOCKED
            ),
            reclaimed AS (
                UPDATE jobs AS j
                SET status = CASE WHEN e.exhausted THEN 'dead' ELSE 'queued' END,
                    run_at = now(), lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                    finished_at = CASE WHEN e.exhausted THEN now() END,
                    last_error = 'Attempt ' || j.attempts || ' was lost: the lease of worker ' || e.lease_owner || ' expired before it finished.'
                FROM expired AS e
                WHERE j.id = e.id
                RETURNING j.id, j.type, j.attempts, j.status, j.last_error, e.lease_owner, e.started_at
            ),
            recorded AS (
                INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
                SELECT id, attempts, lease_owner, started_at, now(), 'lease_expired', last_error FROM reclaimed
            )
            SELECT r.id, r.type, r.attempts, r.status, r.lease_owner
            FROM reclaimed AS r, LATERAL (SELECT pg_notify('aspireai_jobs', r.type)) AS wake
            """);
        reclaim.Parameters.Add(new() { Value = options.Value.Defaults.MaxAttempts ?? JobTypeSettings.DefaultMaxAttempts });
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { new NpgsqlBatchCommand(AsynchronousCommit), reclaim } };
        var reclaimed = new List<ReclaimedJob>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                reclaimed.Add(new ReclaimedJob(reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4)));
            }
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return reclaimed;
    }

    /// <summary>
    /// Time until the first queued job of <paramref name="types"/> that was not yet due at <paramref name="claimedAt"/>, the
    /// database time of the last claim (zero if it is due by now; null if there is none). Jobs due by then were there for
    /// the claim to take; one it left (a type at its concurrency limit) must not wake the worker again and again.
    /// </summary>
    public async Task<TimeSpan?> TimeUntilNextDueAsync(string[] types, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT extract(epoch FROM min(run_at) - now())::float8 FROM jobs WHERE status = 'queued' AND type = ANY($1) AND run_at > $2
            """);
        command.Parameters.Add(new() { Value = types });
        command.Parameters.Add(new() { Value = claimedAt });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is double seconds
            ? TimeSpan.FromSeconds(Math.Max(0, seconds))
            : null;
    }

    /// <summary>On shutdown past the grace period: lets other workers reclaim these jobs now rather than at lease expiry.</summary>
    public async Task ExpireLeasesAsync(string workerId, long[] ids, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE jobs SET lease_expires_at = now() WHERE id = ANY($1) AND lease_owner = $2
            """);
        command.Parameters.Add(new() { Value = ids });
        command.Parameters.Add(new() { Value = workerId });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private NpgsqlBatchCommand Claim(string sql, string[] types, int count, string workerId)
    {
        // The claim pins the job's max attempts from this worker's settings (unless the job has its own), so the
        // row tells the admin API, and the reclaim of a dead worker's job, when it runs out of attempts.
        var claim = new NpgsqlBatchCommand(sql);
        claim.Parameters.Add(new() { Value = types });
        claim.Parameters.Add(new() { Value = (long)count });
        claim.Parameters.Add(new() { Value = workerId });
        claim.Parameters.Add(new() { Value = options.Value.LeaseDuration, NpgsqlDbType = NpgsqlDbType.Interval });
        claim.Parameters.Add(new() { Value = types.Select(t => options.Value.For(t).MaxAttempts).ToArray() });
        return claim;
    }

    private static void AddFence(NpgsqlBatchCommand command, ClaimedJob job, string workerId)
    {
        command.Parameters.Add(new() { Value = job.Id });
        command.Parameters.Add(new() { Value = workerId });
        command.Parameters.Add(new() { Value = job.Attempt });
    }

    private static async Task<ClaimResult> ReadClaimedAsync(NpgsqlBatch batch, int skipResults, CancellationToken cancellationToken)
    {
        var claimed = new List<ClaimedJob>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        // The reader starts at the first command that returns rows (SET returns none); the claim is the last one.
        for (var i = 0; i < skipResults; i++)
        {
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            claimed.Add(new ClaimedJob(
                reader.GetInt64(0), reader.GetString(1), JsonElement.Parse(reader.GetString(2)), reader.GetInt32(3),
                reader.GetInt32(4), reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10)));
        }
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var at = reader.GetFieldValue<DateTimeOffset>(0);
        // UPDATE … RETURNING comes back in no particular order: run them in the order they were chosen.
        return new ClaimResult([.. claimed.OrderByDescending(j => j.Priority).ThenBy(j => j.RunAt).ThenBy(j => j.Id)], at);
    }
}

/// <summary>Jobs a claim took, in the order to run them, and the database time the claim ran at.</summary>
internal sealed record ClaimResult(IReadOnlyList<ClaimedJob> Jobs, DateTimeOffset At);
