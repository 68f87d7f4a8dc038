using System.Collections.Concurrent;
using System.Net;
using AspireAi.Core.Chat;
using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspireAi.Tests.Chat;

/// <summary>
/// A turn in a conversation whose agent the Api already knows starts its context search beside the read that checks
/// the turn. The search leaves nothing behind that needs the turn; a refused turn stops it and drops what it found;
/// it only ever starts from the caller's own accepted turns, and never again for a conversation found gone.
/// </summary>
public sealed class EarlyContextSearchTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Fact = "The user's favourite colour is green.";

    [Fact]
    public async Task A_memory_search_counts_its_uses_only_when_the_turn_completes_it()
    {
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Memory:AccessRecordInterval"] = "00:00:00", // every use written, in the turn
            ["Memory:MinScore"] = "0",
        });
        var (client, user) = await api.CreateUserClientAsync();
        var memoryId = (await MemoryTestData.PostMemoryAsync(client, new { text = Fact, infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var provider = api.Services.GetServices<IChatContextProvider>().OfType<MemoryContextProvider>().Single();
        var request = new ChatContextRequest(user.Id, user.OrgId, "default", Guid.CreateVersion7(), "Which colour do I like best?");

        var draft = await provider.SearchAsync(request, CancellationToken.None);

        Assert.NotNull(draft);
        Assert.Equal(0, await AccessCountAsync(api.DataSource, memoryId));
        var block = await draft.CompleteAsync(CancellationToken.None);
        Assert.Equal([memoryId], block?.MemoryIds);
        Assert.Equal(1, await AccessCountAsync(api.DataSource, memoryId));
    }

    [Fact]
    public async Task A_turn_refused_for_its_budget_stops_the_early_search_and_leaves_nothing_behind()
    {
        var recorder = new RecordingProvider();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Chat:DailyTokenBudget"] = "100000",
            ["Memory:AccessRecordInterval"] = "00:00:00",
            ["Memory:MinScore"] = "0",
        }).WithHost(host => host.ConfigureTestServices(services => services.AddSingleton<IChatContextProvider>(recorder)));
        var (client, user) = await api.CreateUserClientAsync();
        var memoryId = (await MemoryTestData.PostMemoryAsync(client, new { text = Fact, infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(client);

        var first = await MemoryTestData.ChatAsync(client, conversation, "Which colour do I like best?");
        Assert.Contains(memoryId, first.MemoryIds);
        Assert.Equal(1, await AccessCountAsync(api.DataSource, memoryId));
        await SpendAsync(api.DataSource, user.Id, user.OrgId, 100_000);

        using (var refused = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = "hold: which colour again?" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        // The search started before the budget was read, on the conversation's agent, and the refusal stopped it.
        await recorder.StoppedAsync("hold: which colour again?");
        var early = Assert.Single(recorder.Searches, s => s.Query == "hold: which colour again?");
        Assert.Equal((user.Id, conversation, "default"), (early.UserId, early.ConversationId, early.AgentId));
        // Nothing the refused turn's memory search found was counted as used, and nothing was stored.
        Assert.Equal(1, await AccessCountAsync(api.DataSource, memoryId));
        Assert.Equal(2, (await ChatTestData.MessagesAsync(api.DataSource, conversation)).Count);
    }

    [Fact]
    public async Task Only_the_owner_accepted_turns_start_early_searches_and_a_deleted_conversation_stops_them()
    {
        var recorder = new RecordingProvider();
        await using var api = factory.WithHost(host => host.ConfigureTestServices(services => services.AddSingleton<IChatContextProvider>(recorder)));
        var (owner, ownerUser) = await api.CreateUserClientAsync();
        var (other, otherUser) = await api.CreateUserClientAsync();
        var conversation = await ChatTestData.CreateConversationAsync(owner);

        await MemoryTestData.ChatAsync(owner, conversation, "Hello there.");
        await MemoryTestData.ChatAsync(owner, conversation, "Hello again.");
        // One search a turn: the second turn's early search is the one it used.
        Assert.Equal(["Hello there.", "Hello again."], recorder.Searches.Select(s => s.Query));

        // The owner's conversation is known, but not to another user: their turn is refused before any search.
        using (var intruding = await other.SendAsync(ChatTestData.SendRequest(conversation, new { content = "hold: let me in" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.NotFound, intruding.StatusCode);
        }
        Assert.DoesNotContain(recorder.Searches, s => s.UserId == otherUser.Id);

        using (var deleted = await owner.DeleteAsync($"/v1/conversations/{conversation}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        // The next turn still searches early (the conversation was known), is refused, and stops its search ...
        using (var gone = await owner.SendAsync(ChatTestData.SendRequest(conversation, new { content = "hold: still there?" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
        await recorder.StoppedAsync("hold: still there?");
        // ... and the one after it no longer does.
        using (var again = await owner.SendAsync(ChatTestData.SendRequest(conversation, new { content = "hold: anyone?" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }
        Assert.DoesNotContain(recorder.Searches, s => s.Query == "hold: anyone?");
        Assert.All(recorder.Searches, s => Assert.Equal(ownerUser.Id, s.UserId));
        Assert.DoesNotContain(await ChatTestData.MessagesAsync(api.DataSource, conversation), m => m.Content.StartsWith("hold:", StringComparison.Ordinal));
    }

    private static async Task SpendAsync(NpgsqlDataSource dataSource, Guid userId, Guid orgId, int tokens)
    {
        await using var spend = dataSource.CreateCommand("""
            INSERT INTO usage_ledger (user_id, org_id, operation, model, input_tokens, output_tokens, cost)
            VALUES ($1, $2, 'chat', 'offline-chat-1', $3, 0, 0)
            """);
        spend.Parameters.Add(new() { Value = userId });
        spend.Parameters.Add(new() { Value = orgId });
        spend.Parameters.Add(new() { Value = tokens });
        await spend.ExecuteNonQueryAsync();
    }

    private static Task<long> AccessCountAsync(NpgsqlDataSource dataSource, Guid memoryId) =>
        ChatTestData.CountAsync(dataSource, "SELECT access_count::bigint FROM memories WHERE id = $1", memoryId);

    /// <summary>Records every search; one whose question starts with "hold:" waits until it is stopped.</summary>
    private sealed class RecordingProvider : IChatContextProvider
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _stopped = new(StringComparer.Ordinal);

        public ConcurrentQueue<ChatContextRequest> Searches { get; } = new();

        public string Name => "recording";

        public async Task<ChatContextDraft?> SearchAsync(ChatContextRequest request, CancellationToken cancellationToken)
        {
            Searches.Enqueue(request);
            if (request.Query.StartsWith("hold:", StringComparison.Ordinal))
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                finally
                {
                    Stopped(request.Query).TrySetResult();
                }
            }
            return null;
        }

        public Task StoppedAsync(string query) => Stopped(query).Task.WaitAsync(TimeSpan.FromSeconds(30));

        private TaskCompletionSource Stopped(string query) =>
            _stopped.GetOrAdd(query, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
