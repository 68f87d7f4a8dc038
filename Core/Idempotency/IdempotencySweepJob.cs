using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Idempotency;

/// <summary>
/// Recurring (hourly): deletes idempotency keys past their retention. A full batch enqueues the next one, so a
/// backlog drains in short transactions.
/// </summary>
public sealed partial class IdempotencySweepJob(IOptions<IdempotencyOptions> options, ILogger<IdempotencySweepJob> logger) : IJobHandler
{
    public const string JobType = "idempotency.sweep";

    public string Type => JobType;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var batch = options.Value.SweepBatchSize;
        await using var delete = context.CreateCommand("""
            DELETE FROM idempotency_keys
            WHERE (user_id, key) IN (
                SELECT user_id, key FROM idempotency_keys
                WHERE expires_at < now()
                LIMIT $1 FOR UPDATE SKIP LOCKED)
            """);
        delete.Parameters.Add(new() { Value = batch });
        var deleted = await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            return;
        }
        LogSwept(deleted);
        if (deleted == batch)
        {
            await context.EnqueueAsync(new JobRequest(Type), cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} expired idempotency keys")]
    private partial void LogSwept(int count);
}
