using System.Globalization;

namespace AspireAi.Core.Jobs;

/// <summary>
/// Backpressure: the queue of <see cref="JobType"/> holds <see cref="MaxQueuedDepth"/> or more queued jobs. The Api
/// answers 503 with Retry-After and a ProblemDetails naming the queue; the enqueuing transaction must roll back.
/// </summary>
public sealed class JobQueueFullException : Exception
{
    public JobQueueFullException() : base("The job queue is full.") { }

    public JobQueueFullException(string message) : base(message) { }

    public JobQueueFullException(string message, Exception? innerException) : base(message, innerException) { }

    public JobQueueFullException(string jobType, long queuedDepth, long maxQueuedDepth, TimeSpan retryAfter)
        : base(string.Create(CultureInfo.InvariantCulture,
            $"The '{jobType}' job queue is full: {queuedDepth} jobs are queued and its limit is {maxQueuedDepth}."))
    {
        JobType = jobType;
        QueuedDepth = queuedDepth;
        MaxQueuedDepth = maxQueuedDepth;
        RetryAfter = retryAfter;
    }

    public string JobType { get; } = "";

    /// <summary>The queued jobs counted (at least <see cref="MaxQueuedDepth"/>).</summary>
    public long QueuedDepth { get; }

    public long MaxQueuedDepth { get; }

    /// <summary>How long the caller should wait before trying again.</summary>
    public TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(10);
}
