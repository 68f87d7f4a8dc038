using System.Net;
using System.Text.Json;
using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>Erasure, rollback and session end racing the pipeline: what is gone must stay gone, in Postgres and Redis.</summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryLifecycleTests(ApiFactory factory)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Erasure_while_an_extraction_waits_on_the_model_succeeds_and_the_job_writes_nothing_back()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await MemoryTestData.PostMemoryAsync(client, new { text = "Speaks Icelandic", infer = false });
        await MemoryTestData.PostMemoryAsync(client, new { text = "Is planning a trip", infer = false, scope = "session", sessionId = "trip" });
        // A source with no job row, run below by hand: a Workers process of another test cannot pick it up first.
        var sourceId = await InsertApiSourceAsync(user, "I work at Initech and I live in Lisbon.");

        await using var scope = factory.Services.CreateAsyncScope();
        using var gated = new GatedChatClient(scope.ServiceProvider.GetRequiredService<IChatClient>());
        var model = ActivatorUtilities.CreateInstance<MemoryLanguageModel>(scope.ServiceProvider, (IChatClient)gated);
        var job = Task.Run(() => MemoryTestData.RunJobAsync(factory.Services, factory.DataSource, JsonSerializer.SerializeToElement(new { sourceId }),
            services => ActivatorUtilities.CreateInstance<MemoryExtractionJob>(services, model)));
        await gated.Entered.Task.WaitAsync(Patience);

        // The job is inside the model call: erasure must neither wait for it nor deadlock with it.
        HttpResponseMessage erased;
        try
        {
            erased = await client.DeleteAsync("/v1/memories").WaitAsync(Patience);
        }
        finally
        {
            gated.Release(); // a failed wait must not leave the job (and its locks) hanging for the rest of the run
        }
        using (erased)
        {
            Assert.True(erased.StatusCode == HttpStatusCode.OK, await erased.Content.ReadAsStringAsync());
        }
        await job.WaitAsync(Patience);

        Assert.Empty(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false));
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memory_history WHERE owner_user_id = $1", user.Id));
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memory_sources WHERE user_id = $1", user.Id));
        Assert.Empty(await factory.Services.GetRequiredService<SessionMemoryStore>().KeysAsync(user.Id, CancellationToken.None));
    }

    [Fact]
    public async Task A_session_memory_whose_transaction_rolls_back_leaves_no_redis_key()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var consolidator = factory.Services.GetRequiredService<MemoryConsolidator>();
        var effects = new MemoryWriteEffects();
        await using (var connection = await factory.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var written = await consolidator.StoreVerbatimAsync(connection, transaction, effects, MemoryScopeRef.ForSession(user.OrgId, user.Id, "rollback"),
                new NewMemory("Is testing rollbacks", MemoryType.Semantic, 0.5f, []), new MemoryProvenance(MemoryActor.User, user.Id, "test", null, []),
                CancellationToken.None);
            Assert.Equal(MemoryOperation.Add, written.Operation);
            await transaction.RollbackAsync();
        }

        Assert.Empty(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false));
        Assert.Empty(await factory.Services.GetRequiredService<SessionMemoryStore>().KeysAsync(user.Id, CancellationToken.None));
    }

    [Fact]
    public async Task An_extraction_job_that_fails_after_consolidating_leaves_no_redis_key_and_its_retry_mirrors_with_a_ttl()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var sourceId = await InsertApiSourceAsync(user, "I work at Initech.", scope: "session", sessionId: "failing");
        var payload = JsonSerializer.SerializeToElement(new { sourceId });
        var sessions = factory.Services.GetRequiredService<SessionMemoryStore>();

        await Assert.ThrowsAsync<InvalidOperationException>(() => MemoryTestData.RunJobAsync(factory.Services, factory.DataSource, payload,
            services => new FailingAfter(ActivatorUtilities.CreateInstance<MemoryExtractionJob>(services))));
        Assert.Empty(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false));
        Assert.Empty(await sessions.KeysAsync(user.Id, CancellationToken.None));

        await MemoryTestData.RunJobAsync<MemoryExtractionJob>(factory.Services, factory.DataSource, payload);
        var memory = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));
        Assert.Equal(("Works at Initech", "session"), (memory.Text, memory.Scope));
        var entry = Assert.Single(await sessions.ReadAsync(user.Id, "failing", CancellationToken.None));
        Assert.Equal(memory.Id, entry.Id);
        var ttl = await factory.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().GetDatabase().KeyTimeToLiveAsync(SessionMemoryStore.KeyOf(user.Id, "failing"));
        Assert.True(ttl > TimeSpan.Zero, $"The session key has no TTL ({ttl}).");
    }

    [Fact]
    public async Task Deleting_a_conversation_ends_its_session_memories_and_nothing_else()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var conversation = await AspireAi.Tests.Chat.ChatTestData.CreateConversationAsync(client);
        var other = await AspireAi.Tests.Chat.ChatTestData.CreateConversationAsync(client);
        await MemoryTestData.ChatAsync(client, conversation, "For this conversation, call me Captain.");
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        var ending = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));
        Assert.Equal(("Prefers to be called Captain", "session"), (ending.Text, ending.Scope));
        await MemoryTestData.PostMemoryAsync(client, new { text = "Prefers short answers", infer = false, scope = "session", sessionId = other.ToString("D") });
        await MemoryTestData.PostMemoryAsync(client, new { text = "Speaks Icelandic", infer = false });
        var sessions = factory.Services.GetRequiredService<SessionMemoryStore>();
        Assert.Equal(2, (await sessions.KeysAsync(user.Id, CancellationToken.None)).Count);

        using var deleted = await client.DeleteAsync($"/v1/conversations/{conversation}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        Assert.Equal(["Prefers short answers", "Speaks Icelandic"],
            (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false)).Select(m => m.Text).Order(StringComparer.Ordinal));
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memory_history WHERE memory_id = $1", ending.Id));
        Assert.Equal([SessionMemoryStore.KeyOf(user.Id, other.ToString("D"))], await sessions.KeysAsync(user.Id, CancellationToken.None));
        Assert.Empty(await sessions.ReadAsync(user.Id, conversation.ToString("D"), CancellationToken.None));
    }

    [Fact]
    public async Task A_session_memory_redis_still_holds_but_postgres_no_longer_has_current_is_not_injected()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var conversation = await AspireAi.Tests.Chat.ChatTestData.CreateConversationAsync(client);
        var session = conversation.ToString("D");
        var trip = (await MemoryTestData.PostMemoryAsync(client, new { text = "Is planning a trip to Lisbon in May", infer = false, scope = "session", sessionId = session }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var hotel = (await MemoryTestData.PostMemoryAsync(client, new { text = "Wants a hotel in Lisbon near the river", infer = false, scope = "session", sessionId = session }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var before = await MemoryTestData.ChatAsync(client, conversation, "Any tips for my Lisbon trip and the hotel?");
        Assert.Contains(trip, before.MemoryIds);
        Assert.Contains(hotel, before.MemoryIds);

        // The row is superseded in Postgres while the Redis mirror keeps the old entry (a mirror write that lagged or failed).
        await using (var invalidate = factory.DataSource.CreateCommand(
            "UPDATE memories SET invalidated_at = now(), invalidated_reason = 'superseded' WHERE id = $1"))
        {
            invalidate.Parameters.Add(new() { Value = trip });
            await invalidate.ExecuteNonQueryAsync();
        }
        Assert.Equal(2, (await factory.Services.GetRequiredService<SessionMemoryStore>().ReadAsync(user.Id, session, CancellationToken.None)).Count);

        var after = await MemoryTestData.ChatAsync(client, conversation, "Any tips for my Lisbon trip and the hotel?");
        Assert.DoesNotContain(trip, after.MemoryIds);
        Assert.Contains(hotel, after.MemoryIds);
    }

    private async Task<Guid> InsertApiSourceAsync(RegisteredUser user, string content, string scope = "user", string? sessionId = null)
    {
        var sourceId = Guid.CreateVersion7();
        await using var insert = factory.DataSource.CreateCommand("""
            INSERT INTO memory_sources (id, kind, org_id, user_id, session_id, scope, input, status)
            VALUES ($1, 'api', $2, $3, $4, $5, $6::jsonb, 'queued')
            """);
        insert.Parameters.Add(new() { Value = sourceId });
        insert.Parameters.Add(new() { Value = user.OrgId });
        insert.Parameters.Add(new() { Value = user.Id });
        insert.Parameters.Add(new() { Value = (object?)sessionId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = scope });
        insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(new[] { new { role = "user", content } }) });
        await insert.ExecuteNonQueryAsync();
        return sourceId;
    }

    /// <summary>Runs a handler and then fails, as a job whose commit is refused: its transaction rolls back.</summary>
    private sealed class FailingAfter(AspireAi.Core.Jobs.IJobHandler inner) : AspireAi.Core.Jobs.IJobHandler
    {
        public string Type => inner.Type;

        public async Task HandleAsync(AspireAi.Core.Jobs.JobContext context, CancellationToken cancellationToken)
        {
            await inner.HandleAsync(context, cancellationToken);
            throw new InvalidOperationException("The job's transaction does not commit.");
        }
    }

    /// <summary>The real model behind a gate: the first call reports that it started and waits until released.</summary>
    private sealed class GatedChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate.TrySetResult();

        public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await _gate.Task.WaitAsync(cancellationToken);
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
    }
}
