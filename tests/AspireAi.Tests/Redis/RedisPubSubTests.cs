using System.Diagnostics;
using System.Threading.Channels;
using AspireAi.Core.Redis;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Redis;

public sealed class RedisPubSubTests
{
    [Fact]
    public async Task Published_messages_reach_every_handler_in_order_until_unsubscribed()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var channel = $"chat:{Guid.NewGuid():N}";
        var first = Channel.CreateUnbounded<string>();
        var second = Channel.CreateUnbounded<string>();
        var a = await redis.SubscribeAsync(channel, (ch, message) => first.Writer.TryWrite($"{ch}|{message}"));
        var b = await redis.SubscribeAsync(channel, (_, message) => second.Writer.TryWrite(message));

        Assert.Equal(1, await redis.PublishAsync(channel, "héllo"));
        Assert.Equal(1, await redis.PublishAsync(channel, "world"));

        Assert.Equal($"{channel}|héllo", await ReadAsync(first));
        Assert.Equal($"{channel}|world", await ReadAsync(first));
        Assert.Equal("héllo", await ReadAsync(second));
        await a.DisposeAsync();
        Assert.Equal(1, await redis.PublishAsync(channel, "only b"));
        Assert.Equal("world", await ReadAsync(second));
        Assert.Equal("only b", await ReadAsync(second));
        await b.DisposeAsync();
        await EventuallyAsync(async () => await redis.PublishAsync(channel, "nobody") == 0);
        Assert.False(first.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_throwing_handler_does_not_stop_delivery()
    {
        await using var redis = await RedisTestClients.SharedAsync();
        var channel = $"chat:{Guid.NewGuid():N}";
        var received = Channel.CreateUnbounded<string>();
        await using var faulty = await redis.SubscribeAsync(channel, (_, _) => throw new InvalidOperationException("handler bug"));
        await using var healthy = await redis.SubscribeAsync(channel, (_, message) => received.Writer.TryWrite(message));

        await redis.PublishAsync(channel, "1");
        await redis.PublishAsync(channel, "2");

        Assert.Equal("1", await ReadAsync(received));
        Assert.Equal("2", await ReadAsync(received));
    }

    [Fact]
    public async Task Subscriptions_are_renewed_after_a_server_restart()
    {
        await using var server = await TestServers.StartPrivateRedisAsync();
        await using var redis = RedisTestClients.Create(server.ConnectionString);
        var received = Channel.CreateUnbounded<string>();
        await using var subscription = await redis.SubscribeAsync("events", (_, message) => received.Writer.TryWrite(message));
        await redis.PublishAsync("events", "before");
        Assert.Equal("before", await ReadAsync(received));

        await server.KillAsync();
        await server.StartAsync();

        // PUBLISH reports its receivers: once it is 1, the subscriber connection has subscribed again by itself.
        await EventuallyAsync(async () => await redis.PublishAsync("events", "after") == 1);
        Assert.Equal("after", await ReadAsync(received));
    }

    private static async Task<string> ReadAsync(Channel<string> channel) =>
        await channel.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "condition not reached within 10 s");
            await Task.Delay(25);
        }
    }
}
