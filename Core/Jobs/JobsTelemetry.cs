using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AspireAi.Core.Jobs;

/// <summary>
/// Tracing of jobs: the enqueuing activity's W3C context is stored with the job (traceparent, tracestate) and the
/// worker's "process {type}" span uses it as its parent, so a request's trace continues into the worker.
/// </summary>
public static class JobsTelemetry
{
    public const string ActivitySourceName = "AspireAi.Jobs";
    public const string MeterName = "AspireAi.Jobs";
    public const string MessagingSystem = "aspireai.jobs";

    public static ActivitySource ActivitySource { get; } = new(ActivitySourceName);

    /// <summary>Starts the producer span of an enqueue (if anyone listens) and returns the context to store.</summary>
    internal static (Activity? Activity, string? TraceParent, string? TraceState) StartEnqueue(string type)
    {
        var activity = ActivitySource.StartActivity($"create {type}", ActivityKind.Producer);
        activity?.SetTag("messaging.system", MessagingSystem);
        activity?.SetTag("messaging.operation.type", "create");
        activity?.SetTag("messaging.destination.name", type);
        var current = Activity.Current;
        return current is { IdFormat: ActivityIdFormat.W3C }
            ? (activity, current.Id, current.TraceStateString)
            : (activity, null, null);
    }

    /// <summary>Starts the consumer span of one attempt, as a child of the enqueuing context when there is one.</summary>
    public static Activity? StartProcessing(string type, long jobId, int attempt, string? traceParent, string? traceState)
    {
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
        var activity = ActivitySource.StartActivity(ActivityKind.Consumer, parent, name: $"process {type}");
        if (activity is not null)
        {
            activity.SetTag("messaging.system", MessagingSystem);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", type);
            activity.SetTag("messaging.message.id", jobId);
            activity.SetTag("job.attempt", attempt);
        }
        return activity;
    }
}

/// <summary>
/// The counters and histograms of the Meter "AspireAi.Jobs". The queue-depth gauges (which read the database) are
/// added by the Workers host, from a snapshot refreshed every few seconds.
/// </summary>
public sealed class JobMetrics
{
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _attempts;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _claimDuration;
    private readonly Counter<long> _claimed;
    private readonly Histogram<long> _batchSize;

    public JobMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(JobsTelemetry.MeterName);
        _enqueued = Meter.CreateCounter<long>("aspireai.jobs.enqueued", "{job}", "Jobs enqueued.");
        _rejected = Meter.CreateCounter<long>("aspireai.jobs.rejected", "{job}", "Enqueues refused because the queue was full.");
        _attempts = Meter.CreateCounter<long>("aspireai.jobs.attempts", "{attempt}", "Finished attempts, by outcome (succeeded, failed, dead, lease_lost).");
        _inFlight = Meter.CreateUpDownCounter<long>("aspireai.jobs.in_flight", "{job}", "Jobs running in this process.");
        _duration = Meter.CreateHistogram<double>("aspireai.jobs.duration", "s", "Processing time of an attempt, by type and outcome.");
        _claimDuration = Meter.CreateHistogram<double>("aspireai.jobs.claim.duration", "s", "Round trip of one claim query.");
        _claimed = Meter.CreateCounter<long>("aspireai.jobs.claimed", "{job}", "Jobs claimed by this process.");
        _batchSize = Meter.CreateHistogram<long>("aspireai.jobs.batch.size", "{job}", "Jobs run in one committed transaction (one WAL flush), by type.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 24, 32, 50] });
    }

    /// <summary>The meter, for instruments other components add (the queue gauges).</summary>
    public Meter Meter { get; }

    public void Enqueued(string type) => _enqueued.Add(1, new KeyValuePair<string, object?>("job.type", type));

    public void Rejected(string type) => _rejected.Add(1, new KeyValuePair<string, object?>("job.type", type));

    public void Claimed(TimeSpan duration, int count)
    {
        _claimDuration.Record(duration.TotalSeconds);
        if (count > 0)
        {
            _claimed.Add(count);
        }
    }

    public void Started(string type) => _inFlight.Add(1, new KeyValuePair<string, object?>("job.type", type));

    public void Finished(string type, string outcome, TimeSpan duration)
    {
        var typeTag = new KeyValuePair<string, object?>("job.type", type);
        var outcomeTag = new KeyValuePair<string, object?>("job.outcome", outcome);
        _inFlight.Add(-1, typeTag);
        _attempts.Add(1, typeTag, outcomeTag);
        _duration.Record(duration.TotalSeconds, typeTag, outcomeTag);
    }

    /// <summary>A unit's transaction committed, with <paramref name="jobs"/> jobs (a batch, or 1).</summary>
    public void Committed(string type, int jobs) => _batchSize.Record(jobs, new KeyValuePair<string, object?>("job.type", type));

    /// <summary>A job whose lease expired was taken back (its worker died or stalled).</summary>
    public void LeaseReclaimed(string type, bool dead) =>
        _attempts.Add(1, new KeyValuePair<string, object?>("job.type", type),
            new KeyValuePair<string, object?>("job.outcome", dead ? "dead" : JobAttemptOutcome.LeaseExpired));
}
