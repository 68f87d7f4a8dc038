using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Jobs;

/// <summary>
/// The <c>Jobs</c> configuration section: worker settings, per-type retry and capacity settings
/// (<c>Jobs:Types:{type}:…</c>, falling back to <c>Jobs:Defaults:…</c>) and recurring-job overrides
/// (<c>Jobs:Recurring:{name}:…</c>).
/// </summary>
public sealed class JobsOptions : IValidatableObject
{
    public const string SectionName = "Jobs";

    /// <summary>
    /// Jobs one Workers process runs at the same time. 4 by default: most jobs wait on Postgres or a model server more
    /// than they compute, so four slots keep two cores busy (docs/benchmarks.md, "Jobs").
    /// </summary>
    [Range(1, 256)]
    public int Workers { get; set; } = 4;

    /// <summary>How long a claim holds a job without a heartbeat; after that another worker may take it over.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often running jobs' leases are extended and expired leases reclaimed. Default: a third of the lease.</summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary>The fallback poll for notifications that were lost (e.g. while the listener reconnected).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>On shutdown, how long running jobs may take to finish before they are abandoned to lease expiry.</summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often the recurring-job scheduler looks at its (in-memory) due times.</summary>
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The queue-depth gauges read a snapshot at most this often, never on every scrape.</summary>
    public TimeSpan MetricsRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// When false, a job's completion commits with <c>synchronous_commit = off</c>: a PostgreSQL crash can forget the
    /// last fraction of a second of completions, and those jobs run again. Effects and completion are still lost
    /// together, so effects stay exactly-once; the enqueue side is never affected. Claims, heartbeats and lease
    /// reclaims always commit asynchronously (losing one only makes a job claimable again).
    /// </summary>
    public bool SynchronousCommit { get; set; } = true;

