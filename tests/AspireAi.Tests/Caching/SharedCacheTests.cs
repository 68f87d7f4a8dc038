using System.Diagnostics;
using System.Diagnostics.Metrics;
using AspireAi.Core.Caching;
using AspireAi.Offline;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Redis;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AspireAi.Tests.Caching;

/// <summary>HybridCache over the real Redis: shared between instances, invalidated everywhere, and never failing a caller.</summary>
public sealed class SharedCacheTests
{
    [Fact]
    public async Task A_query_embedding_is_computed_once_for_every_instance_and_batches_are_not_cached()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        using var one = await StartInstanceAsync(redis);
        using var two = await StartInstanceAsync(redis);
        using var inner = new CountingGenerator();
        using var first = new CachingEmbeddingGenerator(inner, one.Services.GetRequiredService<SharedCache>(), TimeSpan.FromMinutes(5));
        using var second = new CachingEmbeddingGenerator(inner, two.Services.GetRequiredService<SharedCache>(), TimeSpan.FromMinutes(5));
        var query = $"Where does the user live? {Guid.NewGuid()}";

        var computed = await first.GenerateAsync([query]);
        var again = await first.GenerateAsync([query]);
        // HybridCache writes the second level in the background once the first caller has its value.
        var pattern = $"cache:embedding:*:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(query)))}";
        var keys = await RedisTestClients.KeysAsync(redis, pattern);
        for (var waited = 0; keys.Count == 0 && waited < 5_000; waited += 20)
        {
            await Task.Delay(20);
            keys = await RedisTestClients.KeysAsync(redis, pattern);
        }
        var fromRedis = await second.GenerateAsync([query]);
        await first.GenerateAsync(["a", "b"]);
        await second.GenerateAsync(["a", "b"]);

        Assert.Equal(computed[0].Vector.ToArray(), again[0].Vector.ToArray());
        Assert.Equal(computed[0].Vector.ToArray(), fromRedis[0].Vector.ToArray());
        Assert.Equal(3, inner.Calls);
        // The key names the model scope and a hash of the text, never the text.
        Assert.Single(keys);
        Assert.DoesNotContain("Where", keys[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalidation_reaches_the_in_process_copy_of_every_instance()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        using var one = await StartInstanceAsync(redis);
        using var two = await StartInstanceAsync(redis);
        var key = $"test:{Guid.NewGuid()}";
        var local = new Microsoft.Extensions.Caching.Hybrid.HybridCacheEntryOptions
        {
            Expiration = TimeSpan.FromMinutes(5),
            LocalCacheExpiration = TimeSpan.FromMinutes(5),
            Flags = Microsoft.Extensions.Caching.Hybrid.HybridCacheEntryFlags.DisableDistributedCache,
        };
        var cacheOne = one.Services.GetRequiredService<SharedCache>();
        var cacheTwo = two.Services.GetRequiredService<SharedCache>();
        Assert.Equal("v1", await cacheTwo.GetOrCreateAsync(key, _ => ValueTask.FromResult("v1"), local, CancellationToken.None));

        await cacheOne.InvalidateAsync(key);

        var seen = "v1";
        for (var waited = TimeSpan.Zero; seen == "v1" && waited < TimeSpan.FromSeconds(5); waited += TimeSpan.FromMilliseconds(20))
        {
            await Task.Delay(20);
            seen = await cacheTwo.GetOrCreateAsync(key, _ => ValueTask.FromResult("v2"), local, CancellationToken.None);
        }
        Assert.Equal("v2", seen);
    }

    [Fact]
    public async Task With_redis_killed_the_cache_serves_from_the_source_quickly_and_uses_redis_again_after_a_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = await RedisTestClients.ConnectAsync(server.ConnectionString);
        using var instance = await StartInstanceAsync(redis);
        var meters = instance.Services.GetRequiredService<IMeterFactory>();
        long bypassed = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CachingExtensions.MeterName && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref bypassed, value));
        listener.Start();
        using var inner = new CountingGenerator();
        using var generator = new CachingEmbeddingGenerator(inner, instance.Services.GetRequiredService<SharedCache>(), TimeSpan.FromMinutes(5));

        await server.KillAsync();
        var watch = Stopwatch.StartNew();
        var during = await generator.GenerateAsync(["asked while redis is down"]);
        var other = await generator.GenerateAsync(["another question while redis is down"]);
        var elapsed = watch.Elapsed;

        Assert.Equal(384, during[0].Vector.Length);
        Assert.Equal(384, other[0].Vector.Length);
        Assert.Equal(2, inner.Calls);
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"Cache calls waited {elapsed} on a dead Redis.");
        Assert.True(Interlocked.Read(ref bypassed) > 0);

        await server.StartAsync();
        await RedisTestClients.WaitUntilConnectedAsync(redis);
        // Past the 15 s pause after a failure, the next miss writes to Redis again.
        var found = false;
        for (var waited = TimeSpan.Zero; !found && waited < TimeSpan.FromSeconds(25); waited += TimeSpan.FromMilliseconds(500))
        {
            await generator.GenerateAsync([$"after the restart {Guid.NewGuid()}"]);
            found = await AnyKeyAsync(redis, "cache:embedding:*");
            if (!found)
            {
                await Task.Delay(500);
            }
        }
        Assert.True(found, "Nothing was written to Redis after it came back.");
    }

    // This test's own look (SCAN) can time out just after the restart, with the whole suite on two cores (it did once,
    // at 2.1 s against the client's 2 s): that only means nothing was seen yet, and the loop looks again.
    private static async Task<bool> AnyKeyAsync(IConnectionMultiplexer redis, string pattern)
    {
        try
        {
            return (await RedisTestClients.KeysAsync(redis, pattern)).Count > 0;
        }
        catch (Exception ex) when (ex is RedisTimeoutException or RedisConnectionException)
        {
            return false;
        }
    }

    private static async Task<IHost> StartInstanceAsync(IConnectionMultiplexer redis)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(redis);
        builder.AddSharedCache();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    internal sealed class CountingGenerator : IEmbeddingGenerator<string, Embedding<float>>
    {
        private readonly OfflineEmbeddingGenerator _inner = new();
        private int _calls;

        public int Calls => _calls;

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
            IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            return _inner.GenerateAsync(values, options, cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => _inner.GetService(serviceType, serviceKey);

        public void Dispose() => _inner.Dispose();
    }
}
