using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Jobs;

/// <summary>
/// Operations on the background-job queues: list and inspect jobs with their attempt history, replay dead letters,
/// cancel queued jobs, queue statistics for the admin UI, and enqueue a job by hand.
/// </summary>
internal static class JobsApi
{
    private const int DefaultPageSize = 50;
    private const int MaxPageSize = 200;

    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/jobs").WithTags("Jobs").RequireAuthorization(AspireAiPolicies.Admin).RequireScope(ApiKeyScopes.Admin);
        group.MapGet("/", ListJobs);
        group.MapGet("/stats", GetStats);
        group.MapGet("/{id:long}", GetJob);
        group.MapPost("/", EnqueueJob);
        group.MapPost("/{id:long}/replay", ReplayJob);
        group.MapPost("/{id:long}/cancel", CancelJob);
        return group;
    }

    public sealed record JobResponse(
        long Id, string Type, string Status, int Priority, DateTimeOffset RunAt, int Attempts, int MaxAttempts, string? DedupeKey,
        string? LeaseOwner, DateTimeOffset? LeaseExpiresAt, string? LastError, int Replays,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

    public sealed record JobAttemptResponse(int Attempt, string WorkerId, DateTimeOffset StartedAt, DateTimeOffset FinishedAt,
        double DurationSeconds, string Outcome, string? Error);

    public sealed record JobDetailsResponse(JobResponse Job, JsonElement Payload, string? TraceId, IReadOnlyList<JobAttemptResponse> Attempts);

    public sealed record JobPageResponse(IReadOnlyList<JobResponse> Items, string? NextCursor);

    public sealed record JobTypeStatsResponse(string Type, long Queued, long Scheduled, long Running, long Dead, double? OldestQueuedAgeSeconds);

    public sealed record JobStatsResponse(DateTimeOffset At, long Queued, long Running, long Dead, IReadOnlyList<JobTypeStatsResponse> Types);

    public sealed record EnqueueJobRequest(
        [property: Required, RegularExpression("^[a-z0-9][a-z0-9._:-]{0,99}$", ErrorMessage = "The type must be lowercase letters, digits and '. _ : -', at most 100 characters.")] string? Type,
        [property: StorableJobPayload] JsonElement? Payload,
        [property: Range(-1000, 1000)] int? Priority,
        [property: Range(0, 30 * 24 * 3600)] int? DelaySeconds,
        [property: StringLength(JobRequest.MaxDedupeKeyLength, MinimumLength = 1), StorableDedupeKey] string? DedupeKey,
        [property: Range(1, 100)] int? MaxAttempts);

    /// <summary>Jobs newest first, filtered by status and/or type; keyset-paginated with an opaque cursor.</summary>
    internal static async Task<Results<Ok<JobPageResponse>, ValidationProblem>> ListJobs(
        JobAdministration jobs, CancellationToken cancellationToken,
        string? status = null, string? type = null, string? cursor = null, string? limit = null)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (status is not null && !JobStatus.IsValid(status))
        {
            errors["status"] = [$"Unknown status '{status}'. Use one of: {string.Join(", ", JobStatus.All)}."];
        }
        if (type is not null && !JobRequest.IsValidType(type))
        {
            errors["type"] = ["The type must be lowercase letters, digits and '. _ : -', at most 100 characters."];
        }
        long? before = null;
        if (cursor is not null)
        {
            if (Cursor.TryDecode(cursor, 2, out var parts) && parts[0] == "jobs"
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0)
            {
                before = id;
            }
            else
            {
                errors["cursor"] = ["The cursor is not one this endpoint returned."];
            }
        }
        var pageSize = DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxPageSize))
        {
            errors["limit"] = [$"The limit must be a whole number from 1 to {MaxPageSize}."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await jobs.ListAsync(status, type, before, pageSize, cancellationToken);
        var next = page.NextBefore is { } nextBefore ? Cursor.Encode("jobs", nextBefore.ToString(CultureInfo.InvariantCulture)) : null;
        return TypedResults.Ok(new JobPageResponse([.. page.Items.Select(ToResponse)], next));
    }

    /// <summary>A job with its payload and every attempt (kept across replays).</summary>
    internal static async Task<Results<Ok<JobDetailsResponse>, ProblemHttpResult>> GetJob(long id, JobAdministration jobs, CancellationToken cancellationToken) =>
        await jobs.GetAsync(id, cancellationToken) is { } found
            ? TypedResults.Ok(ToDetails(found.Job, found.Attempts))
            : NotFound(id);

    /// <summary>Queue depth per type (queued, of which scheduled; running), the oldest due job's age and dead jobs.</summary>
    internal static async Task<Ok<JobStatsResponse>> GetStats(JobAdministration jobs, CancellationToken cancellationToken)
    {
        var stats = await jobs.GetStatsAsync(cancellationToken);
        return TypedResults.Ok(new JobStatsResponse(stats.At,
            stats.Types.Sum(t => t.Queued), stats.Types.Sum(t => t.Running), stats.Types.Sum(t => t.Dead),
            [.. stats.Types.Select(t => new JobTypeStatsResponse(t.Type, t.Queued, t.Scheduled, t.Running, t.Dead, t.OldestQueuedAgeSeconds))]));
    }

    /// <summary>
    /// Enqueues a job by hand (operations, tests). A full queue answers 503 with Retry-After (through the
    /// JobQueueFullException handler), and nothing is written. An unfinished job with the same dedupe key is
    /// returned with 200 instead of a new one.
    /// </summary>
    internal static async Task<Results<Created<JobResponse>, Ok<JobResponse>, ProblemHttpResult>> EnqueueJob(
        EnqueueJobRequest request, IJobQueue queue, JobAdministration jobs, CurrentUser admin, AuditLog audit, CancellationToken cancellationToken)
    {
        var job = new JobRequest(request.Type!, request.Payload ?? default)
        {
            Priority = request.Priority ?? 0,
            Delay = request.DelaySeconds is { } delay ? TimeSpan.FromSeconds(delay) : null,
            DedupeKey = request.DedupeKey,
            MaxAttempts = request.MaxAttempts,
        };
        var result = await queue.EnqueueAsync(job, cancellationToken);
        if (result.Created)
        {
            await audit.AppendAsync(admin.UserId, AuditLog.JobEnqueued, "job", Id(result.JobId), new Dictionary<string, string?> { ["type"] = job.Type },
                cancellationToken);
        }
        if (await jobs.GetAsync(result.JobId, cancellationToken) is not { } stored)
        {
            // Already finished and cleaned up: only possible with a tiny retention.
            return NotFound(result.JobId);
        }
        var response = ToResponse(stored.Job);
        return result.Created ? TypedResults.Created($"/v1/admin/jobs/{result.JobId}", response) : TypedResults.Ok(response);
    }

    /// <summary>Puts a dead or cancelled job back in its queue with its attempts reset; its history is kept.</summary>
    internal static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> ReplayJob(long id, JobAdministration jobs, CurrentUser admin, AuditLog audit,
        CancellationToken cancellationToken)
    {
        var result = await jobs.ReplayAsync(id, cancellationToken);
        if (result.Outcome == JobChangeOutcome.Changed)
        {
            await audit.AppendAsync(admin.UserId, AuditLog.JobReplayed, "job", Id(id), new Dictionary<string, string?> { ["type"] = result.Job!.Type },
                cancellationToken);
        }
        return result.Outcome switch
        {
            JobChangeOutcome.Changed => TypedResults.Ok(ToResponse(result.Job!)),
            JobChangeOutcome.NotFound => NotFound(id),
            JobChangeOutcome.DuplicateActive => Conflict("The job cannot be replayed",
                $"Job {id} cannot be replayed: another job of its type with the same dedupe key is queued or running."),
            _ => Conflict("The job cannot be replayed", $"Only dead or cancelled jobs can be replayed; job {id} is {result.Status}."),
        };
    }

    /// <summary>Cancels a queued job. A running job cannot be cancelled (it finishes or fails); a finished one is final.</summary>
    internal static async Task<Results<Ok<JobResponse>, ProblemHttpResult>> CancelJob(long id, JobAdministration jobs, CurrentUser admin, AuditLog audit,
        CancellationToken cancellationToken)
    {
        var result = await jobs.CancelAsync(id, cancellationToken);
        if (result.Outcome == JobChangeOutcome.Changed)
        {
            await audit.AppendAsync(admin.UserId, AuditLog.JobCancelled, "job", Id(id), new Dictionary<string, string?> { ["type"] = result.Job!.Type },
                cancellationToken);
        }
        return result.Outcome switch
        {
            JobChangeOutcome.Changed => TypedResults.Ok(ToResponse(result.Job!)),
            JobChangeOutcome.NotFound => NotFound(id),
            _ when result.Status == JobStatus.Running => Conflict("The job cannot be cancelled",
                $"Job {id} is running; only queued jobs can be cancelled. Let it finish, or it fails and can be replayed."),
            _ => Conflict("The job cannot be cancelled", $"Job {id} is already {result.Status}; only queued jobs can be cancelled."),
        };
    }

    private static ProblemHttpResult NotFound(long id) =>
        TypedResults.Problem(title: "Job not found", detail: $"There is no job {id}.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status409Conflict);

    private static JobResponse ToResponse(JobRecord j) =>
        new(j.Id, j.Type, j.Status, j.Priority, j.RunAt, j.Attempts, j.MaxAttempts, j.DedupeKey, j.LeaseOwner, j.LeaseExpiresAt,
            j.LastError, j.Replays, j.CreatedAt, j.UpdatedAt, j.FinishedAt);

    private static JobDetailsResponse ToDetails(JobRecord job, IReadOnlyList<JobAttemptRecord> attempts) =>
        new(ToResponse(job), job.Payload ?? default,
            job.TraceParent is { Length: 55 } traceParent ? traceParent[3..35] : null,
            [.. attempts.Select(a => new JobAttemptResponse(a.Attempt, a.WorkerId, a.StartedAt, a.FinishedAt,
                (a.FinishedAt - a.StartedAt).TotalSeconds, a.Outcome, a.Error))]);

    private static string Id(long id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
