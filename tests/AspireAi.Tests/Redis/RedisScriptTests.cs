using System.Net;
using AspireAi.Api.RateLimiting;
using AspireAi.Tests.RateLimiting;
using AspireAi.Core.Identity;
using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Tests.Redis;

/// <summary>Our Lua scripts against real Redis: the keys they leave behind, their values and TTLs.</summary>
public sealed class RedisScriptTests
{
    [Fact]
    public async Task The_login_throttle_reserves_both_budgets_for_the_window_and_refunds_give_them_back()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var db = redis.GetDatabase();
        var throttle = new LoginThrottle(redis, Options.Create(new AuthOptions { MaxLoginFailuresPerAccount = 2, MaxLoginFailuresPerIp = 5 }),
            TimeProvider.System, NullLogger<LoginThrottle>.Instance);
        var email = $"{Guid.NewGuid():N}@example.com";
        var address = new IPAddress(Random.Shared.NextInt64(0x0A000000, 0x0AFFFFFF));
        RedisKey account = LoginThrottle.AccountKey(email), ip = LoginThrottle.AddressKey(address);

        var first = await throttle.AcquireAsync(email, address);
        var second = await throttle.AcquireAsync(email, address);
        var third = await throttle.AcquireAsync(email, address);

        Assert.True(first.Allowed && second.Allowed);
        Assert.False(third.Allowed);
        Assert.InRange(third.RetryAfter, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));
        Assert.Equal(("2", "2"), ((string?)await db.StringGetAsync(account), (string?)await db.StringGetAsync(ip)));
        Assert.InRange((await db.KeyTimeToLiveAsync(ip))!.Value, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));

        await throttle.RefundAsync(first);
        Assert.Equal("1", await db.StringGetAsync(account));
        await throttle.RefundAsync(second);
        Assert.False(await db.KeyExistsAsync(account));
        Assert.False(await db.KeyExistsAsync(ip));
    }

    [Fact]
    public async Task A_token_bucket_takes_one_token_per_decision_refills_with_time_and_expires_once_it_would_be_full()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        using var buckets = RateLimitTestClients.Buckets(redis);
        var caller = $"user:{Guid.NewGuid()}";
        // 2 tokens, refilled at 6 a minute: one every 10 s.
        var limit = new TokenBucketLimit { Capacity = 2, PerMinute = 6 };

        var first = await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, failClosed: false, CancellationToken.None);
        var second = await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, failClosed: false, CancellationToken.None);
        var third = await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, failClosed: false, CancellationToken.None);

        Assert.Equal((true, 1L, false), (first!.Allowed, first.Remaining, first.Local));
        Assert.Equal((true, 0L), (second!.Allowed, second.Remaining));
        Assert.False(third!.Allowed);
        Assert.InRange(third.RetryAfter, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(10));
        Assert.InRange(third.ResetAfter, TimeSpan.FromSeconds(19), TimeSpan.FromSeconds(20));
        var db = redis.GetDatabase();
        var key = TokenBuckets.Key(RateLimitClass.Chat, caller);
        Assert.InRange((double)await db.HashGetAsync(key, "tokens"), 0, 0.1);
        Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromSeconds(19), TimeSpan.FromSeconds(21));

        // A fast refill (1 token a millisecond) has the bucket allow again a moment later.
        var fast = new TokenBucketLimit { Capacity = 1, PerMinute = 60_000 };
        var other = $"user:{Guid.NewGuid()}";
        Assert.True((await buckets.TakeAsync(RateLimitClass.Default, other, fast, false, CancellationToken.None))!.Allowed);
        await Task.Delay(20);
        Assert.True((await buckets.TakeAsync(RateLimitClass.Default, other, fast, false, CancellationToken.None))!.Allowed);
    }

    [Fact]
    public async Task A_session_memory_upsert_replaces_the_superseded_field_and_moves_the_session_expiry_in_one_step()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var store = new SessionMemoryStore(redis);
        var user = Guid.NewGuid();
        var key = SessionMemoryStore.KeyOf(user, "s1");
        var now = DateTimeOffset.UtcNow;
        var first = new SessionMemoryEntry(Guid.NewGuid(), MemoryType.Semantic, "Likes tea", 0.5f, now, null, [0.25f, -1f], "test-model");
        var second = first with { Id = Guid.NewGuid(), Text = "Likes green tea" };

        await store.UpsertAsync(user, "s1", "hash-a", first, now.AddMinutes(10), removedHash: null, CancellationToken.None);
        await store.UpsertAsync(user, "s1", "hash-b", second, now.AddMinutes(20), removedHash: "hash-a", CancellationToken.None);

        var db = redis.GetDatabase();
        Assert.Equal(["hash-b"], (await db.HashKeysAsync(key)).Select(f => f.ToString()));
        Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
        var read = Assert.Single(await store.ReadAsync(user, "s1", CancellationToken.None));
        Assert.Equal((second.Id, "Likes green tea"), (read.Id, read.Text));
        Assert.Equal([0.25f, -1f], read.Embedding);

        await store.UpsertAsync(user, "s2", "hash-c", first, now.AddMinutes(10), removedHash: null, CancellationToken.None);
        Assert.Equal(2, await store.EraseAsync(user, CancellationToken.None));
        Assert.Empty(await store.KeysAsync(user, CancellationToken.None));
    }

    [Fact]
    public async Task Our_scripts_still_run_after_a_script_flush_and_after_a_server_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = await RedisTestClients.ConnectAsync(server.ConnectionString);
        using var buckets = RateLimitTestClients.Buckets(redis);
        var limit = new TokenBucketLimit { Capacity = 100, PerMinute = 1 };
        var caller = $"user:{Guid.NewGuid()}";
        var key = TokenBuckets.Key(RateLimitClass.Chat, caller);
        var db = redis.GetDatabase();

        await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, false, CancellationToken.None);
        // The server forgets every script; StackExchange.Redis answers NOSCRIPT by sending the script again.
        await redis.GetServers().Single().ScriptFlushAsync();
        var second = await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, false, CancellationToken.None);
        Assert.Equal((98L, false), (second!.Remaining, second.Local));

        // A clean stop writes the append-only file, so the count survives; the script cache does not.
        await server.StopAsync();
        await server.StartAsync();
        await RedisTestClients.WaitUntilConnectedAsync(redis);
        var third = await buckets.TakeAsync(RateLimitClass.Chat, caller, limit, false, CancellationToken.None);

        Assert.Equal((97L, false), (third!.Remaining, third.Local));
        Assert.InRange((double)await db.HashGetAsync(key, "tokens"), 97, 97.2);
    }
}
