using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Jobs;
using Microsoft.Extensions.DependencyInjection;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>The acceptance scenarios, end to end through the chat with the offline model.</summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryScenarioTests(ApiFactory factory)
{
    [Fact]
    public async Task Scenario1_a_new_employer_supersedes_the_old_one_and_is_injected_in_a_new_conversation()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        await MemoryTestData.SayAsync(factory, client, user.Id, "I work at Acme Corp in the billing team. We use Stripe.");
        var first = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id);
        Assert.Equal(["Works at Acme Corp", "Is in the billing team", "Uses Stripe"], first.Select(m => m.Text));
        var acme = first[0];

        await MemoryTestData.SayAsync(factory, client, user.Id, "I just joined Globex as a platform engineer.");
        var current = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id);
        var globex = Assert.Single(current, m => m.Text.Contains("Globex", StringComparison.Ordinal));
        Assert.Equal("Works at Globex as a platform engineer", globex.Text);
        Assert.DoesNotContain(current, m => m.Text.Contains("Acme", StringComparison.Ordinal));
        var old = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false), m => m.Id == acme.Id);
        Assert.NotNull(old.InvalidatedAt);
        Assert.Equal("superseded", old.InvalidatedReason);
        Assert.Equal(["ADD:extractor", "UPDATE:extractor", "UPDATE:extractor"], await MemoryTestData.HistoryAsync(factory.DataSource, acme.Id));

        // A new conversation: the SSE done event lists the memory and the offline model answers from it.
        var conversation = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = "Where do I work?" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await SseReader.ReadAllAsync(response);
        var done = events.Single(e => e.Event == "done").Data;
        var memoryIds = done.GetProperty("memoryIds").EnumerateArray().Select(e => e.GetGuid()).ToList();
        Assert.Contains(globex.Id, memoryIds);
        Assert.DoesNotContain(acme.Id, memoryIds);
        var answer = string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data.GetProperty("text").GetString()));
        Assert.Contains("Works at Globex as a platform engineer", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("Acme", answer, StringComparison.Ordinal);

        // Used memories count as accessed (written just after the turn).
        await JobsTestData.WaitUntilAsync(async () => await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM memories WHERE id = $1 AND access_count >= 1 AND last_accessed_at IS NOT NULL", globex.Id) == 1,
            TimeSpan.FromSeconds(10), "the memory's use to be recorded");
    }

    [Fact]
    public async Task Scenario2_a_standing_instruction_is_procedural_and_injected_when_the_user_asks_for_code()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        await MemoryTestData.SayAsync(factory, client, user.Id, "Always use TypeScript for code examples");
        var instruction = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));
        Assert.Equal(("Always use TypeScript for code examples", "procedural"), (instruction.Text, instruction.Type));

        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client),
            "Show me a code example that reverses a string");
        Assert.Contains(instruction.Id, answer.MemoryIds);
        Assert.Contains("TypeScript", answer.Content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scenario3_the_same_fact_said_three_times_is_one_memory_with_noops()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        await MemoryTestData.SayAsync(factory, client, user.Id, "I use Kubernetes at work.");
        await MemoryTestData.SayAsync(factory, client, user.Id, "I use Kubernetes at work.");
        await MemoryTestData.SayAsync(factory, client, user.Id, "I use Kubernetes at work!");

        var memory = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false));
        Assert.Null(memory.InvalidatedAt);
        Assert.Equal(["ADD:extractor", "NOOP:extractor", "NOOP:extractor"], await MemoryTestData.HistoryAsync(factory.DataSource, memory.Id));
        // Each repetition is recorded as a source of the memory.
        Assert.Equal(3, await MemoryTestData.CountAsync(factory.DataSource, "SELECT cardinality(source_message_ids) FROM memories WHERE id = $1", memory.Id));
    }

    [Fact]
    public async Task Scenario4_forget_that_invalidates_the_memory()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await MemoryTestData.SayAsync(factory, client, user.Id, "I work at Acme Corp. We use Stripe.");
        var stripe = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id), m => m.Text == "Uses Stripe");

        await MemoryTestData.SayAsync(factory, client, user.Id, "Forget that I use Stripe");

        var current = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id);
        Assert.Equal(["Works at Acme Corp"], current.Select(m => m.Text));
        var retracted = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false), m => m.Id == stripe.Id);
        Assert.Equal("retracted", retracted.InvalidatedReason);
        Assert.Equal(["ADD:extractor", "DELETE:extractor"], await MemoryTestData.HistoryAsync(factory.DataSource, stripe.Id));

        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "Which payment provider do we use? Stripe?");
        Assert.DoesNotContain(stripe.Id, answer.MemoryIds);
    }

    [Fact]
    public async Task Scenario5_user_b_never_sees_user_a_memories_through_any_endpoint()
    {
        var (alice, aliceUser) = await factory.CreateUserClientAsync();
        var (bob, _) = await factory.CreateUserClientAsync();
        await MemoryTestData.SayAsync(factory, alice, aliceUser.Id, "I work at Initrode in the audit team.");
        var secret = await MemoryTestData.PostMemoryAsync(alice, new { text = "Prefers oolong tea", infer = false });
        var id = secret.GetProperty("memory").GetProperty("id").GetGuid();
        var aliceIds = (await MemoryTestData.MemoriesAsync(factory.DataSource, aliceUser.Id)).Select(m => m.Id).ToHashSet();

        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, $"/v1/memories/{id}", null),
            (HttpMethod.Put, $"/v1/memories/{id}", new { text = "Prefers green tea" }),
            (HttpMethod.Delete, $"/v1/memories/{id}", null),
            (HttpMethod.Get, $"/v1/memories/{id}/history", null),
        })
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await bob.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var listed = await MemoryTestData.GetJsonAsync(bob, "/v1/memories?includeInvalidated=true&limit=100");
        Assert.DoesNotContain(listed.GetProperty("items").EnumerateArray(), m => aliceIds.Contains(m.GetProperty("id").GetGuid()));
        using var search = await bob.PostAsJsonAsync("/v1/memories/search", new { query = "oolong tea Initrode audit team", top_k = 50 });
        var hits = (await search.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items");
        Assert.DoesNotContain(hits.EnumerateArray(), m => aliceIds.Contains(m.GetProperty("id").GetGuid()));
        var export = await MemoryTestData.GetJsonAsync(bob, "/v1/memories/export");
        Assert.Empty(export.GetProperty("memories").EnumerateArray());
        Assert.Empty(export.GetProperty("history").EnumerateArray());
        var chat = await MemoryTestData.ChatAsync(bob, await ChatTestData.CreateConversationAsync(bob), "Where do I work and what tea do I like?");
        Assert.DoesNotContain(chat.MemoryIds, aliceIds.Contains);
        Assert.DoesNotContain("Initrode", chat.Content, StringComparison.Ordinal);

        // Bob's erasure leaves Alice's memory alone; her memory is unchanged by his attempts.
        using (var erase = await bob.DeleteAsync("/v1/memories"))
        {
            Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        }
        var still = await MemoryTestData.GetJsonAsync(alice, $"/v1/memories/{id}");
        Assert.Equal(("Prefers oolong tea", true), (still.GetProperty("text").GetString(), still.GetProperty("isCurrent").GetBoolean()));
    }

    [Fact]
    public async Task Scenario6_a_session_memory_disappears_when_its_ttl_passes()
    {
        await using var shortSessions = factory.WithSettings(new Dictionary<string, string?> { ["Memory:SessionTtl"] = "00:00:02" });
        var (client, user) = await shortSessions.CreateUserClientAsync();
        var conversation = await ChatTestData.CreateConversationAsync(client);
        var sessionId = conversation.ToString("D");

        // Said in the chat: extraction files it under the session.
        await MemoryTestData.ChatAsync(client, conversation, "For this conversation, call me Captain.");
        await MemoryTestData.RunExtractionsAsync(shortSessions, user.Id);
        var memory = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));
        Assert.Equal(("Prefers to be called Captain", "session"), (memory.Text, memory.Scope));
        var sessions = shortSessions.Services.GetRequiredService<SessionMemoryStore>();
        Assert.Single(await sessions.KeysAsync(user.Id, CancellationToken.None));

        var during = await MemoryTestData.ChatAsync(client, conversation, "What am I called?");
        Assert.Contains(memory.Id, during.MemoryIds);
        Assert.Contains("Captain", during.Content, StringComparison.Ordinal);
        var elsewhere = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "What am I called?");
        Assert.DoesNotContain(memory.Id, elsewhere.MemoryIds); // another session

        await Task.Delay(TimeSpan.FromSeconds(2.5));

        var after = await MemoryTestData.ChatAsync(client, conversation, "What am I called?");
        Assert.DoesNotContain(memory.Id, after.MemoryIds);
        Assert.Empty(await sessions.KeysAsync(user.Id, CancellationToken.None));
        using (var get = await client.GetAsync($"/v1/memories/{memory.Id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }
        var listed = await MemoryTestData.GetJsonAsync(client, $"/v1/memories?scope=session&sessionId={sessionId}&includeInvalidated=true");
        Assert.Empty(listed.GetProperty("items").EnumerateArray());

        // The expiry job then removes the row and its history: nothing of the session outlives it.
        await MemoryTestData.RunMaintenanceAsync<MemoryExpireJob>(shortSessions);
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memories WHERE user_id = $1", user.Id));
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memory_history WHERE memory_id = $1", memory.Id));
    }

    [Fact]
    public async Task Scenario7_erasure_leaves_no_memory_rows_history_embeddings_entity_links_or_redis_keys()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var (other, otherUser) = await factory.CreateUserClientAsync();
        var uniqueOrg = $"Zorblax{Guid.NewGuid():N}"[..18];
        await MemoryTestData.SayAsync(factory, client, user.Id, $"I work at {uniqueOrg} in the research team. We use Stripe.");
        await MemoryTestData.SayAsync(factory, client, user.Id, "I just joined Globex as a platform engineer.");
        var conversation = await ChatTestData.CreateConversationAsync(client);
        await MemoryTestData.PostMemoryAsync(client, new { text = "Prefers short answers", infer = false, scope = "session", sessionId = conversation.ToString("D") });
        await MemoryTestData.SayAsync(factory, other, otherUser.Id, "We use Stripe.");
        var ids = (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false)).Select(m => m.Id).ToArray();
        Assert.True(ids.Length >= 5);
        Assert.True(await MemoryTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM memory_entities WHERE memory_id = ANY($1)", ids) > 0);
        var sessions = factory.Services.GetRequiredService<SessionMemoryStore>();
        Assert.NotEmpty(await sessions.KeysAsync(user.Id, CancellationToken.None));

        using var response = await client.DeleteAsync("/v1/memories");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var erased = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ids.Length, erased.GetProperty("memories").GetInt64());
        Assert.Equal(1, erased.GetProperty("redisKeys").GetInt64());

        var db = factory.DataSource;
        Assert.Equal(0, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM memories WHERE user_id = $1 OR id = ANY($2)", user.Id, ids));
        Assert.Equal(0, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM memory_history WHERE owner_user_id = $1 OR memory_id = ANY($2) OR actor_user_id = $1", user.Id, ids));
        Assert.Equal(0, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM memory_entities WHERE memory_id = ANY($1)", ids));
        Assert.Equal(0, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM memory_sources WHERE user_id = $1", user.Id));
        Assert.Equal(0, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM entities WHERE normalized_name = $1", uniqueOrg.ToLowerInvariant()));
        Assert.Empty(await sessions.KeysAsync(user.Id, CancellationToken.None));
        // Shared entities another user's memory links stay, and so does that memory.
        Assert.Equal(1, await MemoryTestData.CountAsync(db, "SELECT count(*) FROM entities WHERE normalized_name = 'stripe'"));
        Assert.Single(await MemoryTestData.MemoriesAsync(db, otherUser.Id));
        // The audit trail records the erasure with counts and no content.
        await using var audit = db.CreateCommand("SELECT details::text FROM audit_log WHERE actor_user_id = $1 AND action = 'memory.erased'");
        audit.Parameters.Add(new() { Value = user.Id });
        var details = (string)(await audit.ExecuteScalarAsync())!;
        Assert.DoesNotContain("Globex", details, StringComparison.Ordinal);
        Assert.Contains("\"memories\"", details, StringComparison.Ordinal);
        // And the user starts over with an empty memory.
        Assert.Empty((await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=user,session&includeInvalidated=true")).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task A_memory_sharing_no_word_with_the_question_is_injected_by_meaning()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var memory = (await MemoryTestData.PostMemoryAsync(client, new { text = "I live in Lisbon", infer = false })).GetProperty("memory");
        Assert.Equal(OfflineModels.EmbeddingModelId, memory.GetProperty("embeddingModel").GetString());

        // No word in common (nor an entity): only the MiniLM similarity can bring the memory into the chat context
        // (memoryIds lists the memories of the injected block).
        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "Where is the user's home?");
        Assert.Equal([memory.GetProperty("id").GetGuid()], answer.MemoryIds);
    }
}
