using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;
using StackExchange.Redis;

namespace AspireAi.Tests.Redis;

/// <summary>Multiplexers for the shared and private test servers, configured the way the services configure theirs.</summary>
internal static class RedisTestClients
{
    public static async Task<ConnectionMultiplexer> SharedAsync() => await ConnectAsync((await TestServers.GetAsync()).RedisConnectionString);

    public static async Task<ConnectionMultiplexer> ConnectAsync(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        RedisConnectionDefaults.Apply(options);
        // Tests flush the script cache; the services never need admin commands.
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>The keys matching a pattern, by SCAN.</summary>
    public static async Task<List<string>> KeysAsync(IConnectionMultiplexer redis, string pattern)
    {
        var keys = new List<string>();
        await foreach (var key in redis.GetServers().Single().KeysAsync(pattern: pattern))
        {
            keys.Add(key.ToString());
        }
        return keys;
    }

    /// <summary>Waits for the multiplexer to reconnect by itself after a restart.</summary>
    public static async Task WaitUntilConnectedAsync(IConnectionMultiplexer redis)
    {
        for (var waited = TimeSpan.Zero; !redis.IsConnected; waited += TimeSpan.FromMilliseconds(50))
        {
            Assert.True(waited < TimeSpan.FromSeconds(20), "The multiplexer did not reconnect within 20 s.");
            await Task.Delay(50);
        }
    }
}