    /// <summary>
    /// Adaptive batching (types without an explicit <c>BatchSize</c>): how long one transaction of jobs of a type should
    /// take. The worker keeps a running estimate of each type's time per job and runs about this much work per commit
    /// (one WAL flush), and commits early once a transaction has taken this long. Handlers slower than this run one per
    /// transaction, as without batching. 50 ms: no-op jobs on the 2-core machine batch ~20 per commit (20 ms gave ~8 and
    /// 1,810 jobs/s, docs/benchmarks.md); a fast job's effects become visible at most this much later.
    /// </summary>
    public TimeSpan BatchTarget { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Adaptive batching: at most this many jobs in one transaction (at most 50).</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Identifies this worker in leases and attempt history. Default: host name, process id and a random suffix.</summary>
    [MaxLength(200)]
    public string? WorkerId { get; set; }

    /// <summary>Succeeded and cancelled jobs are deleted this long after they finished (the jobs.cleanup recurring job).</summary>
    public TimeSpan FinishedRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Dead jobs are kept this long for inspection and replay.</summary>
    public TimeSpan DeadRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Registers the built-in test handlers (test.effect …). For tests and diagnostics only.</summary>
    public bool EnableTestHandlers { get; set; }

    /// <summary>
    /// When not empty, this Workers process runs only these job types, and schedules only their recurring jobs: a pool
    /// dedicated to some queues (e.g. ingestion). Empty (the default): every registered handler.
    /// </summary>
    public List<string> HandledTypes { get; } = [];

    /// <summary>Settings for every type, unless <see cref="Types"/> overrides them.</summary>
    public JobTypeOptions Defaults { get; set; } = new();

    /// <summary>Per-type settings, keyed by job type.</summary>
    public Dictionary<string, JobTypeOptions> Types { get; } = new(StringComparer.Ordinal);

    /// <summary>Overrides of recurring jobs registered in code (schedule, enabled), or recurring jobs defined in configuration.</summary>
    public Dictionary<string, RecurringJobOptions> Recurring { get; } = new(StringComparer.Ordinal);

    public TimeSpan EffectiveHeartbeatInterval => HeartbeatInterval ?? LeaseDuration / 3;

    /// <summary>The settings of <paramref name="type"/>: its own, else the defaults, else the built-in values.</summary>
    public JobTypeSettings For(string type)
    {
        Types.TryGetValue(type, out var own);
        return new JobTypeSettings(
            own?.MaxAttempts ?? Defaults.MaxAttempts ?? JobTypeSettings.DefaultMaxAttempts,
            own?.BackoffBase ?? Defaults.BackoffBase ?? JobTypeSettings.DefaultBackoffBase,
            own?.BackoffCap ?? Defaults.BackoffCap ?? JobTypeSettings.DefaultBackoffCap,
            own?.MaxConcurrency ?? Defaults.MaxConcurrency,
            own?.MaxQueuedDepth ?? Defaults.MaxQueuedDepth,
            own?.RetryAfter ?? Defaults.RetryAfter ?? JobTypeSettings.DefaultRetryAfter,
            own?.BatchSize ?? Defaults.BatchSize);
    }

    private static bool IsJson(string text)
    {
        try
        {
            System.Text.Json.JsonElement.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            yield return new("The lease must last at least a second.", [nameof(LeaseDuration)]);
        }
        if (EffectiveHeartbeatInterval <= TimeSpan.Zero || EffectiveHeartbeatInterval >= LeaseDuration)
        {
            yield return new("The heartbeat must be positive and shorter than the lease.", [nameof(HeartbeatInterval)]);
        }
        foreach (var (name, value) in new[]
        {
            (nameof(PollInterval), PollInterval), (nameof(SchedulerInterval), SchedulerInterval),
            (nameof(MetricsRefreshInterval), MetricsRefreshInterval), (nameof(FinishedRetention), FinishedRetention),
            (nameof(DeadRetention), DeadRetention),
        })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return new($"{name} must be positive.", [name]);
            }
        }
        if (BatchTarget <= TimeSpan.Zero || BatchTarget >= LeaseDuration)
        {
            yield return new("BatchTarget must be positive and shorter than the lease.", [nameof(BatchTarget)]);
        }
        if (MaxBatchSize is < 1 or > JobTypeSettings.MaxBatchSize)
        {
            yield return new($"MaxBatchSize must be between 1 and {JobTypeSettings.MaxBatchSize}.", [nameof(MaxBatchSize)]);
        }
        if (ShutdownGracePeriod < TimeSpan.Zero)
        {
            yield return new("The shutdown grace period cannot be negative.", [nameof(ShutdownGracePeriod)]);
        }
        foreach (var error in Defaults.Validate($"{nameof(Defaults)}"))
        {
            yield return error;
        }
        foreach (var type in HandledTypes.Where(t => !JobRequest.IsValidType(t)))
        {
            yield return new($"'{type}' is not a valid job type.", [nameof(HandledTypes)]);
        }
        foreach (var (type, options) in Types)
        {
            if (!JobRequest.IsValidType(type))
            {
                yield return new($"'{type}' is not a valid job type.", [$"{nameof(Types)}:{type}"]);
            }
            foreach (var error in options.Validate($"{nameof(Types)}:{type}"))
            {
                yield return error;
            }
        }
        foreach (var (name, recurring) in Recurring)
        {
            if (recurring.Schedule is { } schedule && !CronSchedule.TryParse(schedule, out _, out var why))
            {
                yield return new($"Recurring job '{name}': {why}", [$"{nameof(Recurring)}:{name}:{nameof(RecurringJobOptions.Schedule)}"]);
            }
            if (recurring.Type is { } type && !JobRequest.IsValidType(type))
            {
                yield return new($"Recurring job '{name}': '{type}' is not a valid job type.", [$"{nameof(Recurring)}:{name}:{nameof(RecurringJobOptions.Type)}"]);
            }
            if (recurring.Payload is { } payload && !IsJson(payload))
            {
                yield return new($"Recurring job '{name}': the payload is not valid JSON.", [$"{nameof(Recurring)}:{name}:{nameof(RecurringJobOptions.Payload)}"]);
            }
        }
    }
}

/// <summary>Settings of one job type; unset values fall back to <see cref="JobsOptions.Defaults"/>.</summary>
public sealed class JobTypeOptions
{
    /// <summary>Attempts before the job becomes dead (built-in default 5).</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>The first retry's delay; each further retry doubles it, with jitter (built-in default 5 s).</summary>
    public TimeSpan? BackoffBase { get; set; }

