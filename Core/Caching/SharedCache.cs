using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspireAi.Core.Caching;

/// <summary>
/// The app's hot-read cache: <see cref="HybridCache"/> (process memory, then Redis) with stampede protection, plus
/// invalidation that reaches every instance at once. HybridCache removes an entry from its own process and Redis;
/// the other instances hear of it on a Redis channel and drop their in-process copy. While Redis is down a message
/// can be lost: the in-process lifetime (<see cref="HybridCacheEntryOptions.LocalCacheExpiration"/>) bounds how
/// stale another instance can be.
/// </summary>
public sealed partial class SharedCache(HybridCache cache, IConnectionMultiplexer redis, ILogger<SharedCache> logger) : BackgroundService
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("aspireai:cache:invalidate");

    /// <summary>The underlying HybridCache, for callers that need its full API.</summary>
    public HybridCache Cache => cache;

    /// <summary>
    /// The cached value of <paramref name="key"/>, or the factory's (run once per key, however many callers wait).
    /// Lifetimes are spread by ±10% so entries cached together do not all expire in the same instant.
    /// </summary>
    public ValueTask<T> GetOrCreateAsync<T>(string key, Func<CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var jitter = 0.9 + Random.Shared.NextDouble() * 0.2;
        var jittered = new HybridCacheEntryOptions
        {
            Expiration = options.Expiration * jitter,
            LocalCacheExpiration = options.LocalCacheExpiration * jitter,
            Flags = options.Flags,
        };
        return cache.GetOrCreateAsync(key, factory, jittered, tags: null, cancellationToken);
    }

    /// <summary>Removes <paramref name="key"/> here, in Redis, and (by a message) in every other instance's memory.</summary>
    public async Task InvalidateAsync(string key, CancellationToken cancellationToken = default)
    {
        await cache.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, key).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogPublishFailed(ex, key);
        }
    }

    /// <summary>Subscribes to invalidations, retrying until Redis answers; the client keeps the subscription across reconnects.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var retry = new PeriodicTimer(TimeSpan.FromSeconds(5));
        do
        {
            try
            {
                var queue = await redis.GetSubscriber().SubscribeAsync(Channel).ConfigureAwait(false);
                queue.OnMessage(async message =>
                {
                    if (message.Message.HasValue)
                    {
                        await cache.RemoveAsync(message.Message.ToString(), CancellationToken.None).ConfigureAwait(false);
                    }
                });
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogSubscribeFailed(ex);
            }
        }
        while (await retry.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell other instances to drop cache entry {Key}; their copies expire by themselves")]
    private partial void LogPublishFailed(Exception error, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not subscribe to cache invalidations; retrying in 5 s")]
    private partial void LogSubscribeFailed(Exception error);
}
