using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspireAi.Core.Memory;

/// <summary>Job types of the memory pipeline and the enqueue helper.</summary>
public static partial class MemoryJobs
{
    public const string Extract = "memory.extract";
    public const string Expire = "memory.expire";
    public const string CapEpisodic = "memory.cap-episodic";
    public const string Purge = "memory.purge";
    public const string Backlog = "memory.backlog";
    public const string Reembed = "memory.reembed";
    public const string RecallMonitor = "memory.recall-monitor";

    /// <summary>The extraction job of one source; its dedupe key makes a second enqueue of the same source a no-op.</summary>
    public static JobRequest ExtractionRequest(Guid sourceId) => new(Extract, new { sourceId }) { DedupeKey = $"source:{sourceId:N}" };

    /// <summary>
    /// Enqueues the extraction of <paramref name="sourceId"/> in the caller's transaction and marks the source queued;
    /// a full queue leaves it pending (for memory.backlog) and returns null.
    /// </summary>
    public static async Task<long?> TryEnqueueExtractionAsync(IJobQueue queue, Guid sourceId, NpgsqlConnection connection, NpgsqlTransaction transaction,
        MemoryMetrics metrics, ILogger logger, CancellationToken cancellationToken)
    {
        if (await TryEnqueueAsync(queue, sourceId, connection, transaction, metrics, logger, cancellationToken).ConfigureAwait(false) is not { } jobId)
        {
            return null;
        }
        await MarkQueuedAsync(connection, transaction, sourceId, jobId, cancellationToken).ConfigureAwait(false);
        return jobId;
    }

    /// <summary>
    /// Enqueues the extraction of <paramref name="sourceId"/> in the caller's transaction, for a caller that records the
    /// job on the source itself; null when the queue is full.
    /// </summary>
    public static async Task<long?> TryEnqueueAsync(IJobQueue queue, Guid sourceId, NpgsqlConnection connection, NpgsqlTransaction transaction,
        MemoryMetrics metrics, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(metrics);
        try
        {
            return (await queue.EnqueueAsync(ExtractionRequest(sourceId), connection, transaction, cancellationToken).ConfigureAwait(false)).JobId;
        }
        catch (JobQueueFullException ex)
        {
            // The capacity check is a plain SELECT: the transaction is intact and the caller's work still commits.
            metrics.SourceDeferred();
            LogDeferred(logger, sourceId, ex.MaxQueuedDepth);
            return null;
        }
    }

    public static async Task MarkQueuedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid sourceId, long jobId, CancellationToken cancellationToken)
    {
        await using var update = new NpgsqlCommand("UPDATE memory_sources SET status = 'queued', job_id = $2 WHERE id = $1 AND status = 'pending'",
            connection, transaction);
        update.Parameters.Add(new() { Value = sourceId });
        update.Parameters.Add(new() { Value = jobId });
        await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory extraction of source {SourceId} deferred: the job queue is full (limit {Limit}); memory.backlog will enqueue it")]
    private static partial void LogDeferred(ILogger logger, Guid sourceId, long limit);
}