    /// <summary>The longest retry delay (built-in default 10 min).</summary>
    public TimeSpan? BackoffCap { get; set; }

    /// <summary>At most this many jobs of the type run at once, across all workers. Unset: no limit.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>Enqueues are refused (<see cref="JobQueueFullException"/>) while this many jobs are queued. Unset: no limit.</summary>
    public int? MaxQueuedDepth { get; set; }

    /// <summary>The Retry-After hint given when the queue is full (built-in default 10 s).</summary>
    public TimeSpan? RetryAfter { get; set; }

    /// <summary>
    /// Up to this many jobs of the type run one after another in a single transaction, each handler in a savepoint of
    /// its own, and commit together. Effects stay exactly-once per job; what changes is that a job's effects become
    /// visible only when its batch commits, and a crash redoes the whole batch. Unset (the default): adaptive, sized
    /// from the type's measured time per job (<see cref="JobsOptions.BatchTarget"/>, <see cref="JobsOptions.MaxBatchSize"/>);
    /// 1 turns batching off for the type. At most 50, below PostgreSQL's 64-subtransaction cache.
    /// </summary>
    public int? BatchSize { get; set; }

    internal IEnumerable<ValidationResult> Validate(string path)
    {
        if (MaxAttempts is < 1 or > 1000)
        {
            yield return new("MaxAttempts must be between 1 and 1000.", [$"{path}:{nameof(MaxAttempts)}"]);
        }
        if (BackoffBase is { } backoffBase && backoffBase < TimeSpan.Zero)
        {
            yield return new("BackoffBase cannot be negative.", [$"{path}:{nameof(BackoffBase)}"]);
        }
        if (BackoffCap is { } cap && (cap < TimeSpan.Zero || (BackoffBase is { } b && cap < b)))
        {
            yield return new("BackoffCap cannot be negative or below BackoffBase.", [$"{path}:{nameof(BackoffCap)}"]);
        }
        if (MaxConcurrency is < 1)
        {
            yield return new("MaxConcurrency must be at least 1.", [$"{path}:{nameof(MaxConcurrency)}"]);
        }
        if (MaxQueuedDepth is < 1)
        {
            yield return new("MaxQueuedDepth must be at least 1.", [$"{path}:{nameof(MaxQueuedDepth)}"]);
        }
        if (RetryAfter is { } retryAfter && retryAfter < TimeSpan.Zero)
        {
            yield return new("RetryAfter cannot be negative.", [$"{path}:{nameof(RetryAfter)}"]);
        }
        if (BatchSize is < 1 or > JobTypeSettings.MaxBatchSize)
        {
            yield return new($"BatchSize must be between 1 and {JobTypeSettings.MaxBatchSize}.", [$"{path}:{nameof(BatchSize)}"]);
        }
    }
}

/// <summary>The resolved settings of a job type.</summary>
public sealed record JobTypeSettings(int MaxAttempts, TimeSpan BackoffBase, TimeSpan BackoffCap, int? MaxConcurrency,
    int? MaxQueuedDepth, TimeSpan RetryAfter, int? BatchSize = null)
{
    public const int DefaultMaxAttempts = 5;
    public const int MaxBatchSize = 50;
    public static readonly TimeSpan DefaultBackoffBase = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan DefaultBackoffCap = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(10);
}

/// <summary>Configuration of a recurring job: overrides one registered in code, or defines one.</summary>
public sealed class RecurringJobOptions
{
    /// <summary>"@every 30s", "every 5 minutes", a 5-field cron expression (UTC) or @hourly/@daily/@weekly/@monthly.</summary>
    public string? Schedule { get; set; }

    /// <summary>The job type to enqueue. Default: the recurring job's name.</summary>
    public string? Type { get; set; }

    /// <summary>The payload, as JSON text. Default: the payload registered in code, or <c>{}</c>.</summary>
    public string? Payload { get; set; }

    public bool Enabled { get; set; } = true;
}
