using System.Text.Json;
using System.Threading.Channels;
using AspireAi.Api.Extensions;
using AspireAi.Core.Identity;
using AspireAi.Core.Memory;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Api.Memories;

/// <summary>
/// <c>GET /v1/memories/events</c>: the caller's memory changes as server-sent events, pushed from Redis pub/sub
/// (<see cref="MemoryEventPublisher"/>): <c>ready</c> once subscribed, then a <c>memory</c> event per change of the
/// caller's own memories or of the organisation's shared ones, and a comment as heartbeat. Other users' channels are
/// never subscribed: the channel names come from the caller's token, not from the request. Without Redis the stream
/// sends <c>unavailable</c> and ends, so the client falls back to reading the list now and then.
/// </summary>
internal static partial class MemoryEventsStream
{
    // Events waiting for a slow client; beyond this the oldest are dropped (the client re-reads the list on any event).
    private const int Backlog = 256;

    public static async Task<EmptyHttpResult> StreamAsync(HttpContext http, CurrentUser user, IConnectionMultiplexer redis,
        IOptions<MemoryOptions> options, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(MemoryEventsStream).FullName!);
        var aborted = http.RequestAborted;
        var inbox = Channel.CreateBounded<RedisValue>(new BoundedChannelOptions(Backlog) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        Action<RedisChannel, RedisValue> deliver = (_, message) => inbox.Writer.TryWrite(message);
        // A lost connection loses messages unseen: the stream says so (and ends) instead of going quiet.
        EventHandler<ConnectionFailedEventArgs> lost = (_, _) => inbox.Writer.TryComplete();
        RedisChannel[] channels = [MemoryEventPublisher.UserChannel(user.UserId), MemoryEventPublisher.OrgChannel(user.OrgId)];
        var subscriber = redis.GetSubscriber();
        var subscribed = new List<RedisChannel>();

        await http.StartEventStreamAsync();
        redis.ConnectionFailed += lost;
        try
        {
            try
            {
                foreach (var channel in channels)
                {
                    await subscriber.SubscribeAsync(channel, deliver).WaitAsync(aborted);
                    subscribed.Add(channel);
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogUnavailable(logger, ex, user.UserId);
                await WriteUnavailableAsync(http);
                return TypedResults.Empty;
            }

            var heartbeat = options.Value.EventStreamHeartbeat;
            await WriteEventAsync(http, "ready", JsonSerializer.Serialize(new { heartbeatSeconds = heartbeat.TotalSeconds }, JsonSerializerOptions.Web));
            while (true)
            {
                bool more;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(aborted))
                {
                    idle.CancelAfter(heartbeat);
                    try
                    {
                        more = await inbox.Reader.WaitToReadAsync(idle.Token);
                    }
                    catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                    {
                        // Quiet for a heartbeat: a comment (clients ignore it), unless Redis is gone meanwhile.
                        more = redis.IsConnected;
                        if (more)
                        {
                            await http.Response.WriteAsync(": heartbeat\n\n", aborted);
                            await http.Response.Body.FlushAsync(aborted);
                            continue;
                        }
                    }
                }
                if (!more)
                {
                    LogConnectionLost(logger, user.UserId);
                    await WriteUnavailableAsync(http);
                    return TypedResults.Empty;
                }
                while (inbox.Reader.TryRead(out var message))
                {
                    if (Parse(message) is { } change)
                    {
                        await WriteEventAsync(http, "memory", JsonSerializer.Serialize(change, JsonSerializerOptions.Web));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client left: nothing to answer.
            return TypedResults.Empty;
        }
        finally
        {
            redis.ConnectionFailed -= lost;
            foreach (var channel in subscribed)
            {
                try
                {
                    // Only this stream's handler: other streams of the same user on this instance keep theirs.
                    await subscriber.UnsubscribeAsync(channel, deliver);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Redis is gone, and with it the subscription.
                }
            }
        }
    }

    // Our own publisher wrote it; whatever else arrives on the channel is not passed on.
    private static MemoryEvent? Parse(RedisValue message)
    {
        try
        {
            return message.IsNullOrEmpty ? null : JsonSerializer.Deserialize<MemoryEvent>(message.ToString(), JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Task WriteUnavailableAsync(HttpContext http) =>
        WriteEventAsync(http, "unavailable", JsonSerializer.Serialize(new
        {
            title = "Memory events unavailable",
            detail = "Live memory updates are unavailable right now (Redis cannot be reached). Read GET /v1/memories instead, and reconnect later.",
            retryAfterSeconds = 30,
        }, JsonSerializerOptions.Web));

    private static async Task WriteEventAsync(HttpContext http, string name, string json)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {json}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory event stream of user {UserId} not started: Redis unavailable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, Guid userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory event stream of user {UserId} ended: the Redis connection was lost")]
    private static partial void LogConnectionLost(ILogger logger, Guid userId);
}
