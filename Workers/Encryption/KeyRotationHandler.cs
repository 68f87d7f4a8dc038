using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Logging;

namespace AspireAi.Workers.Encryption;

/// <summary>
/// The <c>encryption.rotate</c> job (enqueued by an administrator: <c>POST /v1/admin/encryption/rotations</c>): one
/// batch of <see cref="KeyRotation"/> per job, in the job's transaction, so that a batch and its successor commit
/// together and a crash resumes where the last committed batch ended.
/// </summary>
public sealed partial class KeyRotationHandler(KeyRotation rotation, ILogger<KeyRotationHandler> logger) : IJobHandler
{
    public string Type => KeyRotation.JobType;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var payload = context.GetPayload<KeyRotationPayload>();
        await rotation.RunBatchAsync(context, payload, cancellationToken).ConfigureAwait(false);
        LogBatch(payload.Mode, payload.Table ?? "keys", payload.After ?? "start", context.Job.Id);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Key rotation ({Mode}): batch of {Table} after {After} done (job {JobId})")]
    private partial void LogBatch(string mode, string table, string after, long jobId);
}
