using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// Deletes finished jobs past their retention (Jobs:FinishedRetention for succeeded and cancelled, Jobs:DeadRetention
/// for dead), with their attempts. Runs as the recurring job "jobs.cleanup"; a large backlog is worked off in
/// batches over successive runs.
/// </summary>
internal sealed partial class JobCleanupHandler(IOptions<JobsOptions> options, ILogger<JobCleanupHandler> logger) : IJobHandler
{
    public const string JobType = "jobs.cleanup";
    public const string Schedule = "17 * * * *";
    private const int BatchSize = 50_000;

    public string Type => JobType;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        await using var command = context.CreateCommand("""
            DELETE FROM jobs WHERE id IN (
                SELECT id FROM jobs
                WHERE (status IN ('succeeded', 'cancelled') AND finished_at < now() - $1)
                   OR (status = 'dead' AND finished_at < now() - $2)
                LIMIT $3
            )
            """);
        command.Parameters.Add(new() { Value = options.Value.FinishedRetention, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = options.Value.DeadRetention, NpgsqlDbType = NpgsqlDbType.Interval });
        command.Parameters.Add(new() { Value = BatchSize });
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        LogDeleted(deleted);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} finished jobs past their retention")]
    private partial void LogDeleted(int count);
}
