using System.ComponentModel.DataAnnotations;

namespace AspireAi.Api.RateLimiting;

/// <summary>The route classes limits are counted per: each has its own bucket per caller.</summary>
public enum RateLimitClass
{
    Default,
    Auth,
    Chat,
    MemoryWrites,
    Documents,
    Admin,
}

/// <summary>
/// Request limits (section "RateLimits"): token buckets per caller and route class, shared by every Api instance
/// through Redis. A caller's plan comes from its organisation (<see cref="OrgPlans"/>), else <see cref="DefaultPlan"/>;
/// callers that are not signed in (sign-in, refresh) use <see cref="AnonymousPlan"/> and are counted by address.
/// </summary>
public sealed class RateLimitOptions : IValidatableObject
{
    public const string SectionName = "RateLimits";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How many Api instances run. While Redis is down each instance counts in process with this share of every
    /// limit, so the cluster as a whole stays near the configured limit.
    /// </summary>
    [Range(1, 1_000)] public int InstanceCount { get; set; } = 1;

    /// <summary>While Redis is down, refuse auth routes (503) instead of counting them per instance.</summary>
    public bool AuthFailClosed { get; set; }

    [Required] public string DefaultPlan { get; set; } = "standard";

    [Required] public string AnonymousPlan { get; set; } = "standard";

    /// <summary>Organisation id → plan name.</summary>
    public Dictionary<string, string> OrgPlans { get; } = new(StringComparer.OrdinalIgnoreCase);

    public Dictionary<string, RateLimitPlan> Plans { get; } = new(StringComparer.Ordinal) { ["standard"] = new() };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, member) in new[] { (DefaultPlan, nameof(DefaultPlan)), (AnonymousPlan, nameof(AnonymousPlan)) })
        {
            if (!Plans.ContainsKey(name))
            {
                yield return new($"The plan '{name}' is not defined under {SectionName}:{nameof(Plans)}.", [member]);
            }
        }
        foreach (var (org, plan) in OrgPlans)
        {
            if (!Guid.TryParse(org, out _))
            {
                yield return new($"'{org}' is not an organisation id (a uuid).", [$"{nameof(OrgPlans)}:{org}"]);
            }
            if (!Plans.ContainsKey(plan))
            {
                yield return new($"The plan '{plan}' of organisation {org} is not defined under {SectionName}:{nameof(Plans)}.", [$"{nameof(OrgPlans)}:{org}"]);
            }
        }
        foreach (var (name, plan) in Plans)
        {
            foreach (var routeClass in Enum.GetValues<RateLimitClass>())
            {
                var limit = plan.Limit(routeClass);
                if (limit.Capacity < 1 || limit.PerMinute < 1)
                {
                    yield return new($"Plan '{name}', {routeClass}: the capacity and the refill per minute must be at least 1.",
                        [$"{nameof(Plans)}:{name}:{routeClass}"]);
                }
            }
        }
    }

    /// <summary>The plan of a caller's organisation (null: not signed in).</summary>
    public RateLimitPlan PlanFor(string? orgId, out string planName)
    {
        planName = orgId is null ? AnonymousPlan : OrgPlans.TryGetValue(orgId, out var plan) ? plan : DefaultPlan;
        return Plans[planName];
    }
}

/// <summary>One bucket per route class. The defaults are the "standard" plan's.</summary>
public sealed class RateLimitPlan
{
    /// <summary>Sign-in, refresh and registration, counted per client address.</summary>
    public TokenBucketLimit Auth { get; set; } = new() { Capacity = 20, PerMinute = 20 };
    public TokenBucketLimit Chat { get; set; } = new() { Capacity = 30, PerMinute = 30 };
    public TokenBucketLimit MemoryWrites { get; set; } = new() { Capacity = 60, PerMinute = 60 };
    public TokenBucketLimit Documents { get; set; } = new() { Capacity = 30, PerMinute = 30 };
    public TokenBucketLimit Admin { get; set; } = new() { Capacity = 300, PerMinute = 300 };
    public TokenBucketLimit Default { get; set; } = new() { Capacity = 600, PerMinute = 600 };

    public TokenBucketLimit Limit(RateLimitClass routeClass) => routeClass switch
    {
        RateLimitClass.Auth => Auth,
        RateLimitClass.Chat => Chat,
        RateLimitClass.MemoryWrites => MemoryWrites,
        RateLimitClass.Documents => Documents,
        RateLimitClass.Admin => Admin,
        _ => Default,
    };
}

/// <summary>A bucket of <see cref="Capacity"/> requests (the burst) that refills at <see cref="PerMinute"/> a minute.</summary>
public sealed class TokenBucketLimit
{
    public int Capacity { get; set; }
    public int PerMinute { get; set; }

    /// <summary>Seconds an empty bucket takes to fill: the window of the RateLimit-Policy header.</summary>
    public int WindowSeconds => (int)Math.Ceiling(Capacity * 60.0 / PerMinute);
}
