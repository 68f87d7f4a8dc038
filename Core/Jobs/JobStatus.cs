namespace AspireAi.Core.Jobs;

/// <summary>
/// The states of a job. A queued job waits for its <c>run_at</c>; a running one is held by a worker's lease;
/// succeeded, dead and cancelled are final, and a dead or cancelled job can be replayed.
/// </summary>
public static class JobStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Dead = "dead";
    public const string Cancelled = "cancelled";

    public static IReadOnlyList<string> All { get; } = [Queued, Running, Succeeded, Dead, Cancelled];

    public static bool IsValid(string? status) => status is not null && All.Contains(status, StringComparer.Ordinal);
}

/// <summary>How an attempt ended, as recorded in the job's attempt history.</summary>
public static class JobAttemptOutcome
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>The worker stopped renewing its lease (it was killed, hung or lost the database) and another took over.</summary>
    public const string LeaseExpired = "lease_expired";
}
