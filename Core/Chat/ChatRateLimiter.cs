using System.Collections.Concurrent;
using AspireAi.Core.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Core.Chat;

/// <summary>
/// Per-user request limit for chat sends: a fixed one-minute window counted in Redis, so every Api instance
/// shares one bucket per user. When Redis is unreachable the limit is counted in this process for a while:
/// chat keeps working, still limited, just per instance.
/// </summary>
public sealed partial class ChatRateLimiter(IConnectionMultiplexer redis, IOptions<ChatSettings> settings, TimeProvider time, ILogger<ChatRateLimiter> logger)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // Returns the count in the current window and the window's remaining milliseconds.
    private const string CountScript = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
        return {count, ttl}
        """;

    private readonly ConcurrentDictionary<Guid, (long WindowStart, int Count)> _local = new();
    private readonly RedisFallback _redis = new(time, timeout: TimeSpan.FromMilliseconds(500), pause: TimeSpan.FromSeconds(15));

    /// <summary>Counts one request; returns null when allowed, otherwise how long until the window resets.</summary>
    public async Task<TimeSpan?> TryAcquireAsync(Guid userId, CancellationToken cancellationToken)
    {
        var limit = settings.Value.RequestsPerMinute;
        if (limit <= 0)
        {
            return null;
        }
        var (counted, result) = await _redis.TryAsync(
            async token => (RedisResult[]?)await redis.GetDatabase().ScriptEvaluateAsync(CountScript, [Key(userId)], [(long)Window.TotalMilliseconds])
                .WaitAsync(token).ConfigureAwait(false) ?? throw new RedisException("The rate-limit script returned no array."),
            error => LogRedisUnavailable(error, (int)_redis.Pause.TotalSeconds), cancellationToken).ConfigureAwait(false);
        if (counted)
        {
            return (long)result[0] > limit ? TimeSpan.FromMilliseconds((long)result[1]) : null;
        }
        return CountLocally(userId, limit);
    }

    /// <summary>The key names the user only by id: Redis never holds anything personal.</summary>
    public static string Key(Guid userId) => $"chat:rate:{userId:N}";

    private TimeSpan? CountLocally(Guid userId, int limit)
    {
        var now = time.GetUtcNow().UtcTicks;
        var entry = _local.AddOrUpdate(userId,
            _ => (now, 1),
            (_, e) => now - e.WindowStart >= Window.Ticks ? (now, 1) : (e.WindowStart, e.Count + 1));
        return entry.Count > limit ? TimeSpan.FromTicks(entry.WindowStart + Window.Ticks - now) : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable for chat rate limits; counting in this process for the next {Seconds} s")]
    private partial void LogRedisUnavailable(Exception error, int seconds);
}
