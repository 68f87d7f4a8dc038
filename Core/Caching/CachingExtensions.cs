using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspireAi.Core.Caching;

public static class CachingExtensions
{
    public const string MeterName = "AspireAi.Caching";

    /// <summary>
    /// HybridCache with Redis (the service's own Aspire multiplexer) as its second level behind
    /// <see cref="FailSoftDistributedCache"/>, and <see cref="SharedCache"/> for invalidation across instances.
    /// Needs the Redis client (<c>AddRedisClient</c>) registered.
    /// </summary>
    public static IHostApplicationBuilder AddSharedCache(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(s => s.ServiceType == typeof(SharedCache)))
        {
            return builder;
        }
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddOptions<RedisCacheOptions>().Configure<IServiceProvider>((options, provider) =>
        {
            options.InstanceName = "cache:";
            options.ConnectionMultiplexerFactory = () => Task.FromResult(provider.GetRequiredService<IConnectionMultiplexer>());
        });
        services.TryAddSingleton<IDistributedCache>(provider => new FailSoftDistributedCache(
            ActivatorUtilities.CreateInstance<RedisCache>(provider),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<IMeterFactory>(),
            provider.GetRequiredService<ILogger<FailSoftDistributedCache>>()));
        services.AddHybridCache(options =>
        {
            // Defaults for calls that pass no options; SharedCache spreads each entry's expiry (jitter) itself.
            options.DefaultEntryOptions = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(5), LocalCacheExpiration = TimeSpan.FromMinutes(1) };
            options.MaximumPayloadBytes = 1024 * 1024;
        });
        services.AddSingleton<SharedCache>();
        services.AddHostedService(provider => provider.GetRequiredService<SharedCache>());
        return builder;
    }
}
