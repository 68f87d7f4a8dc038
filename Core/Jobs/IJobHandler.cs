using System.Text.Json;
using Npgsql;

namespace AspireAi.Core.Jobs;

/// <summary>
/// Runs the jobs of one type. Register with <see cref="JobsExtensions.AddJobHandler{THandler}(Microsoft.Extensions.DependencyInjection.IServiceCollection)"/>;
/// a new DI scope (and a new handler instance) serves each job.
/// </summary>
/// <remarks>
/// Write the job's effects through <see cref="JobContext.Connection"/> and <see cref="JobContext.Transaction"/>: the
/// worker marks the job done in that same transaction, so the effects and the completion commit together (or not
/// at all). Do not commit or roll back the transaction yourself. Throwing fails the attempt: the transaction rolls
/// back and the job is retried with backoff, or becomes dead after its last attempt. The token is cancelled when
/// the worker shuts down past its grace period or loses the job's lease.
/// </remarks>
public interface IJobHandler
{
    /// <summary>The job type this handler runs.</summary>
    string Type { get; }

    Task HandleAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>A claimed job, as its handler sees it.</summary>
/// <param name="Id">The job's id.</param>
/// <param name="Type">The job type.</param>
/// <param name="Attempt">This attempt's number, from 1.</param>
/// <param name="MaxAttempts">The attempts the job gets before it becomes dead.</param>
/// <param name="Priority">The job's priority.</param>
/// <param name="DedupeKey">The key it was enqueued with, if any (recurring jobs: "{name}:{slot}").</param>
/// <param name="CreatedAt">When it was enqueued.</param>
/// <param name="RunAt">When it became due.</param>
public sealed record JobInfo(long Id, string Type, int Attempt, int MaxAttempts, int Priority, string? DedupeKey,
    DateTimeOffset CreatedAt, DateTimeOffset RunAt);

/// <summary>What a handler gets for one attempt: the job, its payload, and the open transaction to write in.</summary>
public sealed class JobContext(JobInfo job, JsonElement payload, NpgsqlConnection connection, NpgsqlTransaction transaction,
    string workerId, IJobQueue queue)
{
    public JobInfo Job { get; } = job;

    public JsonElement Payload { get; } = payload;

    /// <summary>This attempt's number, from 1.</summary>
    public int Attempt => Job.Attempt;

    /// <summary>True when a failure now makes the job dead.</summary>
    public bool IsLastAttempt => Job.Attempt >= Job.MaxAttempts;

    /// <summary>An open connection, in <see cref="Transaction"/>.</summary>
    public NpgsqlConnection Connection { get; } = connection;

    /// <summary>The transaction the job's completion commits in.</summary>
    public NpgsqlTransaction Transaction { get; } = transaction;

    /// <summary>The worker running this attempt (as recorded in the attempt history).</summary>
    public string WorkerId { get; } = workerId;

    /// <summary>The payload deserialized with the web defaults (camelCase) unless other options are given.</summary>
    public T GetPayload<T>(JsonSerializerOptions? options = null) =>
        Payload.Deserialize<T>(options ?? JsonSerializerOptions.Web)
        ?? throw new JsonException($"Job {Job.Id} ({Job.Type}) has a null payload.");

    /// <summary>A command on the job's connection and transaction.</summary>
    public NpgsqlCommand CreateCommand(string sql) => new(sql, Connection, Transaction);

    private readonly List<Func<CancellationToken, Task>> _afterCommit = [];

    /// <summary>
    /// Work outside Postgres (a cache, a counter) that must only happen if this attempt's transaction commits: the
    /// worker runs it, in order, after the commit, and drops it when the attempt rolls back. The job has committed by
    /// then, so a failure is logged and changes nothing about the job.
    /// </summary>
    public void OnCommitted(Func<CancellationToken, Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        _afterCommit.Add(action);
    }

    /// <summary>What <see cref="OnCommitted"/> registered; for the worker (and test runners) to run after the commit.</summary>
    public IReadOnlyList<Func<CancellationToken, Task>> CommittedActions => _afterCommit;

    /// <summary>Enqueues a follow-up job in this job's transaction: it exists only if this attempt succeeds.</summary>
    public Task<JobEnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        queue.EnqueueAsync(request, Connection, Transaction, cancellationToken);
}
