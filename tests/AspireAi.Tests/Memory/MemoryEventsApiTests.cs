using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using AspireAi.Core.Memory;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AspireAi.Tests.Memory;

/// <summary>
/// <c>GET /v1/memories/events</c> against real Redis pub/sub: the caller hears of their own memory changes (API writes
/// and the Workers' extraction), never of another user's, and is told, not failed, when Redis is gone.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryEventsApiTests(ApiFactory factory)
{
    private static readonly TimeSpan EventWait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Each_user_hears_of_their_own_memory_changes_and_never_of_another_users()
    {
        var (alice, aliceUser) = await factory.CreateUserClientAsync();
        var (bob, _) = await factory.CreateUserClientAsync();
        await using var aliceEvents = await MemoryEventStream.OpenAsync(alice);
        await using var bobEvents = await MemoryEventStream.OpenAsync(bob);
        Assert.Equal("ready", (await aliceEvents.NextAsync()).Event);
        Assert.Equal("ready", (await bobEvents.NextAsync()).Event);

        // Bob's write is published before Alice's: had it reached Alice's stream, it would come before her own.
        var bobsId = (await MemoryTestData.PostMemoryAsync(bob, new { text = "Plays the bassoon on Sundays", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var alicesId = (await MemoryTestData.PostMemoryAsync(alice, new { text = "Grows tomatoes on her balcony", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();

        var aliceSaw = await aliceEvents.UntilMemoryAsync(alicesId, MemoryEvent.Add);
        Assert.DoesNotContain(aliceSaw, e => e.Id == bobsId);
        Assert.Equal("user", aliceSaw[^1].Data.GetProperty("scope").GetString());
        Assert.Contains(await MemoryTestData.MemoriesAsync(factory.DataSource, aliceUser.Id), m => m.Id == alicesId);

        // An edit is an update naming both versions; a delete names the memory. Still nothing of Bob's.
        var edited = (await MemoryTestData.PutMemoryAsync(alice, alicesId, new { text = "Grows tomatoes and basil on her balcony" }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var update = (await aliceEvents.UntilMemoryAsync(edited, MemoryEvent.Update))[^1];
        Assert.Equal(alicesId, update.Data.GetProperty("previousId").GetGuid());
        using (var delete = await alice.DeleteAsync($"/v1/memories/{edited}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        aliceSaw = await aliceEvents.UntilMemoryAsync(edited, MemoryEvent.Delete);
        Assert.DoesNotContain(aliceSaw, e => e.Id == bobsId);

        // Bob heard of his own write, then (after Alice's three changes were published) of his next one: none of hers between.
        var bobsNext = (await MemoryTestData.PostMemoryAsync(bob, new { text = "Collects vinyl records", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var bobSaw = await bobEvents.UntilMemoryAsync(bobsNext, MemoryEvent.Add);
        Assert.Contains(bobSaw, e => e.Id == bobsId && e.Operation == MemoryEvent.Add);
        Assert.DoesNotContain(bobSaw, e => e.Id == alicesId || e.Id == edited);

        // Forget everything: one erase event.
        using (var erase = await alice.DeleteAsync("/v1/memories"))
        {
            Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        }
        Assert.Equal(MemoryEvent.Erase, (await aliceEvents.UntilAsync(e => e.Operation == MemoryEvent.Erase))[^1].Operation);
        Assert.Empty(await MemoryTestData.MemoriesAsync(factory.DataSource, aliceUser.Id, currentOnly: false));
    }

    [Fact]
    public async Task Facts_extracted_by_the_workers_job_arrive_as_add_events_with_the_ids_of_the_stored_memories()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await using var events = await MemoryEventStream.OpenAsync(client);
        Assert.Equal("ready", (await events.NextAsync()).Event);

        await MemoryTestData.PostMemoryAsync(client, new { text = "I live in Lisbon and I use Rust." }, HttpStatusCode.Accepted);
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);

        var stored = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id);
        Assert.Equal(2, stored.Count);
        var heard = new List<MemoryEventItem>();
        foreach (var memory in stored)
        {
            heard.AddRange(await events.UntilMemoryAsync(memory.Id, MemoryEvent.Add));
        }
        Assert.Equal(stored.Select(m => m.Id).Order(), heard.Where(e => e.Operation == MemoryEvent.Add).Select(e => e.Id!.Value).Order());
    }

    [Fact]
    public async Task Without_a_token_the_stream_is_401()
    {
        using var response = await factory.CreateClient().GetAsync("/v1/memories/events");
        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_stream_sends_heartbeats_and_unsubscribes_when_the_client_leaves()
    {
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["Memory:EventStreamHeartbeat"] = "00:00:00.300" });
        var (client, user) = await api.CreateUserClientAsync();
        await using var redis = await RedisTestClients.SharedAsync();
        var channel = MemoryEventPublisher.UserChannel(user.Id);

        using (var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/memories/events"), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var lines = new List<string>();
            using var deadline = new CancellationTokenSource(EventWait);
            while (!lines.Contains(": heartbeat") && await reader.ReadLineAsync(deadline.Token) is { } line)
            {
                lines.Add(line);
            }
            Assert.Equal("event: ready", lines[0]);
            Assert.Contains(": heartbeat", lines);
            Assert.Equal(1, await SubscribersAsync(redis, channel));
        }

        // The client is gone: the Api drops its subscription (one per stream, none left behind).
        var remaining = 1L;
        for (var waited = TimeSpan.Zero; remaining > 0 && waited < EventWait; waited += TimeSpan.FromMilliseconds(100))
        {
            await Task.Delay(100);
            remaining = await SubscribersAsync(redis, channel);
        }
        Assert.Equal(0, remaining);
    }

    [Fact]
    public async Task With_redis_killed_the_stream_says_unavailable_instead_of_failing_and_memory_writes_and_extraction_still_complete()
    {
        var redis = await TestServers.StartPrivateRedisAsync();
        await using var _ = redis;
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis.ConnectionString });
        var (client, user) = await api.CreateUserClientAsync();
        using var failures = new PublishFailures(api.Services.GetRequiredService<IMeterFactory>());
        await using (var events = await MemoryEventStream.OpenAsync(client))
        {
            Assert.Equal("ready", (await events.NextAsync()).Event);

            await redis.KillAsync();
            var unavailable = await events.NextAsync();
            Assert.Equal("unavailable", unavailable.Event);
            Assert.Equal("Memory events unavailable", unavailable.Data.GetProperty("title").GetString());
            Assert.True(unavailable.Data.GetProperty("retryAfterSeconds").GetInt32() > 0);
            Assert.Null(await events.NextOrEndAsync());
        }

        // A new stream while Redis is down: 200 and the same event, not a 500.
        await using (var events = await MemoryEventStream.OpenAsync(client))
        {
            Assert.Equal("unavailable", (await events.NextAsync()).Event);
            Assert.Null(await events.NextOrEndAsync());
        }

        // Writes commit in Postgres; only the announcement is lost (logged and counted).
        var written = await MemoryTestData.PostMemoryAsync(client, new { text = "Keeps bees in the garden", infer = false });
        var id = written.GetProperty("memory").GetProperty("id").GetGuid();
        Assert.Contains(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id), m => m.Id == id);
        Assert.True(failures.Count(MemoryEvent.Add) >= 1);

        // The extraction job completes too.
        var accepted = await MemoryTestData.PostMemoryAsync(client, new { text = "I live in Porto." }, HttpStatusCode.Accepted);
        await MemoryTestData.RunExtractionsAsync(api, user.Id);
        var status = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/extractions/{accepted.GetProperty("sourceId").GetGuid()}");
        Assert.Equal("done", status.GetProperty("status").GetString());
        Assert.Contains(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id), m => m.Text.Contains("Porto", StringComparison.Ordinal));
    }

    private static async Task<long> SubscribersAsync(ConnectionMultiplexer redis, RedisChannel channel)
    {
        var reply = (RedisResult[])(await redis.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", channel.ToString()))!;
        return (long)reply[1];
    }

    private sealed record MemoryEventItem(string Operation, Guid? Id, JsonElement Data);

    /// <summary>One open event stream of a client.</summary>
    private sealed class MemoryEventStream : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly CancellationTokenSource _cancel = new();
        private readonly IAsyncEnumerator<SseEvent> _events;

        private MemoryEventStream(HttpResponseMessage response)
        {
            _response = response;
            _events = SseReader.ReadAsync(response, _cancel.Token).GetAsyncEnumerator();
        }

        public static async Task<MemoryEventStream> OpenAsync(HttpClient client)
        {
            var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/memories/events"), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            return new MemoryEventStream(response);
        }

        public async Task<SseEvent> NextAsync() =>
            await NextOrEndAsync() ?? throw new Xunit.Sdk.XunitException("The event stream ended.");

        public async Task<SseEvent?> NextOrEndAsync() =>
            await _events.MoveNextAsync().AsTask().WaitAsync(EventWait) ? _events.Current : null;

        /// <summary>The memory events up to and including the first that <paramref name="match"/>es.</summary>
        public async Task<List<MemoryEventItem>> UntilAsync(Func<MemoryEventItem, bool> match)
        {
            var seen = new List<MemoryEventItem>();
            while (true)
            {
                var next = await NextAsync();
                Assert.Equal("memory", next.Event);
                var item = new MemoryEventItem(next.Data.GetProperty("operation").GetString()!,
                    next.Data.GetProperty("memoryId").ValueKind == JsonValueKind.Null ? null : next.Data.GetProperty("memoryId").GetGuid(), next.Data);
                seen.Add(item);
                if (match(item))
                {
                    return seen;
                }
            }
        }

        public Task<List<MemoryEventItem>> UntilMemoryAsync(Guid id, string operation) => UntilAsync(e => e.Id == id && e.Operation == operation);

        public async ValueTask DisposeAsync()
        {
            await _cancel.CancelAsync();
            try
            {
                await _events.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // Left while reading.
            }
            _response.Dispose();
            _cancel.Dispose();
        }
    }

    /// <summary>aspireai.memory.events.publish_failures of one host, by operation.</summary>
    private sealed class PublishFailures : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<string?> _operations = new();

        public PublishFailures(IMeterFactory meterFactory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "aspireai.memory.events.publish_failures" && ReferenceEquals(instrument.Meter.Scope, meterFactory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                foreach (var (key, value) in tags)
                {
                    if (key == "operation")
                    {
                        _operations.Enqueue(value as string);
                    }
                }
            });
            _listener.Start();
        }

        public int Count(string operation) => _operations.Count(o => o == operation);

        public void Dispose() => _listener.Dispose();
    }
}
