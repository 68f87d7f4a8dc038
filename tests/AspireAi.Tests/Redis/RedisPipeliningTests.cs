using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RedisPipeliningTests
{
    [Fact]
    public async Task A_thousand_concurrent_commands_from_many_tasks_each_get_their_own_reply()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var prefix = RedisTestClients.UniquePrefix();
        var values = Enumerable.Range(0, 1000).ToDictionary(i => $"{prefix}:{i}", i => $"{Guid.NewGuid():N}-{i}");

        // 1,000 tasks on the thread pool each write, then read back through three command types at once; a reply
        // delivered to the wrong caller shows up as a wrong value, a wrong counter or a wrong length.
        var mismatches = 0;
        await Task.WhenAll(values.Select(pair => Task.Run(async () =>
        {
            var set = await redis.StringSetAsync(pair.Key, pair.Value);
            var getTask = redis.StringGetAsync(pair.Key);
            var counterTask = redis.StringIncrementAsync($"{pair.Key}:n", 7);
            var lengthTask = redis.ExecuteAsync("STRLEN", pair.Key);
            if (!set || await getTask != pair.Value || await counterTask != 7 || (await lengthTask).AsInt64() != pair.Value.Length)
            {
                Interlocked.Increment(ref mismatches);
            }
        })));

        Assert.Equal(0, mismatches);
    }

    [Fact]
    public async Task Concurrent_callers_share_one_connection()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var name = $"pipeline-{Guid.NewGuid():N}";
        await redis.ExecuteAsync("CLIENT", "SETNAME", name);

        var ids = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => redis.ExecuteAsync("CLIENT", "ID")));

        Assert.Single(ids.Select(id => id.AsInt64()).Distinct());
        var clients = (await redis.ExecuteAsync("CLIENT", "LIST")).AsString()!;
        Assert.Single(clients.Split('\n'), line => line.Contains($"name={name} ", StringComparison.Ordinal));
    }
}
