using System.Text;
using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RedisCommandTests : IAsyncLifetime
{
    private readonly string _prefix = RedisTestClients.UniquePrefix();
    private RedisClient _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisTestClients.SharedAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task Strings_round_trip_as_utf8_text_and_as_binary_safe_bytes()
    {
        var text = $"{_prefix}:text";
        var binary = $"{_prefix}:binary";
        byte[] payload = [0, 13, 10, 255, 36, 42];

        Assert.True(await _redis.StringSetAsync(text, "héllo \r\n wörld"));
        Assert.True(await _redis.StringSetAsync(binary, payload));

        Assert.Equal("héllo \r\n wörld", await _redis.StringGetAsync(text));
        Assert.Equal(payload, await _redis.StringGetBytesAsync(binary));
        Assert.Equal(Encoding.UTF8.GetBytes("héllo \r\n wörld"), await _redis.StringGetBytesAsync(text));
        Assert.Null(await _redis.StringGetAsync($"{_prefix}:missing"));
        Assert.Null(await _redis.StringGetBytesAsync($"{_prefix}:missing"));
    }

    [Fact]
    public async Task Set_conditions_behave_like_an_idempotency_lock()
    {
        var key = $"{_prefix}:lock";

        Assert.False(await _redis.StringSetAsync(key, "late", when: When.Exists));
        Assert.True(await _redis.StringSetAsync(key, "owner-1", TimeSpan.FromSeconds(30), When.NotExists));
        Assert.False(await _redis.StringSetAsync(key, "owner-2", TimeSpan.FromSeconds(30), When.NotExists));
        Assert.True(await _redis.StringSetAsync(key, "owner-1b", when: When.Exists));

        Assert.Equal("owner-1b", await _redis.StringGetAsync(key));
    }

    [Fact]
    public async Task Expiry_is_set_read_changed_and_removed()
    {
        var key = $"{_prefix}:ttl";
        await _redis.StringSetAsync(key, "v", TimeSpan.FromSeconds(100));

        var ttl = await _redis.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(100));

        Assert.True(await _redis.KeyExpireAsync(key, TimeSpan.FromMinutes(10)));
        Assert.InRange((await _redis.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));

        Assert.True(await _redis.KeyExpireAsync(key, null));
        Assert.Null(await _redis.KeyTimeToLiveAsync(key));
        Assert.True(await _redis.KeyExistsAsync(key));

        Assert.False(await _redis.KeyExpireAsync($"{_prefix}:missing", TimeSpan.FromSeconds(1)));
        Assert.Null(await _redis.KeyTimeToLiveAsync($"{_prefix}:missing"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _redis.KeyExpireAsync(key, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_key_with_a_short_expiry_disappears()
    {
        var key = $"{_prefix}:short";
        await _redis.StringSetAsync(key, "v", TimeSpan.FromMilliseconds(50));

        await Task.Delay(150);

        Assert.False(await _redis.KeyExistsAsync(key));
    }

    [Fact]
    public async Task Delete_counts_only_keys_that_existed()
    {
        await _redis.StringSetAsync($"{_prefix}:a", "1");
        await _redis.StringSetAsync($"{_prefix}:b", "2");

        Assert.Equal(2, await _redis.KeyDeleteAsync($"{_prefix}:a", $"{_prefix}:b", $"{_prefix}:c"));
        Assert.Equal(0, await _redis.KeyDeleteAsync($"{_prefix}:a"));
        Assert.Equal(0, await _redis.KeyDeleteAsync());
        Assert.False(await _redis.KeyExistsAsync($"{_prefix}:a"));
    }

    [Fact]
    public async Task Increment_counts_up_and_down_from_zero()
    {
        var key = $"{_prefix}:bucket";

        Assert.Equal(1, await _redis.StringIncrementAsync(key));
        Assert.Equal(11, await _redis.StringIncrementAsync(key, 10));
        Assert.Equal(-4, await _redis.StringIncrementAsync(key, -15));
        Assert.Equal("-4", await _redis.StringGetAsync(key));
    }

    [Fact]
    public async Task Server_errors_carry_the_servers_message_and_leave_the_connection_usable()
    {
        var key = $"{_prefix}:list";
        await _redis.ListRightPushAsync(key, "x");

        var error = await Assert.ThrowsAsync<RedisServerException>(() => _redis.StringIncrementAsync(key));

        Assert.StartsWith("WRONGTYPE", error.Message, StringComparison.Ordinal);
        Assert.Equal(["x"], await _redis.ListRangeAsync(key));
    }

    [Fact]
    public async Task Hashes_set_get_enumerate_and_delete_fields()
    {
        var key = $"{_prefix}:session";

        Assert.True(await _redis.HashSetAsync(key, "user", "ada"));
        Assert.False(await _redis.HashSetAsync(key, "user", "ada lovelace"));
        Assert.Equal(2, await _redis.HashSetAsync(key, [new("model", "offline"), new("turns", "3"), new("user", "ada l.")]));

        Assert.Equal("ada l.", await _redis.HashGetAsync(key, "user"));
        Assert.Null(await _redis.HashGetAsync(key, "nope"));
        Assert.Equal(
            new Dictionary<string, string> { ["user"] = "ada l.", ["model"] = "offline", ["turns"] = "3" },
            await _redis.HashGetAllAsync(key));

        Assert.True(await _redis.HashDeleteAsync(key, "turns"));
        Assert.False(await _redis.HashDeleteAsync(key, "turns"));
        Assert.Equal(2, (await _redis.HashGetAllAsync(key)).Count);
        Assert.Empty(await _redis.HashGetAllAsync($"{_prefix}:missing"));
    }

    [Fact]
    public async Task Lists_keep_a_bounded_working_memory()
    {
        var key = $"{_prefix}:turns";

        Assert.Equal(1, await _redis.ListRightPushAsync(key, "t1"));
        Assert.Equal(4, await _redis.ListRightPushAsync(key, ["t2", "t3", "t4"]));
        await _redis.ListTrimAsync(key, -2, -1);

        Assert.Equal(["t3", "t4"], await _redis.ListRangeAsync(key));
        Assert.Equal(["t4"], await _redis.ListRangeAsync(key, 1, 1));
        Assert.Empty(await _redis.ListRangeAsync($"{_prefix}:missing"));
    }

    [Fact]
    public async Task Scan_pages_through_every_matching_key_and_nothing_else()
    {
        var expected = Enumerable.Range(0, 120).Select(i => $"{_prefix}:scan:{i}").ToHashSet();
        await Task.WhenAll(expected.Select(key => _redis.StringSetAsync(key, "v")));
        await _redis.StringSetAsync($"{_prefix}:other", "v");

        var found = new HashSet<string>();
        await foreach (var key in _redis.ScanKeysAsync($"{_prefix}:scan:*", pageSize: 10))
        {
            found.Add(key);
        }

        Assert.Equal(expected, found);
    }

    [Fact]
    public async Task Execute_sends_arbitrary_commands_with_typed_arguments()
    {
        var key = $"{_prefix}:zset";

        Assert.Equal(2, (await _redis.ExecuteAsync("ZADD", key, 1.5, "a", 2, "b")).AsInt64());
        var range = (await _redis.ExecuteAsync("ZRANGE", key, 0, -1, "WITHSCORES")).AsArray()!;

        Assert.Equal(["a", "1.5", "b", "2"], range.Select(r => r.AsString()));
        Assert.Equal(RedisResultType.SimpleString, (await _redis.ExecuteAsync("PING")).Type);
        Assert.True((await _redis.ExecuteAsync("GET", $"{_prefix}:missing")).IsNull);
        await Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteAsync("NOSUCHCOMMAND"));
    }

    [Theory]
    [InlineData("SELECT")]
    [InlineData("multi")]
    [InlineData("SUBSCRIBE")]
    [InlineData("CLIENT LIST")]
    public async Task Execute_refuses_commands_that_would_break_the_shared_connection(string command)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _redis.ExecuteAsync(command, "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => _redis.ExecuteAsync("CLIENT", "REPLY", "OFF"));
    }

    [Fact]
    public async Task Ping_measures_a_round_trip()
    {
        var latency = await _redis.PingAsync();

        Assert.InRange(latency, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_cancelled_command_fails_as_cancelled_and_the_next_one_gets_its_own_reply()
    {
        var key = $"{_prefix}:after-cancel";
        await _redis.StringSetAsync(key, "mine");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _redis.StringGetAsync(key, new CancellationToken(canceled: true)));

        Assert.Equal("mine", await _redis.StringGetAsync(key));
    }

    [Fact]
    public async Task Default_database_is_selected_on_connect()
    {
        var servers = await Infrastructure.TestServers.GetAsync();
        await using var db5 = RedisTestClients.Create(servers.RedisConnectionString + ",defaultDatabase=5");
        var key = $"{_prefix}:db";

        await db5.StringSetAsync(key, "five");

        Assert.Equal("five", await db5.StringGetAsync(key));
        Assert.Null(await _redis.StringGetAsync(key));
        Assert.Contains(" db=5 ", (await db5.ExecuteAsync("CLIENT", "INFO")).AsString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposed_clients_refuse_new_commands()
    {
        var servers = await Infrastructure.TestServers.GetAsync();
        var client = RedisTestClients.Create(servers.RedisConnectionString);
        await client.PingAsync();

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.PingAsync());
    }
}
