using System.Diagnostics;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// Runs a unit of claimed jobs: one job, or a batch of jobs of one type (sized by <see cref="BatchSizer"/>). Each handler
/// gets its own DI scope and writes in the unit's transaction; the job's completion is written in that transaction
/// too, so effects and completion commit together. In a batch every job runs inside a savepoint of its own, so a
/// failing handler rolls back only its own effects.
/// </summary>
internal sealed partial class JobExecutor(
    NpgsqlDataSource dataSource,
    WorkerJobStore store,
    JobHandlerRegistry registry,
    IServiceScopeFactory scopes,
    IJobQueue queue,
    JobMetrics metrics,
    BatchSizer sizer,
    WorkerIdentity identity,
    IOptions<JobsOptions> options,
    ILogger<JobExecutor> logger)
{
    private const int MaxErrorLength = 4000;

    private enum Outcome { Succeeded, Failed, Dead, LeaseLost, Interrupted, Released }

    private sealed class Attempt(RunningJob running)
    {
        public RunningJob Running { get; } = running;
        public ClaimedJob Job => Running.Job;
        public Outcome? Outcome { get; set; }
        public Exception? Error { get; set; }
        public TimeSpan RetryDelay { get; set; }

        /// <summary>A failure still to be written, in a transaction of its own.</summary>
        public bool PendingFailure { get; set; }

        public long Started { get; set; } = Stopwatch.GetTimestamp();
        public TimeSpan Duration { get; set; }

        /// <summary>The handler was started (the attempt counts in the metrics).</summary>
        public bool Ran { get; set; }

        /// <summary>The handler's context: what it asked to run once the attempt has committed.</summary>
        public JobContext? Context { get; set; }
    }

    /// <summary>
    /// Runs the unit and records every outcome. Returns the soonest retry it scheduled, if any, and the jobs it did not
    /// start: an adaptive batch commits early once it has taken <c>Jobs:BatchTarget</c>, and hands the rest back (still
    /// leased) so that they run in a following transaction, on whichever slot is free.
    /// </summary>
    public async Task<UnitResult> RunAsync(IReadOnlyList<RunningJob> unit, CancellationToken abort)
    {
        var attempts = unit.Select(r => new Attempt(r)).ToArray();
        var batch = attempts.Length > 1;
        var type = attempts[0].Job.Type;
        var cutShort = batch && sizer.IsAdaptive(type);
        var ran = attempts.Length;
        IReadOnlyList<RunningJob> handedBack = [];
        Attempt? current = null;
        try
        {
            var connection = await dataSource.OpenConnectionAsync(abort).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var transaction = await connection.BeginTransactionAsync(abort).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    var began = Stopwatch.GetTimestamp();
                    var commit = false;
                    var savepointSet = false;
                    for (var i = 0; i < attempts.Length; i++)
                    {
                        if (cutShort && i > 0 && Stopwatch.GetElapsedTime(began) >= options.Value.BatchTarget)
                        {
                            // Long enough: commit what ran (bounded visibility latency), so that a slow job does not
                            // hold the others' effects back; the rest go back to the worker's queue.
                            ran = i;
                            break;
                        }
                        current = attempts[i];
                        var (changed, nextSavepointSet) = await RunOneAsync(attempts[i], i, batch && i + 1 < attempts.Length, savepointSet,
                            connection, transaction, batch).ConfigureAwait(false);
                        commit |= changed;
                        savepointSet = nextSavepointSet;
                    }
                    current = null;
                    if (commit)
                    {
                        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                        metrics.Committed(type, ran);
                        await RunCommittedActionsAsync(attempts.Take(ran)).ConfigureAwait(false);
                    }
                    handedBack = [.. attempts.Skip(ran).Select(a => a.Running)];
                }
            }
        }
        catch (Exception ex)
        {
            // The unit's transaction is gone (connection lost, commit refused): nothing of it committed. Jobs that had
            // run are charged with a failed attempt (a commit refused because of a handler's writes must not retry
            // forever); jobs that had not started yet get their attempt back.
            LogUnitFailed(ex, attempts.Length, type);
            ran = attempts.Length;
            foreach (var attempt in attempts)
            {
                if (attempt == current || attempt.Outcome is Outcome.Succeeded or Outcome.Failed or Outcome.Dead)
                {
                    attempt.Error = attempt.Outcome is Outcome.Failed or Outcome.Dead || attempt == current ? attempt.Error ?? ex : ex;
                    Fail(attempt);
                    attempt.PendingFailure = true;
                }
                else if (attempt.Outcome is null)
                {
                    attempt.Outcome = Outcome.Released;
                }
            }
            await ReleaseAsync(attempts.Where(a => a.Outcome == Outcome.Released)).ConfigureAwait(false);
        }

        // A single job's failure is recorded now that its transaction has rolled back (a batch's, inside the batch).
        foreach (var attempt in attempts.Where(a => a.PendingFailure))
        {
            await RecordFailureAsync(attempt, abort).ConfigureAwait(false);
        }

        TimeSpan? retryIn = null;
        foreach (var attempt in attempts.Take(ran))
        {
            var outcome = attempt.Outcome ?? Outcome.Interrupted;
            if (attempt.Ran)
            {
                metrics.Finished(attempt.Job.Type, OutcomeName(outcome), attempt.Duration);
                if (outcome is Outcome.Succeeded or Outcome.Failed or Outcome.Dead)
                {
                    sizer.Observe(type, attempt.Duration);
                }
            }
            Log(attempt, outcome);
            if (outcome == Outcome.Failed && (retryIn is null || attempt.RetryDelay < retryIn))
            {
                retryIn = attempt.RetryDelay;
            }
        }
        return new UnitResult(retryIn, handedBack);
    }

    // Only succeeded attempts: a job rolled back to its savepoint (failed, lease lost) committed none of its effects.
    private async Task RunCommittedActionsAsync(IEnumerable<Attempt> attempts)
    {
        foreach (var attempt in attempts.Where(a => a.Outcome == Outcome.Succeeded && a.Context is not null))
        {
            foreach (var action in attempt.Context!.CommittedActions)
            {
                try
                {
                    await action(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogCommittedActionFailed(ex, attempt.Job.Id, attempt.Job.Type);
                }
            }
        }
    }

    /// <summary>
    /// Runs one job's handler and completes it. Returns whether the transaction now holds something to commit, and
    /// whether the next job's savepoint is already set.
    /// </summary>
    /// <remarks>
    /// In a batch, job i runs inside savepoint "job{i}", and its completion sets "job{i+1}" in the same round trip.
    /// The savepoints nest (job i+1's inside job i's): rolling back to "job{i}" undoes exactly job i's work, since
    /// nothing of job i+1 has run yet, and destroys "job{i+1}", which is then set again. Batches stay below the
    /// 64-subtransaction cache (BatchSize is at most 50).
    /// </remarks>
    private async Task<(bool Changed, bool NextSavepointSet)> RunOneAsync(Attempt attempt, int index, bool hasNext, bool savepointSet,
        NpgsqlConnection connection, NpgsqlTransaction transaction, bool batch)
    {
        var job = attempt.Job;
        var cancellation = attempt.Running.Cancellation.Token;
        var savepoint = $"job{index}";
        var next = hasNext ? $"job{index + 1}" : null;
        attempt.Started = Stopwatch.GetTimestamp();
        using var activity = JobsTelemetry.StartProcessing(job.Type, job.Id, job.Attempt, job.TraceParent, job.TraceState);
        metrics.Started(job.Type);
        attempt.Ran = true;
        try
        {
            cancellation.ThrowIfCancellationRequested();
            if (batch && !savepointSet)
            {
                await ExecuteAsync(connection, transaction, $"SAVEPOINT {savepoint}").ConfigureAwait(false);
                savepointSet = true;
            }
            var scope = scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var handler = registry.Create(job.Type, scope.ServiceProvider);
                var info = new JobInfo(job.Id, job.Type, job.Attempt, job.MaxAttempts, job.Priority, job.DedupeKey, job.CreatedAt, job.RunAt);
                attempt.Context = new JobContext(info, job.Payload, connection, transaction, identity.Id, queue);
                await handler.HandleAsync(attempt.Context, cancellation).ConfigureAwait(false);
            }
            var notify = options.Value.For(job.Type).MaxConcurrency is not null;
            if (await store.CompleteAsync(connection, transaction, job, identity.Id, notify, next, cancellation).ConfigureAwait(false))
            {
                attempt.Outcome = Outcome.Succeeded;
                return (true, next is not null);
            }
            // The lease was lost: another worker has the job. Discard what the handler wrote.
            if (batch)
            {
                await ExecuteAsync(connection, transaction, $"ROLLBACK TO SAVEPOINT {savepoint}").ConfigureAwait(false);
            }
            attempt.Outcome = Outcome.LeaseLost;
            return (false, false);
        }
        catch (Exception ex) when (attempt.Running.Cancellation.IsCancellationRequested)
        {
            // Shutdown past the grace period, or a lost lease: left to lease expiry (or already another worker's).
            attempt.Error = ex;
            attempt.Outcome = Outcome.Interrupted;
            if (batch && savepointSet)
            {
                await ExecuteAsync(connection, transaction, $"ROLLBACK TO SAVEPOINT {savepoint}").ConfigureAwait(false);
            }
            return (false, false);
        }
        catch (Exception ex)
        {
            attempt.Error = ex;
            Fail(attempt);
            activity?.AddException(ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (!batch)
            {
                attempt.PendingFailure = true; // recorded once the transaction has rolled back
                return (false, false);
            }
            await ExecuteAsync(connection, transaction, $"ROLLBACK TO SAVEPOINT {savepoint}").ConfigureAwait(false);
            if (!await store.FailAsync(connection, transaction, job, identity.Id, Describe(ex), attempt.Outcome == Outcome.Dead, attempt.RetryDelay,
                CancellationToken.None).ConfigureAwait(false))
            {
                attempt.Outcome = Outcome.LeaseLost;
                return (false, false);
            }
            return (true, false);
        }
        finally
        {
            attempt.Duration = Stopwatch.GetElapsedTime(attempt.Started);
            activity?.SetTag("job.outcome", attempt.Outcome is { } outcome ? OutcomeName(outcome) : null);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private void Fail(Attempt attempt)
    {
        var settings = options.Value.For(attempt.Job.Type);
        var dead = attempt.Job.Attempt >= attempt.Job.MaxAttempts;
        attempt.Outcome = dead ? Outcome.Dead : Outcome.Failed;
        attempt.RetryDelay = dead ? TimeSpan.Zero : JobBackoff.Delay(attempt.Job.Attempt, settings, Random.Shared.NextDouble());
    }

    private async Task RecordFailureAsync(Attempt attempt, CancellationToken abort)
    {
        try
        {
            if (!await store.FailAsync(attempt.Job, identity.Id, Describe(attempt.Error), attempt.Outcome == Outcome.Dead, attempt.RetryDelay, abort).ConfigureAwait(false))
            {
                attempt.Outcome = Outcome.LeaseLost;
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The database went away too: the lease will expire and the job run again.
            LogRecordFailed(ex, attempt.Job.Id, attempt.Job.Type);
            attempt.Outcome = Outcome.Interrupted;
        }
    }

    private async Task ReleaseAsync(IEnumerable<Attempt> attempts)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await store.ReleaseAsync(identity.Id, attempts.Select(a => a.Job), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            LogReleaseFailed(ex);
        }
    }

    private static string Describe(Exception? error)
    {
        var text = error?.ToString() ?? "The attempt was lost.";
        return text.Length <= MaxErrorLength ? text : string.Concat(text.AsSpan(0, MaxErrorLength - 1), "…");
    }

    private static string OutcomeName(Outcome outcome) => outcome switch
    {
        Outcome.Succeeded => JobAttemptOutcome.Succeeded,
        Outcome.Failed => JobAttemptOutcome.Failed,
        Outcome.Dead => JobStatus.Dead,
        Outcome.LeaseLost => "lease_lost",
        Outcome.Released => "released",
        _ => "interrupted",
    };

    private void Log(Attempt attempt, Outcome outcome)
    {
        var job = attempt.Job;
        switch (outcome)
        {
            case Outcome.Failed:
                LogFailed(attempt.Error, job.Id, job.Type, job.Attempt, job.MaxAttempts, attempt.RetryDelay);
                break;
            case Outcome.Dead:
                LogDead(attempt.Error, job.Id, job.Type, job.Attempt);
                break;
            case Outcome.LeaseLost:
                LogLeaseLost(job.Id, job.Type, job.Attempt);
                break;
            case Outcome.Interrupted:
                LogInterrupted(attempt.Error, job.Id, job.Type, job.Attempt);
                break;
            default:
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({JobType}) attempt {Attempt} of {MaxAttempts} failed; retrying in {Delay}")]
    private partial void LogFailed(Exception? exception, long jobId, string jobType, int attempt, int maxAttempts, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} ({JobType}) is dead after attempt {Attempt}")]
    private partial void LogDead(Exception? exception, long jobId, string jobType, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({JobType}) attempt {Attempt}: the lease was lost; its effects were rolled back")]
    private partial void LogLeaseLost(long jobId, string jobType, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({JobType}) attempt {Attempt} was interrupted; it is left to lease expiry")]
    private partial void LogInterrupted(Exception? exception, long jobId, string jobType, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording the outcome of job {JobId} ({JobType}) failed; it runs again after its lease expires")]
    private partial void LogRecordFailed(Exception exception, long jobId, string jobType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({JobType}) committed, but work it left for after the commit failed")]
    private partial void LogCommittedActionFailed(Exception exception, long jobId, string jobType);

    [LoggerMessage(Level = LogLevel.Error, Message = "The transaction of {Count} {JobType} jobs failed; none of it committed")]
    private partial void LogUnitFailed(Exception exception, int count, string jobType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Giving back unfinished jobs failed; they are reclaimed when their leases expire")]
    private partial void LogReleaseFailed(Exception exception);
}

/// <summary>What a unit left to do: the soonest retry it scheduled, and the jobs it handed back without starting them.</summary>
internal sealed record UnitResult(TimeSpan? RetryIn, IReadOnlyList<RunningJob> NotRun);
