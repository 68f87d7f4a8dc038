using System.Collections.Concurrent;
using System.Diagnostics;
using AspireAi.LocalServers;
using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Redis;

public sealed class RedisFailureTests
{
    [Fact]
    public async Task A_wrong_password_fails_with_a_clear_authentication_error_without_waiting_for_the_timeout()
    {
        var servers = await TestServers.GetAsync();
        var endpoint = servers.RedisConnectionString.Split(',')[0];
        await using var redis = RedisTestClients.Create($"{endpoint},password=not-the-password", o => o.CommandTimeout = TimeSpan.FromSeconds(30));

        var first = await Assert.ThrowsAsync<RedisAuthenticationException>(() => redis.PingAsync());
        var watch = Stopwatch.StartNew();
        var second = await Assert.ThrowsAsync<RedisAuthenticationException>(() => redis.StringGetAsync("k"));

        Assert.Contains("WRONGPASS", first.Message, StringComparison.Ordinal);
        Assert.Contains(endpoint, first.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", first.Message, StringComparison.Ordinal);
        Assert.Contains("WRONGPASS", second.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "Callers should not wait out the 30 s timeout once the credentials are known bad.");
    }

    [Fact]
    public async Task A_missing_password_reports_that_the_server_requires_authentication()
    {
        var servers = await TestServers.GetAsync();
        await using var redis = RedisTestClients.Create(servers.RedisConnectionString.Split(',')[0]);

        var error = await Assert.ThrowsAsync<RedisAuthenticationException>(() => redis.PingAsync());

        Assert.Contains("NOAUTH", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_wait_for_a_connection_up_to_their_timeout_then_fail_as_not_sent()
    {
        var port = NativeProcess.FreeTcpPort();
        await using var redis = RedisTestClients.Create($"127.0.0.1:{port}", o => o.CommandTimeout = TimeSpan.FromMilliseconds(400));

        var error = await Assert.ThrowsAsync<RedisConnectionException>(() => redis.StringSetAsync("k", "v"));

        Assert.Contains("was not sent", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_command_that_times_out_raises_RedisTimeoutException_and_its_late_reply_goes_to_nobody_else()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = RedisTestClients.Create(server.ConnectionString, o => o.CommandTimeout = TimeSpan.FromSeconds(1));
        await redis.StringSetAsync("first", "first-value");
        await redis.StringSetAsync("second", "second-value");

        // The script holds the server for 1.2 s, so it and the GET queued behind it outlive their 1 s timeout. Not
        // longer: the GETs below also have 1 s each, and must be answered once the script is done (a 1.5 s script
        // left them half a second, which a loaded machine sometimes used up).
        var busy = redis.ExecuteAsync("EVAL", RedisTestClients.BusyScript, 0, 1200);
        var stuck = redis.StringGetAsync("first");
        var timeout = await Assert.ThrowsAsync<RedisTimeoutException>(() => busy);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => stuck);

        // Sent after the timeouts, answered after their late replies: each caller still gets its own reply.
        Assert.Equal("second-value", await redis.StringGetAsync("second"));
        Assert.Equal("first-value", await redis.StringGetAsync("first"));
        Assert.Equal(2, (await redis.ExecuteAsync("DBSIZE")).AsInt64());
        Assert.Contains("may still execute", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_crash_mid_traffic_fails_in_flight_commands_and_the_client_reconnects_by_itself()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = RedisTestClients.Create(server.ConnectionString);
        await redis.PingAsync();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 6).Select(_ => new TrafficWorker()).ToArray();
        var traffic = workers.Select((worker, id) => Task.Run(() => worker.RunAsync(redis, $"w{id}", stop.Token))).ToArray();
        await WaitUntilAsync(() => workers.All(w => w.Successes >= 20));

        // A long script holds the server so every worker has a command in flight behind it when the server dies.
        var busy = redis.ExecuteAsync("EVAL", RedisTestClients.BusyScript, 0, 3000);
        await Task.Delay(200);
        await server.KillAsync();
        var lost = await Assert.ThrowsAsync<RedisConnectionException>(() => busy).WaitAsync(TimeSpan.FromSeconds(5));
        var beforeRestart = workers.Select(w => w.Successes).ToArray();
        await server.StartAsync();
        await WaitUntilAsync(() => workers.Select((w, i) => w.Successes - beforeRestart[i]).All(n => n >= 20));
        await stop.CancelAsync();
        await Task.WhenAll(traffic).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Contains("may or may not have executed", lost.Message, StringComparison.Ordinal);
        Assert.All(workers, w => Assert.Empty(w.WrongReplies));
        Assert.All(workers, w => Assert.Empty(w.UnexpectedErrors));
        Assert.All(workers, w => Assert.True(w.ConnectionFailures >= 1, "each worker had a command in flight when the server died"));
        Assert.Equal("PONG", (await redis.ExecuteAsync("PING")).AsString());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "condition not reached within 15 s");
            await Task.Delay(20);
        }
    }

    /// <summary>SET then GET of a fresh unique value, in a loop: any reply meant for another caller is caught.</summary>
    private sealed class TrafficWorker
    {
        private int _successes;
        private int _connectionFailures;

        public int Successes => Volatile.Read(ref _successes);
        public int ConnectionFailures => Volatile.Read(ref _connectionFailures);
        public ConcurrentQueue<string> WrongReplies { get; } = new();
        public ConcurrentQueue<Exception> UnexpectedErrors { get; } = new();

        public async Task RunAsync(RedisClient redis, string name, CancellationToken stop)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = $"{name}:{i}";
                var value = Guid.NewGuid().ToString("N");
                try
                {
                    if (!await redis.StringSetAsync(key, value, cancellationToken: CancellationToken.None))
                    {
                        WrongReplies.Enqueue($"SET {key} returned false");
                    }
                    // Not cancelled by stop: a loop iteration always finishes. The SET was acknowledged, so it is in
                    // the AOF and the value must come back even across the crash.
                    var read = await redis.StringGetAsync(key, CancellationToken.None);
                    if (read != value)
                    {
                        WrongReplies.Enqueue($"GET {key} returned '{read}', expected '{value}'");
                    }
                    Interlocked.Increment(ref _successes);
                }
                catch (RedisConnectionException)
                {
                    Interlocked.Increment(ref _connectionFailures);
                }
#pragma warning disable CA1031 // Collected and asserted on: anything but a connection failure is a bug.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    UnexpectedErrors.Enqueue(ex);
                }
            }
        }
    }
}
