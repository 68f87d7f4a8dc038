namespace AspireAi.Workers.Jobs;

/// <summary>A job this worker has claimed, from the claim until its outcome is recorded (its lease is kept alive meanwhile).</summary>
internal sealed class RunningJob(ClaimedJob job, CancellationTokenSource cancellation)
{
    public ClaimedJob Job { get; } = job;

    /// <summary>Cancelled when the lease is lost or the worker gives up on shutdown.</summary>
    public CancellationTokenSource Cancellation { get; } = cancellation;

    public void Cancel()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It finished in the meantime.
        }
    }
}
