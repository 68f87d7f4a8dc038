using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Redis;

/// <summary>Clients for the shared and private test servers, with timings short enough for failure tests.</summary>
internal static class RedisTestClients
{
    public static async Task<RedisClient> SharedAsync()
    {
        var servers = await TestServers.GetAsync();
        return Create(servers.RedisConnectionString);
    }

    public static RedisClient Create(string connectionString, Action<RedisOptions>? configure = null)
    {
        var options = RedisOptions.Parse(connectionString);
        options.ReconnectBackoffBase = TimeSpan.FromMilliseconds(20);
        options.ReconnectBackoffMax = TimeSpan.FromMilliseconds(250);
        configure?.Invoke(options);
        return new RedisClient(options);
    }

    /// <summary>A prefix no other test uses, so tests can share one server without seeing each other's keys.</summary>
    public static string UniquePrefix() => $"test:{Guid.NewGuid():N}";

    /// <summary>Busy-waits inside Redis for the given time: a real way to hold up every command behind it.</summary>
    public const string BusyScript = """
        local start = redis.call('TIME')
        local began = start[1] * 1000000 + start[2]
        while true do
          local now = redis.call('TIME')
          if now[1] * 1000000 + now[2] - began > tonumber(ARGV[1]) * 1000 then break end
        end
        return 'done'
        """;
}
