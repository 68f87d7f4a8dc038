using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using AspireAi.Core.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Api.RateLimiting;

/// <summary>The outcome of one request against its bucket.</summary>
/// <param name="Allowed">Whether the request may run.</param>
/// <param name="Remaining">Whole requests left in the bucket after this one.</param>
/// <param name="RetryAfter">When refused: how long until one request fits again.</param>
/// <param name="ResetAfter">How long until the bucket is full again.</param>
/// <param name="Local">Counted in this process because Redis was unavailable.</param>
public sealed record RateLimitDecision(bool Allowed, long Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter, bool Local);

/// <summary>
/// Token buckets in Redis, one atomic script per decision, so every Api instance draws from the same bucket. While
/// Redis is unavailable, buckets are kept in process with 1/<see cref="RateLimitOptions.InstanceCount"/> of each
/// limit (logged once per outage and counted in the <c>aspireai.rate_limit.local_decisions</c> metric); the first
/// decision after the <see cref="RedisFallback"/> pause goes back to Redis.
/// </summary>
public sealed partial class TokenBuckets : IDisposable
{
    public const string MeterName = "AspireAi.RateLimiting";

    // Redis' own clock, so instances with skewed clocks still agree. Tokens are fractional: stored with tostring,
    // returned rounded down. Returns {allowed, remaining, retry_ms, reset_ms}.
    private const string TakeScript = """
        local capacity = tonumber(ARGV[1])
        local per_ms = tonumber(ARGV[2]) / 60000
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1])
        local at = tonumber(state[2])
        if tokens == nil or at == nil then tokens = capacity; at = now end
        tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
        local allowed = 0
        local retry = 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        else
          retry = math.ceil((1 - tokens) / per_ms)
        end
        local reset = math.ceil((capacity - tokens) / per_ms)
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], reset + 1000)
        return {allowed, math.floor(tokens), retry, reset}
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly IOptions<RateLimitOptions> _options;
    private readonly ILogger<TokenBuckets> _logger;
    private readonly RedisFallback _fallback;
    private readonly PartitionedRateLimiter<LocalBucket> _local;
    private readonly Counter<long> _decisions;
    private readonly Counter<long> _localDecisions;

    public TokenBuckets(IConnectionMultiplexer redis, IOptions<RateLimitOptions> options, TimeProvider time, IMeterFactory meters, ILogger<TokenBuckets> logger)
    {
        _redis = redis;
        _options = options;
        _logger = logger;
        _fallback = new RedisFallback(time, timeout: TimeSpan.FromMilliseconds(500), pause: TimeSpan.FromSeconds(15));
        _local = PartitionedRateLimiter.Create<LocalBucket, string>(bucket => RateLimitPartition.GetTokenBucketLimiter(bucket.Key, _ => bucket.Options));
        var meter = meters.Create(MeterName);
        _decisions = meter.CreateCounter<long>("aspireai.rate_limit.decisions", description: "Rate-limit decisions, by route class and outcome.");
        _localDecisions = meter.CreateCounter<long>("aspireai.rate_limit.local_decisions",
            description: "Decisions taken in process because Redis was unavailable.");
    }

    /// <summary>How long the in-process fallback lasts before Redis is tried again.</summary>
    public TimeSpan OutagePause => _fallback.Pause;

    /// <summary>The Redis key of a caller's bucket: class and an opaque caller id, nothing personal.</summary>
    public static string Key(RateLimitClass routeClass, string caller) => $"ratelimit:{routeClass.ToString().ToLowerInvariant()}:{caller}";

    /// <summary>
    /// Takes one request from the bucket; null when Redis is unavailable and <paramref name="failClosed"/> says not
    /// to count in process.
    /// </summary>
    public async Task<RateLimitDecision?> TakeAsync(RateLimitClass routeClass, string caller, TokenBucketLimit limit, bool failClosed, CancellationToken cancellationToken)
    {
        var key = Key(routeClass, caller);
        var (succeeded, result) = await _fallback.TryAsync(
            async token => (RedisResult[]?)await _redis.GetDatabase().ScriptEvaluateAsync(TakeScript, [key], [limit.Capacity, limit.PerMinute])
                .WaitAsync(token).ConfigureAwait(false) ?? throw new RedisException("The rate-limit script returned no array."),
            error => LogRedisUnavailable(error, (int)_fallback.Pause.TotalSeconds, _options.Value.InstanceCount),
            cancellationToken).ConfigureAwait(false);
        var tags = new TagList { { "route_class", routeClass.ToString() } };
        RateLimitDecision? decision;
        if (succeeded)
        {
            decision = new RateLimitDecision((long)result[0] == 1, (long)result[1],
                TimeSpan.FromMilliseconds((long)result[2]), TimeSpan.FromMilliseconds((long)result[3]), Local: false);
        }
        else
        {
            _localDecisions.Add(1, tags);
            decision = failClosed ? null : TakeLocally(key, limit);
        }
        tags.Add("outcome", decision is null ? "unavailable" : decision.Allowed ? "allowed" : "limited");
        _decisions.Add(1, tags);
        return decision;
    }

    private RateLimitDecision TakeLocally(string key, TokenBucketLimit limit)
    {
        var share = _options.Value.InstanceCount;
        var capacity = Math.Max(1, limit.Capacity / share);
        var perMinute = Math.Max(1, limit.PerMinute / share);
        var period = TimeSpan.FromMinutes(1) / perMinute;
        var bucket = new LocalBucket($"{key}:{capacity}:{perMinute}", new TokenBucketRateLimiterOptions
        {
            TokenLimit = capacity,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
        using var lease = _local.AttemptAcquire(bucket);
        var remaining = _local.GetStatistics(bucket)?.CurrentAvailablePermits ?? 0;
        var retry = lease.IsAcquired ? TimeSpan.Zero : lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : period;
        return new RateLimitDecision(lease.IsAcquired, remaining, retry, period * (capacity - remaining), Local: true);
    }

    public void Dispose() => _local.Dispose();

    private sealed record LocalBucket(string Key, TokenBucketRateLimiterOptions Options);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Redis is unavailable for rate limits; counting in this process (1/{InstanceCount} of each limit) for the next {Seconds} s")]
    private partial void LogRedisUnavailable(Exception error, int seconds, int instanceCount);
}
