using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Redis;

public sealed class RedisScriptTests
{
    // A token-bucket style script: the shape rate limiting uses.
    private const string TakeToken = """
        local left = redis.call('DECRBY', KEYS[1], ARGV[1])
        if left < 0 then redis.call('INCRBY', KEYS[1], ARGV[1]) return {0, left + tonumber(ARGV[1])} end
        return {1, left}
        """;

    [Fact]
    public async Task Scripts_run_by_sha_after_the_first_call_and_recover_from_a_script_flush()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = RedisTestClients.Create(server.ConnectionString);
        await redis.StringSetAsync("bucket", "3");
        await redis.ExecuteAsync("CONFIG", "RESETSTAT");

        var first = await redis.ScriptEvaluateAsync(TakeToken, ["bucket"], [2]);
        var second = await redis.ScriptEvaluateAsync(TakeToken, ["bucket"], [2]);
        Assert.Equal([1L, 1L], first.AsArray()!.Select(r => r.AsInt64()));
        Assert.Equal([0L, 1L], second.AsArray()!.Select(r => r.AsInt64()));
        // First call: EVALSHA misses (NOSCRIPT), EVAL loads it; second call: EVALSHA hits.
        Assert.Equal((2, 1, 1), await CallCountsAsync(redis));

        await redis.ExecuteAsync("SCRIPT", "FLUSH");
        var third = await redis.ScriptEvaluateAsync(TakeToken, ["bucket"], [1]);

        Assert.Equal([1L, 0L], third.AsArray()!.Select(r => r.AsInt64()));
        Assert.Equal((3, 2, 2), await CallCountsAsync(redis));
    }

    [Fact]
    public async Task The_script_cache_recovers_after_a_server_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = RedisTestClients.Create(server.ConnectionString);
        Assert.Equal("a", (await redis.ScriptEvaluateAsync("return ARGV[1]", args: ["a"])).AsString());

        await server.StopAsync();
        await server.StartAsync();

        Assert.Equal("b", (await redis.ScriptEvaluateAsync("return ARGV[1]", args: ["b"])).AsString());
    }

    [Fact]
    public async Task Script_replies_of_every_type_are_converted()
    {
        await using var redis = await RedisTestClients.SharedAsync();

        var result = await redis.ScriptEvaluateAsync(
            "return {1, 'two', false, {redis.status_reply('FINE'), redis.error_reply('BAD inner')}, KEYS[1]}", ["k"]);

        var items = result.AsArray()!;
        Assert.Equal(1, items[0].AsInt64());
        Assert.Equal("two", items[1].AsString());
        Assert.True(items[2].IsNull);
        Assert.Equal(RedisResultType.SimpleString, items[3].AsArray()![0].Type);
        Assert.Equal("BAD inner", items[3].AsArray()![1].ErrorMessage);
        Assert.Equal("k", items[4].AsString());
    }

    [Fact]
    public async Task An_error_raised_by_a_script_is_a_server_exception()
    {
        await using var redis = await RedisTestClients.SharedAsync();

        var error = await Assert.ThrowsAsync<RedisServerException>(() => redis.ScriptEvaluateAsync("return redis.error_reply('LIMIT exceeded')"));

        Assert.Equal("LIMIT exceeded", error.Message);
    }

    private static async Task<(long EvalSha, long EvalShaFailed, long Eval)> CallCountsAsync(RedisClient redis)
    {
        var stats = (await redis.ExecuteAsync("INFO", "commandstats")).AsString()!;
        return (Stat(stats, "evalsha", "calls"), Stat(stats, "evalsha", "failed_calls"), Stat(stats, "eval", "calls"));
    }

    private static long Stat(string info, string command, string field)
    {
        var line = info.Split("\r\n").FirstOrDefault(l => l.StartsWith($"cmdstat_{command}:", StringComparison.Ordinal));
        if (line is null)
        {
            return 0;
        }
        var pair = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(',').Single(p => p.StartsWith(field + "=", StringComparison.Ordinal));
        return long.Parse(pair[(field.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
