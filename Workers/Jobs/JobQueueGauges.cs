using System.Diagnostics.Metrics;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// Queue depth, oldest due job and dead jobs per type, as observable gauges of the "AspireAi.Jobs" meter. A scrape
/// never waits on Postgres: it reads a snapshot, and starts a background refresh when the snapshot is older than
/// <c>Jobs:MetricsRefreshInterval</c>.
/// </summary>
internal sealed partial class JobQueueGauges
{
    private readonly JobAdministration _administration;
    private readonly TimeProvider _time;
    private readonly TimeSpan _refreshInterval;
    private readonly ILogger<JobQueueGauges> _logger;
    private JobQueueStats? _snapshot;
    private long _refreshedAt; // 0: never
    private int _refreshing;

    public JobQueueGauges(JobMetrics metrics, JobAdministration administration, IOptions<JobsOptions> options, TimeProvider time,
        ILogger<JobQueueGauges> logger)
    {
        _administration = administration;
        _time = time;
        _refreshInterval = options.Value.MetricsRefreshInterval;
        _logger = logger;
        var meter = metrics.Meter;
        meter.CreateObservableGauge("aspireai.jobs.queue.depth", ObserveDepth, "{job}", "Jobs queued (due or scheduled) and running, by type and status.");
        meter.CreateObservableGauge("aspireai.jobs.queue.oldest_age", ObserveOldest, "s", "Age of the oldest due queued job, by type.");
        meter.CreateObservableGauge("aspireai.jobs.dead", ObserveDead, "{job}", "Dead jobs awaiting inspection or replay, by type.");
    }

    private IEnumerable<Measurement<long>> ObserveDepth()
    {
        foreach (var type in Snapshot())
        {
            yield return new(type.Queued, new("job.type", type.Type), new("job.status", JobStatus.Queued));
            yield return new(type.Running, new("job.type", type.Type), new("job.status", JobStatus.Running));
        }
    }

    private IEnumerable<Measurement<double>> ObserveOldest() =>
        Snapshot().Select(t => new Measurement<double>(t.OldestQueuedAgeSeconds ?? 0, new KeyValuePair<string, object?>("job.type", t.Type)));

    private IEnumerable<Measurement<long>> ObserveDead() =>
        Snapshot().Select(t => new Measurement<long>(t.Dead, new KeyValuePair<string, object?>("job.type", t.Type)));

    private IReadOnlyList<JobTypeStats> Snapshot()
    {
        var refreshedAt = Interlocked.Read(ref _refreshedAt);
        var stale = refreshedAt == 0 || _time.GetElapsedTime(refreshedAt) >= _refreshInterval;
        if (stale && Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
        {
            _ = RefreshAsync();
        }
        return Volatile.Read(ref _snapshot)?.Types ?? [];
    }

    private async Task RefreshAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(_refreshInterval);
            Volatile.Write(ref _snapshot, await _administration.GetStatsAsync(timeout.Token).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogRefreshFailed(ex);
        }
        finally
        {
            Interlocked.Exchange(ref _refreshedAt, _time.GetTimestamp());
            Volatile.Write(ref _refreshing, 0);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the job queue gauges failed")]
    private partial void LogRefreshFailed(Exception exception);
}
