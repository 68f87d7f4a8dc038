using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// Runs jobs: claims due jobs (FOR UPDATE SKIP LOCKED) for <c>Jobs:Workers</c> parallel slots and hands each unit
/// (one job, or a batch of one type sized by the <see cref="BatchSizer"/>) to the <see cref="JobExecutor"/>. Idle, it waits for a NOTIFY from an enqueue,
/// a timer for the next delayed job, or the slow fallback poll; it never polls in a loop. A heartbeat extends the
/// leases of its jobs and reclaims jobs whose worker died. On shutdown it stops claiming, gives back jobs it had not
/// started, and lets running ones finish within the grace period; the rest are left to lease expiry.
/// </summary>
internal sealed partial class JobWorker(
    NpgsqlDataSource dataSource,
    WorkerJobStore store,
    JobExecutor executor,
    BatchSizer sizer,
    JobHandlerRegistry registry,
    JobMetrics metrics,
    JobQueueGauges gauges,
    WorkerIdentity identity,
    IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<JobWorker> logger) : BackgroundService
{
    // Every job this worker holds a lease on: waiting in _pending or running. The heartbeat extends them all.
    private readonly ConcurrentDictionary<long, RunningJob> _held = new();
    // Units waiting for a slot. Filled by the dispatch loop, and by units that hand back the jobs they did not start.
    private readonly Queue<List<RunningJob>> _pending = new();
    private readonly Lock _pendingLock = new();
    private bool _draining;
    private readonly List<Task> _units = [];
    private readonly AsyncSignal _signal = new();
    private readonly CancellationTokenSource _abort = new();
    private ITimer? _wakeTimer;
    private HashSet<string> _types = [];
    private int _workHint = 1;

    private JobsOptions Options => options.Value;

    private string WorkerId => identity.Id;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = gauges; // created with the worker: the queue gauges exist wherever jobs run
        var types = registry.Types;
        if (types.Length == 0)
        {
            LogNoHandlers();
            return;
        }
        _types = new HashSet<string>(types, StringComparer.Ordinal);
        var unlimited = types.Where(t => Options.For(t).MaxConcurrency is null).ToArray();
        var limited = types.Where(t => Options.For(t).MaxConcurrency is not null).Select(t => (Type: t, Limit: Options.For(t).MaxConcurrency!.Value)).ToArray();

        using var housekeeping = new CancellationTokenSource();
        _wakeTimer = time.CreateTimer(_ => Wake(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var listener = ListenAsync(stoppingToken);
        var poll = PollAsync(stoppingToken);
        // The heartbeat outlives the dispatch loop: it keeps leases alive while running jobs drain.
        var heartbeat = HeartbeatAsync(housekeeping.Token);
        LogStarted(WorkerId, Options.Workers, types);
        try
        {
            await DispatchAsync(unlimited, limited, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await DrainAsync().ConfigureAwait(false);
            await housekeeping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(listener, poll, heartbeat).ConfigureAwait(false);
            await _wakeTimer.DisposeAsync().ConfigureAwait(false);
            LogStopped(WorkerId);
        }
    }

    public override void Dispose()
    {
        _abort.Dispose();
        _signal.Dispose();
        base.Dispose();
    }

    private async Task DispatchAsync(string[] unlimited, (string Type, int Limit)[] limited, CancellationToken stoppingToken)
    {
        var failures = 0;
        var lookAhead = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            _units.RemoveAll(t => t.IsCompleted);
            var free = Options.Workers - _units.Count;
            if (free > 0 && TryTakePending(out var next))
            {
                StartUnit(next);
                lookAhead = true;
                continue;
            }
            // Every slot busy and nothing waiting: claim one unit of a batching type ahead, so that the next slot to
            // free up starts it at once instead of waiting for a claim round trip. Only types that batch (cheap
            // jobs); a job of a slow type stays claimable by other workers until a slot here is free. Once per freed slot.
            var ahead = free == 0 && lookAhead && PendingIsEmpty() ? unlimited.Where(t => sizer.SizeFor(t) > 1).ToArray() : [];
            if ((free > 0 || ahead.Length > 0) && Interlocked.Exchange(ref _workHint, 0) == 1)
            {
                (IReadOnlyList<ClaimedJob> Jobs, bool Full, DateTimeOffset? At) claimed;
                try
                {
                    claimed = free > 0
                        ? await ClaimAsync(unlimited, limited, free, stoppingToken).ConfigureAwait(false)
                        : await ClaimAsync(ahead, [], 1, stoppingToken).ConfigureAwait(false);
                    failures = 0;
                }
                catch (Exception ex) when (IsDatabaseError(ex) && !stoppingToken.IsCancellationRequested)
                {
                    // Retry with backoff, not in a tight loop; notifications and the poll still wake us earlier.
                    var delay = TimeSpan.FromMilliseconds(Math.Min(Options.PollInterval.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(failures++, 10))));
                    LogClaimFailed(ex, delay);
                    WakeAfter(delay);
                    continue;
                }
                Enqueue(claimed.Jobs.Select(Hold));
                if (free == 0)
                {
                    // It looked at some types only: the next free slot claims from all of them.
                    lookAhead = false;
                    Volatile.Write(ref _workHint, 1);
                    continue;
                }
                // Start what fits now rather than after the due-time query below: that is one round trip less
                // between a claim committing and its handler running.
                while (_units.Count < Options.Workers && TryTakePending(out var unit))
                {
                    StartUnit(unit);
                }
                lookAhead = true;
                if (claimed.Full)
                {
                    // A full claim: more are probably waiting; claim again as soon as a slot frees up.
                    Volatile.Write(ref _workHint, 1);
                }
                else
                {
                    if (claimed.At is { } claimedAt)
                    {
                        await ScheduleNextDueAsync(claimedAt, stoppingToken).ConfigureAwait(false);
                    }
                }
                continue;
            }
            await _signal.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Claims one job per free slot (highest priority first, any type). A slot that got a job of a batching type then
    /// takes more of that type, up to its batch size, from what is waiting now: a batch is never waited for, and jobs
    /// of types that run one at a time are not held back from other workers. Full: more are probably waiting.
    /// </summary>
    private async Task<(IReadOnlyList<ClaimedJob> Jobs, bool Full, DateTimeOffset? At)> ClaimAsync(string[] unlimited, (string Type, int Limit)[] limited,
        int slots, CancellationToken cancellationToken)
    {
        var claimed = new List<ClaimedJob>(slots);
        // The database time of the round's first claim, its earliest: what fell due after it is what the timer waits for.
        DateTimeOffset? at = null;
        if (unlimited.Length > 0)
        {
            var first = await ClaimTimedAsync(unlimited, null, slots, cancellationToken).ConfigureAwait(false);
            claimed.AddRange(first.Jobs);
            at = first.At;
        }
        foreach (var (type, limit) in limited)
        {
            if (claimed.Count >= slots)
            {
                break;
            }
            var some = await ClaimTimedAsync([type], limit, slots - claimed.Count, cancellationToken).ConfigureAwait(false);
            claimed.AddRange(some.Jobs);
            at ??= some.At;
        }
        var full = claimed.Count == slots;
        foreach (var (type, count) in claimed.CountBy(j => j.Type).ToArray())
        {
            var size = sizer.SizeFor(type);
            if (size <= 1)
            {
                continue;
            }
            var wanted = count * (size - 1);
            try
            {
                var more = (await ClaimTimedAsync([type], Options.For(type).MaxConcurrency, wanted, cancellationToken).ConfigureAwait(false)).Jobs;
                claimed.AddRange(more);
                full |= more.Count == wanted;
            }
            catch (Exception ex) when (IsDatabaseError(ex) && !cancellationToken.IsCancellationRequested)
            {
                // What the first claim took is ours already: run it rather than leave it to lease expiry.
                LogClaimFailed(ex, TimeSpan.Zero);
                break;
            }
        }
        return (claimed, full, at);
    }

    private async Task<ClaimResult> ClaimTimedAsync(string[] types, int? limit, int count, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var claimed = limit is { } max
            ? await store.ClaimLimitedAsync(WorkerId, types[0], max, count, cancellationToken).ConfigureAwait(false)
            : await store.ClaimAsync(WorkerId, types, count, cancellationToken).ConfigureAwait(false);
        metrics.Claimed(Stopwatch.GetElapsedTime(started), claimed.Jobs.Count);
        return claimed;
    }

    private RunningJob Hold(ClaimedJob job)
    {
        var running = new RunningJob(job, CancellationTokenSource.CreateLinkedTokenSource(_abort.Token));
        _held[job.Id] = running;
        return running;
    }

    /// <summary>Groups held jobs into units (batches of one type, in claim order, sized now) waiting for a slot.</summary>
    private void Enqueue(IEnumerable<RunningJob> jobs)
    {
        lock (_pendingLock)
        {
            AddUnits(jobs);
        }
    }

    // Under _pendingLock.
    private void AddUnits(IEnumerable<RunningJob> jobs)
    {
        var open = new Dictionary<string, (List<RunningJob> Unit, int Size)>(StringComparer.Ordinal);
        foreach (var running in jobs)
        {
            var type = running.Job.Type;
            if (open.TryGetValue(type, out var batch) && batch.Unit.Count < batch.Size)
            {
                batch.Unit.Add(running);
                continue;
            }
            var size = batch.Unit is null ? sizer.SizeFor(type) : batch.Size;
            List<RunningJob> unit = [running];
            _pending.Enqueue(unit);
            if (size > 1)
            {
                open[type] = (unit, size);
            }
        }
    }

    private bool PendingIsEmpty()
    {
        lock (_pendingLock)
        {
            return _pending.Count == 0;
        }
    }

    private bool TryTakePending([NotNullWhen(true)] out List<RunningJob>? unit)
    {
        lock (_pendingLock)
        {
            return _pending.TryDequeue(out unit);
        }
    }

    /// <summary>
    /// Jobs a unit did not start (an adaptive batch cut short): back at the head of the queue, still leased, for the next
    /// free slot; or, once the worker is stopping, given back to the table.
    /// </summary>
    private async Task<bool> HandBackAsync(IReadOnlyList<RunningJob> jobs)
    {
        lock (_pendingLock)
        {
            if (!_draining)
            {
                // Ahead of what was claimed since: they were chosen first (priority, then due time).
                var waiting = _pending.ToArray();
                _pending.Clear();
                AddUnits(jobs);
                foreach (var unit in waiting)
                {
                    _pending.Enqueue(unit);
                }
                return true;
            }
        }
        await ReleaseAsync(jobs).ConfigureAwait(false);
        return false;
    }

    private void StartUnit(List<RunningJob> unit) =>
        _units.Add(Task.Run(async () =>
        {
            IReadOnlyList<RunningJob> requeued = [];
            try
            {
                var result = await executor.RunAsync(unit, _abort.Token).ConfigureAwait(false);
                if (result.RetryIn is { } retryIn)
                {
                    WakeAfter(retryIn);
                }
                if (result.NotRun.Count > 0 && await HandBackAsync(result.NotRun).ConfigureAwait(false))
                {
                    requeued = result.NotRun;
                }
            }
            catch (Exception ex)
            {
                // The executor records its own failures; this is a bug, and the leases will expire.
                LogUnitCrashed(ex);
            }
            finally
            {
                foreach (var running in unit.Except(requeued))
                {
                    _held.TryRemove(running.Job.Id, out _);
                    running.Cancellation.Dispose();
                }
                _signal.Set();
            }
        }, CancellationToken.None));

    /// <summary>
    /// Arms the wake-up timer for the next job that was not yet due when the claim ran (<paramref name="claimedAt"/>,
    /// database time). A job that fell due between the claim and this query wakes the loop at once: left out, as a
    /// "run_at > now()" filter would leave it, it would wait for the poll.
    /// </summary>
    private async Task ScheduleNextDueAsync(DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        try
        {
            if (await store.TimeUntilNextDueAsync(registry.Types, claimedAt, cancellationToken).ConfigureAwait(false) is { } due && due < Options.PollInterval)
            {
                WakeAfter(due);
            }
        }
        catch (Exception ex) when (IsDatabaseError(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogClaimFailed(ex, Options.PollInterval);
        }
    }

    private async Task DrainAsync()
    {
        // Claimed but never started: give them back without using up an attempt.
        RunningJob[] unstarted;
        lock (_pendingLock)
        {
            _draining = true;
            unstarted = [.. _pending.SelectMany(u => u)];
            _pending.Clear();
        }
        if (unstarted.Length > 0)
        {
            await ReleaseAsync(unstarted).ConfigureAwait(false);
            foreach (var running in unstarted)
            {
                _held.TryRemove(running.Job.Id, out _);
                running.Cancellation.Dispose();
            }
        }

        var units = _units.Where(t => !t.IsCompleted).ToArray();
        if (units.Length == 0)
        {
            return;
        }
        LogDraining(_held.Count, Options.ShutdownGracePeriod);
        try
        {
            await Task.WhenAll(units).WaitAsync(Options.ShutdownGracePeriod, time).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
        }
        var abandoned = _held.Keys.ToArray();
        LogAbandoning(abandoned.Length);
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await store.ExpireLeasesAsync(WorkerId, abandoned, timeout.Token).ConfigureAwait(false);
            await Task.WhenAll(units).WaitAsync(TimeSpan.FromSeconds(5), time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException || IsDatabaseError(ex))
        {
            // Best effort: whatever is left is reclaimed when its lease runs out.
        }
    }

    private async Task ReleaseAsync(IReadOnlyCollection<RunningJob> jobs)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await store.ReleaseAsync(WorkerId, jobs.Select(r => r.Job), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException || IsDatabaseError(ex))
        {
            LogReleaseFailed(ex, jobs.Count);
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.EffectiveHeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var ids = _held.Keys.ToArray();
                    if (ids.Length > 0)
                    {
                        var kept = await store.ExtendLeasesAsync(WorkerId, ids, cancellationToken).ConfigureAwait(false);
                        foreach (var id in ids.Where(id => !kept.Contains(id)))
                        {
                            // No longer ours in the table: finished a moment ago, or reclaimed by another worker.
                            if (_held.TryGetValue(id, out var running))
                            {
                                running.Cancel();
                            }
                        }
                    }
                    var reclaimed = await store.ReclaimExpiredAsync(cancellationToken).ConfigureAwait(false);
                    foreach (var job in reclaimed)
                    {
                        metrics.LeaseReclaimed(job.Type, job.Status == JobStatus.Dead);
                        LogReclaimed(job.Id, job.Type, job.Attempt, job.PreviousOwner, job.Status);
                    }
                    if (reclaimed.Any(j => j.Status == JobStatus.Queued && _types.Contains(j.Type)))
                    {
                        Wake();
                    }
                }
                catch (Exception ex) when (IsDatabaseError(ex) && !cancellationToken.IsCancellationRequested)
                {
                    LogHeartbeatFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>LISTEN on a dedicated connection; reconnects with backoff and then wakes, to pick up what it missed.</summary>
    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    connection.Notification += (_, e) =>
                    {
                        if (_types.Contains(e.Payload))
                        {
                            Wake();
                        }
                    };
                    await using (var listen = new NpgsqlCommand($"LISTEN {JobNotifications.Channel}", connection))
                    {
                        await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    failures = 0;
                    Wake();
                    while (true)
                    {
                        // A quiet connection is probed now and then, so that a silently dead one is noticed.
                        if (!await connection.WaitAsync(Options.PollInterval, cancellationToken).ConfigureAwait(false))
                        {
                            await using var probe = new NpgsqlCommand("SELECT 1", connection);
                            await probe.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (IsDatabaseError(ex))
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 500 * Math.Pow(2, Math.Min(failures++, 10))));
                LogListenerFailed(ex, delay);
                try
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Options.PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Wake();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Wake()
    {
        Volatile.Write(ref _workHint, 1);
        _signal.Set();
    }

    private void WakeAfter(TimeSpan delay)
    {
        try
        {
            _wakeTimer?.Change(delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private static bool IsDatabaseError(Exception ex) => ex is NpgsqlException or TimeoutException or IOException
        || (ex is InvalidOperationException && ex.InnerException is NpgsqlException);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No job handlers are registered; the job worker is idle")]
    private partial void LogNoHandlers();

    [LoggerMessage(Level = LogLevel.Information, Message = "Job worker {WorkerId} started with {Workers} slots for {Types}")]
    private partial void LogStarted(string workerId, int workers, string[] types);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job worker {WorkerId} stopped")]
    private partial void LogStopped(string workerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Claiming jobs failed; retrying in {Delay}")]
    private partial void LogClaimFailed(Exception exception, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting up to {Grace} for {Count} running jobs to finish")]
    private partial void LogDraining(int count, TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Abandoning {Count} running jobs to lease expiry")]
    private partial void LogAbandoning(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Giving back {Count} unstarted jobs failed; they are reclaimed when their leases expire")]
    private partial void LogReleaseFailed(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reclaimed job {JobId} ({JobType}) attempt {Attempt} from {PreviousOwner} whose lease expired; now {Status}")]
    private partial void LogReclaimed(long jobId, string jobType, int attempt, string previousOwner, string status);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Running a unit of jobs crashed")]
    private partial void LogUnitCrashed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job heartbeat failed")]
    private partial void LogHeartbeatFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job notification listener failed; reconnecting in {Delay}")]
    private partial void LogListenerFailed(Exception exception, TimeSpan delay);
}
