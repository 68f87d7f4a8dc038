using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspireAi.Core.Memory;

/// <summary>
/// A committed change to a memory, as announced to whoever shows it (the "What I remember about you" panel):
/// <c>add</c>, <c>update</c> (<see cref="MemoryId"/> is the new version, <see cref="PreviousId"/> the one it replaced),
/// <c>delete</c>, or <c>erase</c> (all of the user's memories, no id). Ids and names only: never the memory's text,
/// which the subscriber reads through the API with the caller's own rights.
/// </summary>
public sealed record MemoryEvent(string Operation, Guid? MemoryId, Guid? PreviousId, string? Scope, DateTimeOffset At)
{
    public const string Add = "add";
    public const string Update = "update";
    public const string Delete = "delete";
    public const string Erase = "erase";
}

/// <summary>
/// Publishes memory changes on Redis pub/sub, after their transaction committed: one channel per user for personal
/// (user and session) memories, one per organisation for shared (agent and org) ones. Best effort by design: the
/// change is already in Postgres, so a Redis failure is logged and counted and never fails the writer (a job, a
/// request); subscribers that miss an event fall back to reading the list.
/// </summary>
public sealed partial class MemoryEventPublisher
{
    private const string Prefix = "aspireai:memory-events:";

    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly ILogger<MemoryEventPublisher> _logger;
    private readonly Counter<long> _published;
    private readonly Counter<long> _failures;

    public MemoryEventPublisher(IConnectionMultiplexer redis, IMeterFactory meterFactory, TimeProvider time, ILogger<MemoryEventPublisher> logger)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _redis = redis;
        _time = time;
        _logger = logger;
        var meter = meterFactory.Create(MemoryMetrics.MeterName);
        _published = meter.CreateCounter<long>("aspireai.memory.events.published", "{event}", "Memory change events published on Redis pub/sub.");
        _failures = meter.CreateCounter<long>("aspireai.memory.events.publish_failures", "{event}",
            "Memory change events that could not be published (Redis down or slow); the change itself was kept.");
    }

    /// <summary>The channel of <paramref name="userId"/>'s personal memories.</summary>
    public static RedisChannel UserChannel(Guid userId) => RedisChannel.Literal($"{Prefix}user:{userId:N}");

    /// <summary>The channel of the shared (agent and org) memories of <paramref name="orgId"/>.</summary>
    public static RedisChannel OrgChannel(Guid orgId) => RedisChannel.Literal($"{Prefix}org:{orgId:N}");

    /// <summary>The event of a write decision, or null for what changes nothing visible (NOOP).</summary>
    public MemoryEvent? Describe(MemoryOperation operation, MemoryRecord memory, MemoryRecord? previous)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var name = operation switch
        {
            MemoryOperation.Add => MemoryEvent.Add,
            MemoryOperation.Update => MemoryEvent.Update,
            MemoryOperation.Delete => MemoryEvent.Delete,
            _ => null,
        };
        return name is null ? null : new MemoryEvent(name, memory.Id, previous?.Id, MemoryNames.Of(memory.Scope), _time.GetUtcNow());
    }

    /// <summary>Publishes <paramref name="memoryEvent"/> about a memory of <paramref name="scope"/>; never throws for Redis.</summary>
    public Task PublishAsync(MemoryScopeRef scope, MemoryEvent memoryEvent)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return PublishAsync(scope.UserId is { } userId ? UserChannel(userId) : OrgChannel(scope.OrgId), memoryEvent);
    }

    /// <summary>Tells <paramref name="userId"/>'s subscribers that all their memories are gone.</summary>
    public Task PublishErasedAsync(Guid userId) =>
        PublishAsync(UserChannel(userId), new MemoryEvent(MemoryEvent.Erase, null, null, null, _time.GetUtcNow()));

    private async Task PublishAsync(RedisChannel channel, MemoryEvent memoryEvent)
    {
        ArgumentNullException.ThrowIfNull(memoryEvent);
        try
        {
            // Awaited (not fire-and-forget) so that a failure is seen and counted; with no connection the client fails
            // fast, and the command timeout bounds a slow Redis.
            await _redis.GetSubscriber().PublishAsync(channel, JsonSerializer.Serialize(memoryEvent, JsonSerializerOptions.Web)).ConfigureAwait(false);
            _published.Add(1, new KeyValuePair<string, object?>("operation", memoryEvent.Operation));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            _failures.Add(1, new KeyValuePair<string, object?>("operation", memoryEvent.Operation));
            LogPublishFailed(ex, memoryEvent.Operation, memoryEvent.MemoryId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory event {Operation} of memory {MemoryId} not published (Redis unavailable); subscribers will miss it")]
    private partial void LogPublishFailed(Exception exception, string operation, Guid? memoryId);
}
