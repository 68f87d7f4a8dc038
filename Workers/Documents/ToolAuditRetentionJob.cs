using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NpgsqlTypes;

namespace AspireAi.Workers.Documents;

/// <summary>
/// Recurring (daily): clears the arguments of tool-call audit rows older than
/// <see cref="DocumentsOptions.ToolArgumentsRetention"/>. Arguments hold what users searched for, which is personal
/// data; the row itself (who, which tool, sizes, duration, outcome) stays for the audit trail. A full batch enqueues
/// the next one, so a backlog drains without one long transaction.
/// </summary>
public sealed partial class ToolAuditRetentionJob(IOptions<DocumentsOptions> options, ILogger<ToolAuditRetentionJob> logger) : IJobHandler
{
    public string Type => DocumentJobs.ToolAuditRetention;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = options.Value;
        await using var clear = context.CreateCommand("""
            UPDATE audit_log SET arguments = NULL
            WHERE id IN (
                SELECT id FROM audit_log
                WHERE arguments IS NOT NULL AND at < now() - $1
                LIMIT $2 FOR UPDATE SKIP LOCKED)
            """);
        clear.Parameters.Add(new() { Value = settings.ToolArgumentsRetention, NpgsqlDbType = NpgsqlDbType.Interval });
        clear.Parameters.Add(new() { Value = settings.RetentionBatchSize });
        var cleared = await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (cleared == 0)
        {
            return;
        }
        LogCleared(cleared, settings.ToolArgumentsRetention.TotalDays);
        if (cleared == settings.RetentionBatchSize)
        {
            await context.EnqueueAsync(new JobRequest(Type), cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cleared the arguments of {Count} tool-call audit rows older than {Days} days")]
    private partial void LogCleared(int count, double days);
}
