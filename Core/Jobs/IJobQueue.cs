using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace AspireAi.Core.Jobs;

/// <summary>
/// Enqueues durable background jobs into PostgreSQL. The jobs table is the outbox: a job enqueued in the
/// caller's transaction commits or rolls back with it, and workers are woken (LISTEN/NOTIFY) only on commit.
/// </summary>
/// <remarks>
/// Delivery is at-least-once: a handler's Postgres writes and the job's completion commit together, but a handler
/// may run again after a crash or a lost lease, so handlers are written to be idempotent. The caller's current
/// <see cref="System.Diagnostics.Activity"/> is stored with the job so that the worker's span continues its trace.
/// </remarks>
[SuppressMessage("Naming", "CA1711", Justification = "It is a queue: the name says what it does.")]
public interface IJobQueue
{
    /// <summary>
    /// Enqueues a job inside the caller's transaction. Throws <see cref="JobQueueFullException"/> when the type's
    /// <c>MaxQueuedDepth</c> is reached; the caller then lets its transaction roll back, so nothing is half-written.
    /// </summary>
    /// <returns>The job's id, and whether it was created (false: an unfinished job with the same dedupe key exists).</returns>
    Task<JobEnqueueResult> EnqueueAsync(JobRequest request, NpgsqlConnection connection, NpgsqlTransaction transaction,
        CancellationToken cancellationToken = default);

    /// <summary>Enqueues a job in a transaction of its own.</summary>
    Task<JobEnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Throws <see cref="JobQueueFullException"/> (with a retry-after hint) when the queue of <paramref name="type"/>
    /// is full. Endpoints call it before starting expensive work; <see cref="EnqueueAsync(JobRequest, NpgsqlConnection, NpgsqlTransaction, CancellationToken)"/>
    /// checks again inside the transaction. The limit is soft: concurrent enqueues can overshoot it slightly.
    /// </summary>
    Task EnsureCapacityAsync(string type, CancellationToken cancellationToken = default);
}

/// <summary>The outcome of an enqueue.</summary>
/// <param name="JobId">The new job, or the unfinished job that had the same dedupe key.</param>
/// <param name="Created">False when the dedupe key matched an existing queued or running job.</param>
public sealed record JobEnqueueResult(long JobId, bool Created);

/// <summary>The LISTEN/NOTIFY channel that wakes idle workers. The payload is the job type; Postgres delivers it on commit.</summary>
public static class JobNotifications
{
    public const string Channel = "aspireai_jobs";
}
