using System.Text.Json;

namespace AspireAi.Web.Jobs;

// The bodies of the Api's /v1/admin/jobs endpoints (Api/Jobs/JobsApi.cs), camelCase JSON. Job ids are the Api's
// bigint ids: its routes only accept numbers, so Web's pages take them as numbers too.

public sealed record AdminJob(
    long Id,
    string Type,
    string Status,
    int Priority,
    DateTimeOffset RunAt,
    int Attempts,
    int MaxAttempts,
    string? DedupeKey,
    string? LeaseOwner,
    DateTimeOffset? LeaseExpiresAt,
    string? LastError,
    int Replays,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt)
{
    // What the Api allows (JobsApi.ReplayJob / CancelJob): the pages offer only these buttons.
    public bool CanReplay => Status is JobStatuses.Dead or JobStatuses.Cancelled;

    public bool CanCancel => Status == JobStatuses.Queued;
}

public sealed record AdminJobAttempt(
    int Attempt,
    string WorkerId,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    double DurationSeconds,
    string Outcome,
    string? Error);

public sealed record AdminJobDetails(AdminJob Job, JsonElement Payload, string? TraceId, IReadOnlyList<AdminJobAttempt> Attempts);

// Queued includes Scheduled (queued jobs whose run time has not come yet); the age is that of the oldest due job.
public sealed record JobTypeStats(string Type, long Queued, long Scheduled, long Running, long Dead, double? OldestQueuedAgeSeconds);

public sealed record JobQueueStats(DateTimeOffset At, long Queued, long Running, long Dead, IReadOnlyList<JobTypeStats> Types)
{
    public long Scheduled => Types.Sum(t => t.Scheduled);
}

// The list's filters as the query string carries them; empty means "any".
public sealed record JobFilter(string? Status, string? Type, string? Limit);

public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Dead = "dead";
    public const string Cancelled = "cancelled";

    public static IReadOnlyList<string> All { get; } = [Queued, Running, Succeeded, Dead, Cancelled];
}
