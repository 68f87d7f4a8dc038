using System.Diagnostics;
using System.Net;
using AspireAi.Api.RateLimiting;
using AspireAi.Tests.RateLimiting;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using AspireAi.Core.Memory;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Tests.Redis;

/// <summary>A real Redis killed under the features: they degrade within their short timeouts, then return to Redis.</summary>
public sealed class RedisFailureTests
{
    // Longer than the 15 s pause RedisFallback leaves Redis alone after a failure.
    private static readonly TimeSpan PastThePause = TimeSpan.FromSeconds(16);

    [Fact]
    public async Task Rate_limits_count_in_process_with_the_instance_share_while_redis_is_dead_and_in_redis_again_after_it_restarts()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = await RedisTestClients.ConnectAsync(server.ConnectionString);
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        using var metrics = new RateLimitTestClients.MetricsRecorder();
        // Two instances: each keeps half of the bucket while Redis is down.
        using var buckets = RateLimitTestClients.Buckets(redis, clock, instanceCount: 2, metrics.Factory);
        var limit = new TokenBucketLimit { Capacity = 4, PerMinute = 1 };
        var db = redis.GetDatabase();
        Assert.False((await buckets.TakeAsync(RateLimitClass.Chat, "user:before", limit, false, CancellationToken.None))!.Local);

        await server.KillAsync();
        var watch = Stopwatch.StartNew();
        var during = new List<RateLimitDecision?>();
        for (var i = 0; i < 3; i++)
        {
            during.Add(await buckets.TakeAsync(RateLimitClass.Chat, "user:during", limit, false, CancellationToken.None));
        }
        var closed = await buckets.TakeAsync(RateLimitClass.Auth, "ip:during", limit, failClosed: true, CancellationToken.None);
        var elapsed = watch.Elapsed;

        Assert.All(during, d => Assert.True(d!.Local));
        Assert.Equal([true, true, false], during.Select(d => d!.Allowed));
        Assert.Equal([1L, 0L, 0L], during.Select(d => d!.Remaining));
        Assert.True(during[2]!.RetryAfter > TimeSpan.Zero);
        // Auth set to fail closed: no decision at all, the middleware answers 503.
        Assert.Null(closed);
        Assert.True(elapsed < TimeSpan.FromSeconds(1.5), $"Requests waited {elapsed} on a dead Redis.");
        Assert.Equal(4, metrics.Sum("aspireai.rate_limit.local_decisions"));
        Assert.Equal(1, metrics.Sum("aspireai.rate_limit.decisions", ("outcome", "unavailable")));

        await server.StartAsync();
        await RedisTestClients.WaitUntilConnectedAsync(redis);
        clock.Now += PastThePause;
        var after = await buckets.TakeAsync(RateLimitClass.Chat, "user:after", limit, false, CancellationToken.None);
        Assert.Equal((true, false, 3L), (after!.Allowed, after.Local, after.Remaining));
        Assert.True(await db.KeyExistsAsync(TokenBuckets.Key(RateLimitClass.Chat, "user:after")));
        // Counted in process only: the failed call was not replayed when Redis came back.
        Assert.False(await db.KeyExistsAsync(TokenBuckets.Key(RateLimitClass.Chat, "user:during")));
    }

    [Fact]
    public async Task Sign_in_throttling_and_session_revocation_degrade_while_redis_is_dead_and_use_redis_again_after_it_restarts()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = await RedisTestClients.ConnectAsync(server.ConnectionString);
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var options = Options.Create(new AuthOptions { MaxLoginFailuresPerAccount = 1 });
        var throttle = new LoginThrottle(redis, options, clock, NullLogger<LoginThrottle>.Instance);
        var revocations = new SessionRevocations(redis, options, clock, NullLogger<SessionRevocations>.Instance);
        var db = redis.GetDatabase();
        var session = Guid.NewGuid();
        Assert.True(await revocations.RevokeAsync(session));

        await server.KillAsync();
        var watch = Stopwatch.StartNew();
        var allowed = await throttle.AcquireAsync("down@example.com", IPAddress.Loopback);
        var refused = await throttle.AcquireAsync("down@example.com", IPAddress.Loopback);
        // Cannot be answered without Redis: the token stays valid until it expires rather than every request failing.
        var revokedDuringOutage = await revocations.IsRevokedAsync(session);
        var recordedDuringOutage = await revocations.RevokeAsync(Guid.NewGuid());
        var elapsed = watch.Elapsed;

        Assert.True(allowed.Allowed);
        Assert.False(refused.Allowed);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));
        Assert.False(revokedDuringOutage);
        Assert.False(recordedDuringOutage);
        Assert.True(elapsed < TimeSpan.FromSeconds(2.5), $"Sign-in and token checks waited {elapsed} on a dead Redis.");

        await server.StartAsync();
        await RedisTestClients.WaitUntilConnectedAsync(redis);
        clock.Now += PastThePause;
        var later = Guid.NewGuid();
        Assert.True(await revocations.RevokeAsync(later));
        Assert.True(await revocations.IsRevokedAsync(later));
        Assert.InRange((await db.KeyTimeToLiveAsync(SessionRevocations.Key(later)))!.Value, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15.5));
        var lease = await throttle.AcquireAsync("up@example.com", IPAddress.Loopback);
        Assert.True(lease.Allowed);
        Assert.Equal("1", await db.StringGetAsync(LoginThrottle.AccountKey("up@example.com")));
    }

    [Fact]
    public async Task Session_memory_reads_fail_fast_on_a_dead_redis_instead_of_hanging_and_work_again_after_a_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = await RedisTestClients.ConnectAsync(server.ConnectionString);
        var store = new SessionMemoryStore(redis);
        var user = Guid.NewGuid();
        var entry = new SessionMemoryEntry(Guid.NewGuid(), MemoryType.Semantic, "Lives in Lisbon", 0.5f, DateTimeOffset.UtcNow, null, [1f], "test-model");
        await store.UpsertAsync(user, "s", "hash", entry, DateTimeOffset.UtcNow.AddMinutes(10), null, CancellationToken.None);

        await server.KillAsync();
        var watch = Stopwatch.StartNew();
        var error = await Record.ExceptionAsync(() => store.ReadAsync(user, "s", CancellationToken.None));
        var elapsed = watch.Elapsed;

        // The callers (retrieval, the memory writer) catch exactly these and carry on without session memory.
        Assert.True(error is RedisException or TimeoutException, $"Unexpected {error?.GetType()}");
        Assert.True(elapsed < TimeSpan.FromSeconds(4), $"A read waited {elapsed} on a dead Redis.");

        await server.StartAsync();
        await RedisTestClients.WaitUntilConnectedAsync(redis);
        await store.UpsertAsync(user, "s", "hash", entry, DateTimeOffset.UtcNow.AddMinutes(10), null, CancellationToken.None);
        Assert.Equal(entry.Id, Assert.Single(await store.ReadAsync(user, "s", CancellationToken.None)).Id);
    }
}
