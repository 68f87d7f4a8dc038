using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Memory;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using Npgsql;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

[Collection(MemoryCollection.Name)]
public sealed class MemoriesApiTests(ApiFactory factory)
{
    [Fact]
    public async Task An_extraction_request_is_followed_by_its_owner_from_queued_to_done_skipped_or_failed()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var (stranger, _) = await factory.CreateUserClientAsync();
        var (admin, _) = await factory.CreateAdminClientAsync();

        using var response = await client.PostAsJsonAsync("/v1/memories", new { text = "I live in Lisbon and I use Rust." });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sourceId = (await response.ReadJsonAsync()).GetProperty("sourceId").GetGuid();
        var location = response.Headers.Location!.ToString();
        Assert.Equal($"/v1/memories/extractions/{sourceId}", location);

        var queued = await MemoryTestData.GetJsonAsync(client, location);
        Assert.Equal(("queued", 0), (queued.GetProperty("status").GetString(), queued.GetProperty("attempts").GetInt32()));
        using (var foreign = await stranger.GetAsync(location))
        {
            await foreign.ReadProblemAsync(HttpStatusCode.NotFound);
        }

        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        var done = await MemoryTestData.GetJsonAsync(client, location);
        Assert.Equal(("done", 2), (done.GetProperty("status").GetString(), done.GetProperty("facts").GetInt32()));
        Assert.Equal(2, done.GetProperty("operations").EnumerateObject().Sum(o => o.Value.GetInt32()));
        Assert.Equal(JsonValueKind.String, done.GetProperty("processedAt").ValueKind);

        // Asked not to remember: nothing is queued, and the request says why.
        var optOut = await MemoryTestData.PostMemoryAsync(client, new { text = "Don't remember this: I am allergic to nuts." }, HttpStatusCode.Accepted);
        var skipped = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/extractions/{optOut.GetProperty("sourceId").GetGuid()}");
        Assert.Equal(("skipped", "opt_out"), (skipped.GetProperty("status").GetString(), skipped.GetProperty("reason").GetString()));

        // An extraction whose job an administrator cancelled is failed, with no job internals shown.
        var doomed = await MemoryTestData.PostMemoryAsync(client, new { text = "I play the oboe." }, HttpStatusCode.Accepted);
        using (var cancel = await admin.PostAsync($"/v1/admin/jobs/{doomed.GetProperty("jobId").GetInt64()}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
        var failed = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/extractions/{doomed.GetProperty("sourceId").GetGuid()}");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Contains("cancelled", failed.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_verbatim_memory_is_created_read_updated_with_history_and_deleted()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var created = await client.PostAsJsonAsync("/v1/memories", new
        {
            text = "Prefers answers in British English",
            infer = false,
            type = "procedural",
            importance = 0.9,
            metadata = new { origin = "settings-page" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        Assert.Equal("ADD", body.GetProperty("operation").GetString());
        var memory = body.GetProperty("memory");
        var id = memory.GetProperty("id").GetGuid();
        Assert.Equal($"/v1/memories/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal(("procedural", "user", 0.9f), (memory.GetProperty("type").GetString(), memory.GetProperty("scope").GetString(), memory.GetProperty("importance").GetSingle()));
        Assert.Equal("settings-page", memory.GetProperty("metadata").GetProperty("origin").GetString());
        Assert.Equal("all-MiniLM-L6-v2", memory.GetProperty("embeddingModel").GetString());
        Assert.Contains(memory.GetProperty("entities").EnumerateArray(), e => e.GetProperty("name").GetString() == "British English");

        // The same text again is a NOOP on the same memory, not a second one.
        using (var again = await client.PostAsJsonAsync("/v1/memories", new { text = "prefers answers in british english.", infer = false }))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            var noop = await again.ReadJsonAsync();
            Assert.Equal(("NOOP", id), (noop.GetProperty("operation").GetString(), noop.GetProperty("memory").GetProperty("id").GetGuid()));
        }

        using var updated = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Prefers answers in American English" });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var update = await updated.ReadJsonAsync();
        Assert.Equal(("UPDATE", id), (update.GetProperty("operation").GetString(), update.GetProperty("previousId").GetGuid()));
        var newId = update.GetProperty("memory").GetProperty("id").GetGuid();
        Assert.NotEqual(id, newId);
        Assert.Equal(id, update.GetProperty("memory").GetProperty("supersedesId").GetGuid());
        Assert.Equal("procedural", update.GetProperty("memory").GetProperty("type").GetString());

        // The old version stays readable as history; the current one links back to it.
        var old = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{id}");
        Assert.False(old.GetProperty("isCurrent").GetBoolean());
        Assert.Equal(("superseded", newId), (old.GetProperty("invalidatedReason").GetString(), old.GetProperty("supersededById").GetGuid()));
        var history = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{newId}/history");
        var items = history.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["ADD:api", "NOOP:api", "UPDATE:user", "UPDATE:user"], items.Select(h => $"{h.GetProperty("operation").GetString()}:{h.GetProperty("actor").GetString()}"));
        Assert.Equal(("Prefers answers in British English", "Prefers answers in American English"),
            (items[^1].GetProperty("oldText").GetString(), items[^1].GetProperty("newText").GetString()));
        Assert.Equal(user.Id, items[^1].GetProperty("actorUserId").GetGuid());

        // Updating an old version is a conflict that points at the current one.
        using (var stale = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Prefers answers in Scots" }))
        {
            var problem = await stale.ReadProblemAsync(HttpStatusCode.Conflict);
            Assert.Equal(newId, problem.GetProperty("currentId").GetGuid());
        }

        using (var deleted = await client.DeleteAsync($"/v1/memories/{newId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        using (var twice = await client.DeleteAsync($"/v1/memories/{newId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, twice.StatusCode);
        }
        var gone = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{newId}");
        Assert.Equal("deleted", gone.GetProperty("invalidatedReason").GetString());
        Assert.Empty((await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=user,session")).GetProperty("items").EnumerateArray());
        Assert.Equal(2, (await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=user&includeInvalidated=true")).GetProperty("items").GetArrayLength());
        var lastHistory = (await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{newId}/history")).GetProperty("items").EnumerateArray().Last();
        Assert.Equal(("DELETE", "user"), (lastHistory.GetProperty("operation").GetString(), lastHistory.GetProperty("actor").GetString()));
    }

    [Fact]
    public async Task Put_with_the_same_text_and_another_type_or_importance_is_a_new_version_with_history()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Reviews pull requests before lunch", infer = false, type = "semantic", importance = 0.4 }))
            .GetProperty("memory").GetProperty("id").GetGuid();

        using var updated = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Reviews pull requests before lunch", type = "procedural", importance = 0.9 });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var update = await updated.ReadJsonAsync();
        Assert.Equal(("UPDATE", id), (update.GetProperty("operation").GetString(), update.GetProperty("previousId").GetGuid()));
        var current = update.GetProperty("memory");
        var newId = current.GetProperty("id").GetGuid();
        Assert.NotEqual(id, newId);
        Assert.Equal(("Reviews pull requests before lunch", "procedural", 0.9), (current.GetProperty("text").GetString(), current.GetProperty("type").GetString(),
            Math.Round(current.GetProperty("importance").GetDouble(), 3)));
        var old = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{id}");
        Assert.Equal(("superseded", "semantic"), (old.GetProperty("invalidatedReason").GetString(), old.GetProperty("type").GetString()));
        var items = (await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{newId}/history")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["ADD:api", "UPDATE:user", "UPDATE:user"], items.Select(h => $"{h.GetProperty("operation").GetString()}:{h.GetProperty("actor").GetString()}"));
        Assert.Contains("type semantic → procedural, importance 0.4 → 0.9", items[^1].GetProperty("reason").GetString(), StringComparison.Ordinal);

        // Nothing changed at all: still a NOOP on the current version.
        using var same = await client.PutAsJsonAsync($"/v1/memories/{newId}", new { text = "Reviews pull requests before lunch", type = "procedural", importance = 0.9 });
        var noop = await same.ReadJsonAsync();
        Assert.Equal(("NOOP", newId), (noop.GetProperty("operation").GetString(), noop.GetProperty("memory").GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task Infer_true_answers_202_with_a_job_and_the_job_extracts_the_facts()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var response = await client.PostAsJsonAsync("/v1/memories", new
        {
            messages = new[]
            {
                new { role = "user", content = "I live in Porto and my favorite color is teal." },
                new { role = "assistant", content = "Nice! Porto is lovely." },
            },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.ReadJsonAsync();
        Assert.Equal("queued", accepted.GetProperty("status").GetString());
        Assert.True(accepted.GetProperty("jobId").GetInt64() > 0);
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        Assert.Equal(["Lives in Porto", "Favorite color is teal"], (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id)).Select(m => m.Text));
        Assert.Equal(1, await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM memory_sources WHERE id = $1 AND status = 'done' AND facts = 2", accepted.GetProperty("sourceId").GetGuid()));
    }

    public static TheoryData<string, string> BadCreateRequests => new()
    {
        { """{}""", "text" },
        { """{"text": "   "}""", "text" },
        { """{"text": "Uses Go", "messages": [{"role": "user", "content": "I use Go"}]}""", "messages" },
        { """{"messages": [{"role": "user", "content": "I use Go"}], "infer": false}""", "messages" },
        { """{"messages": [{"role": "system", "content": "x"}]}""", "messages[0].role" },
        { """{"messages": [{"role": "user", "content": ""}]}""", "messages[0].content" },
        { """{"text": "Uses Go", "scope": "team"}""", "scope" },
        { """{"text": "Uses Go", "scope": "session"}""", "sessionId" },
        { """{"text": "Uses Go", "sessionId": "abc"}""", "sessionId" },
        { """{"text": "Uses Go", "scope": "agent"}""", "agentId" },
        { """{"text": "Uses Go", "infer": false, "type": "opinion"}""", "type" },
        { """{"text": "Uses Go", "type": "semantic"}""", "type" },
        { """{"text": "Uses Go", "infer": false, "importance": 1.5}""", "importance" },
        { """{"text": "Uses Go", "infer": false, "expiresAt": "2001-01-01T00:00:00Z"}""", "expiresAt" },
        { """{"text": "Uses Go", "infer": false, "metadata": [1, 2]}""", "metadata" },
        { """{"text": "My card is 4111 1111 1111 1111", "infer": false}""", "text" },
        { """{"text": "Uses Go", "agentId": "Bad Agent!"}""", "agentId" },
    };

    [Theory]
    [MemberData(nameof(BadCreateRequests))]
    public async Task Bad_create_requests_are_400_naming_the_field(string json, string field)
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var response = await client.PostAsync("/v1/memories", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Theory]
    [InlineData("""{"query": ""}""", "query")]
    [InlineData("""{"query": "tea", "topK": 0}""", "topK")]
    [InlineData("""{"query": "tea", "top_k": 500}""", "top_k")]
    [InlineData("""{"query": "tea", "filters": {"scope": ["user", "planet"]}}""", "filters.scope")]
    [InlineData("""{"query": "tea", "filters": {"type": 3}}""", "filters.type")]
    public async Task Bad_searches_are_400_naming_the_field(string json, string field)
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var response = await client.PostAsync("/v1/memories/search", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Theory]
    [InlineData("?scope=planet", "scope")]
    [InlineData("?type=opinion", "type")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?cursor=not-a-cursor", "cursor")]
    public async Task Bad_list_queries_are_400_naming_the_field(string query, string field)
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var response = await client.GetAsync("/v1/memories" + query);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task Bad_updates_are_400_and_unknown_ids_404_everywhere()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Uses Vim", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();

        using (var empty = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "" }))
        {
            Assert.True((await empty.ReadProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("text", out _));
        }
        using (var secret = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "My password is hunter22" }))
        {
            Assert.True((await secret.ReadProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("text", out _));
        }
        using (var type = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Uses Emacs", type = "opinion" }))
        {
            Assert.True((await type.ReadProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("type", out _));
        }
        var unknown = Guid.NewGuid();
        await (await client.GetAsync($"/v1/memories/{unknown}")).ReadProblemAsync(HttpStatusCode.NotFound);
        await (await client.PutAsJsonAsync($"/v1/memories/{unknown}", new { text = "Uses Emacs" })).ReadProblemAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/v1/memories/{unknown}")).ReadProblemAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/v1/memories/{unknown}/history")).ReadProblemAsync(HttpStatusCode.NotFound);
        using var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/memories")).StatusCode);
    }

    [Fact]
    public async Task Only_admins_write_org_and_agent_memories_which_every_user_of_the_org_then_reads()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var (client, _) = await factory.CreateUserClientAsync();
        var marker = $"Quokka{Guid.NewGuid():N}"[..14];

        await (await client.PostAsJsonAsync("/v1/memories", new { text = $"The office wifi is called {marker}", infer = false, scope = "org" }))
            .ReadProblemAsync(HttpStatusCode.Forbidden);
        await (await client.PostAsJsonAsync("/v1/memories", new { text = "Answer like a pirate", infer = false, scope = "agent", agentId = "pirate" }))
            .ReadProblemAsync(HttpStatusCode.Forbidden);

        var org = await MemoryTestData.PostMemoryAsync(admin, new { text = $"The office wifi is called {marker}", infer = false, scope = "org" });
        var orgId = org.GetProperty("memory").GetProperty("id").GetGuid();
        var agent = await MemoryTestData.PostMemoryAsync(admin, new { text = $"Always sign answers as {marker} the pirate", infer = false, scope = "agent", agentId = "default", type = "procedural" });
        var agentMemoryId = agent.GetProperty("memory").GetProperty("id").GetGuid();

        // Every user of the organisation reads them, in the API and in the chat.
        var read = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{orgId}");
        Assert.Equal("org", read.GetProperty("scope").GetString());
        var listed = await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=org,agent&limit=100");
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), m => m.GetProperty("id").GetGuid() == agentMemoryId);
        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), $"What is the office wifi called? Is it {marker}?");
        Assert.Contains(orgId, answer.MemoryIds);

        // ...but only administrators change them.
        await (await client.PutAsJsonAsync($"/v1/memories/{orgId}", new { text = "The office wifi is called Guest" })).ReadProblemAsync(HttpStatusCode.Forbidden);
        await (await client.DeleteAsync($"/v1/memories/{orgId}")).ReadProblemAsync(HttpStatusCode.Forbidden);
        using (var adminDelete = await admin.DeleteAsync($"/v1/memories/{agentMemoryId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, adminDelete.StatusCode);
        }
        var history = (await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{agentMemoryId}/history")).GetProperty("items").EnumerateArray().Last();
        Assert.Equal(("DELETE", "admin"), (history.GetProperty("operation").GetString(), history.GetProperty("actor").GetString()));

        // A user's erasure never touches shared memories.
        using (var erase = await client.DeleteAsync("/v1/memories"))
        {
            Assert.Equal(HttpStatusCode.OK, erase.StatusCode);
        }
        Assert.True((await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{orgId}")).GetProperty("isCurrent").GetBoolean());
        using (var cleanup = await admin.DeleteAsync($"/v1/memories/{orgId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, cleanup.StatusCode);
        }
    }

    [Fact]
    public async Task Administrators_browse_the_memories_of_their_organisation_and_every_look_is_audited()
    {
        var (admin, adminUser) = await factory.CreateAdminClientAsync();
        var (client, user) = await factory.CreateUserClientAsync();
        var created = await MemoryTestData.PostMemoryAsync(client, new { text = "Prefers tea over coffee", infer = false });
        var id = created.GetProperty("memory").GetProperty("id").GetGuid();
        await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Prefers coffee over tea" });

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/v1/admin/memories")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync($"/v1/admin/memories/{id}")).StatusCode);

        var listed = await MemoryTestData.GetJsonAsync(admin, $"/v1/admin/memories?userId={user.Id}&includeInvalidated=true");
        Assert.Equal(["Prefers coffee over tea", "Prefers tea over coffee"], listed.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("text").GetString()));
        var detail = await MemoryTestData.GetJsonAsync(admin, $"/v1/admin/memories/{id}");
        Assert.Equal(user.Id, detail.GetProperty("ownerUserId").GetGuid());
        Assert.Equal(3, detail.GetProperty("history").GetArrayLength());
        await (await admin.GetAsync($"/v1/admin/memories/{Guid.NewGuid()}")).ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(2, await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'memory.admin_viewed'", adminUser.Id));
    }

    [Fact]
    public async Task Search_scores_decay_by_0_95_per_day_since_the_last_update_or_use_and_weigh_each_type()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        async Task<Guid> Store(string text, string type) =>
            (await MemoryTestData.PostMemoryAsync(client, new { text, infer = false, type })).GetProperty("memory").GetProperty("id").GetGuid();
        var fresh = await Store("Uses Stripe for invoices", "semantic");
        var stale = await Store("Moved the Stripe account to Dublin", "episodic");
        var used = await Store("Always mention Stripe fees", "procedural");
        // Ten days untouched; the third was used two days ago, which is what its age counts from.
        await using (var age = factory.DataSource.CreateCommand("""
            UPDATE memories SET updated_at = now() - interval '10 days',
                                last_accessed_at = CASE WHEN id = $2 THEN now() - interval '2 days' END
            WHERE user_id = $1 AND id = ANY($3)
            """))
        {
            age.Parameters.Add(new() { Value = user.Id });
            age.Parameters.Add(new() { Value = used });
            age.Parameters.Add(new() { Value = new[] { stale, used } });
            await age.ExecuteNonQueryAsync();
        }

        using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query = "Stripe", topK = 10, explain = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = (await response.ReadJsonAsync()).GetProperty("items").EnumerateArray()
            .ToDictionary(i => i.GetProperty("id").GetGuid(), i => (Score: i.GetProperty("score").GetDouble(), Explain: i.GetProperty("explain")));

        foreach (var (id, days, typeWeight) in new[] { (fresh, 0.0, 1.0), (stale, 10.0, 0.8), (used, 2.0, 1.2) })
        {
            var (score, explain) = items[id];
            var ageDays = explain.GetProperty("ageDays").GetDouble();
            Assert.True(Math.Abs(ageDays - days) < 0.01, $"{id}: {ageDays} days, expected {days}");
            Assert.Equal(Math.Pow(0.95, ageDays), explain.GetProperty("recency").GetDouble(), 1e-6);
            Assert.Equal(typeWeight, explain.GetProperty("typeWeight").GetDouble(), 1e-9);
            // The score is rounded to 6 decimals in the response.
            Assert.Equal(explain.GetProperty("fused").GetDouble() * Math.Pow(0.95, ageDays) * typeWeight, score, 1e-5);
        }
        Assert.Equal(Math.Pow(0.95, 10), items[stale].Explain.GetProperty("recency").GetDouble(), 1e-3);
    }

    [Fact]
    public async Task Search_explains_each_score_and_honours_filters()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        await MemoryTestData.PostMemoryAsync(client, new { text = "Uses Stripe for subscription billing", infer = false });
        await MemoryTestData.PostMemoryAsync(client, new { text = "Always show prices in euros", infer = false, type = "procedural" });
        await MemoryTestData.PostMemoryAsync(client, new { text = "Visited the Stripe office in Dublin", infer = false, type = "episodic" });

        using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query = "How do we handle Stripe billing?", top_k = 2, explain = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.ReadJsonAsync();
        var items = result.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.Equal("Uses Stripe for subscription billing", items[0].GetProperty("text").GetString());
        var explain = items[0].GetProperty("explain");
        Assert.Equal([0.6, 0.25, 0.15], explain.GetProperty("weights").EnumerateArray().Select(w => w.GetDouble()));
        var (semantic, keyword, entity) = (explain.GetProperty("semantic").GetDouble(), explain.GetProperty("keyword").GetDouble(), explain.GetProperty("entity").GetDouble());
        Assert.True(semantic > 0 && keyword > 0 && entity > 0, explain.GetRawText());
        Assert.Equal(0.6 * semantic + 0.25 * keyword + 0.15 * entity, explain.GetProperty("fused").GetDouble(), 6);
        Assert.Equal(explain.GetProperty("fused").GetDouble() * explain.GetProperty("recency").GetDouble() * explain.GetProperty("typeWeight").GetDouble(),
            items[0].GetProperty("score").GetDouble(), 5);
        Assert.Equal(1, explain.GetProperty("semanticRank").GetInt32());
        Assert.True(items[0].GetProperty("score").GetDouble() >= items[1].GetProperty("score").GetDouble());

        // Without explain there is no breakdown; filters narrow by type.
        using var filtered = await client.PostAsJsonAsync("/v1/memories/search", new { query = "Stripe", topK = 10, filters = new { type = "episodic" } });
        var only = Assert.Single((await filtered.ReadJsonAsync()).GetProperty("items").EnumerateArray());
        Assert.Equal("Visited the Stripe office in Dublin", only.GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, only.GetProperty("explain").ValueKind);
    }

    [Fact]
    public async Task The_list_filters_by_type_entity_time_and_validity_and_pages_with_a_cursor()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        for (var i = 0; i < 5; i++)
        {
            await MemoryTestData.PostMemoryAsync(client, new { text = $"Owns a bicycle number {i} made by Brompton", infer = false });
        }
        var instruction = await MemoryTestData.PostMemoryAsync(client, new { text = "Never suggest driving", infer = false, type = "procedural" });
        var changed = (await MemoryTestData.PostMemoryAsync(client, new { text = "Commutes by train", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var midpoint = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        await client.PutAsJsonAsync($"/v1/memories/{changed}", new { text = "Commutes by bicycle" });

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await MemoryTestData.GetJsonAsync(client, $"/v1/memories?scope=user&limit=3{(cursor is null ? "" : "&cursor=" + cursor)}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("text").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(7, seen.Count);
        Assert.Equal("Commutes by bicycle", seen[0]); // newest first
        Assert.Equal(7, seen.Distinct().Count());

        var procedural = await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=user&type=procedural");
        Assert.Equal(instruction.GetProperty("memory").GetProperty("id").GetGuid(), Assert.Single(procedural.GetProperty("items").EnumerateArray()).GetProperty("id").GetGuid());
        var brompton = await MemoryTestData.GetJsonAsync(client, "/v1/memories?scope=user&entity=BROMPTON&limit=100");
        Assert.Equal(5, brompton.GetProperty("items").GetArrayLength());
        var window = await MemoryTestData.GetJsonAsync(client, $"/v1/memories?scope=user&from={Uri.EscapeDataString(before.ToString("O"))}&to={Uri.EscapeDataString(midpoint.ToString("O"))}&limit=100");
        Assert.Equal(6, window.GetProperty("items").GetArrayLength()); // the new version was created after the midpoint
        // As of the midpoint, the user commuted by train: the superseded version is what was valid then.
        var past = await MemoryTestData.GetJsonAsync(client, $"/v1/memories?scope=user&asOf={Uri.EscapeDataString(midpoint.ToString("O"))}&limit=100");
        var texts = past.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("text").GetString()).ToList();
        Assert.Contains("Commutes by train", texts);
        Assert.DoesNotContain("Commutes by bicycle", texts);
    }

    [Fact]
    public async Task Export_returns_every_version_and_its_history_as_a_json_download()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Drinks oat milk", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Drinks soy milk" });

        using var response = await client.GetAsync("/v1/memories/export");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.True(response.Headers.CacheControl?.NoStore, "The export must not be cached.");
        var export = await response.ReadJsonAsync();
        Assert.Equal(user.Id, export.GetProperty("userId").GetGuid());
        Assert.Equal(["Drinks oat milk", "Drinks soy milk"], export.GetProperty("memories").EnumerateArray().Select(m => m.GetProperty("text").GetString()));
        Assert.Equal(3, export.GetProperty("history").GetArrayLength());
    }

    [Fact]
    public async Task A_full_extraction_queue_is_503_with_retry_after_and_chat_still_answers_and_catches_up_later()
    {
        // A private database: the queue depth must be this test's alone.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.ConnectionString,
            ["Jobs:Types:memory.extract:MaxQueuedDepth"] = "1",
            ["Jobs:Types:memory.extract:RetryAfter"] = "00:00:07",
        });
        // The extraction job runs on it below, and passes vectors as Pgvector.Vector.
        var dataSourceBuilder = new Npgsql.NpgsqlDataSourceBuilder(postgres.ConnectionString);
        dataSourceBuilder.UseVector();
        await using var dataSource = dataSourceBuilder.Build();
        var (client, userId) = await MemoryTestUsers.CreateUserOnAsync(isolated, dataSource);

        await MemoryTestData.PostMemoryAsync(client, new { text = "I collect vinyl records." }, HttpStatusCode.Accepted);
        using var full = await client.PostAsJsonAsync("/v1/memories", new { text = "I play the cello." });
        var problem = await full.ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("memory.extract", problem.GetProperty("queue").GetString());
        Assert.Equal(TimeSpan.FromSeconds(7), full.Headers.RetryAfter?.Delta);
        Assert.Equal(1, await MemoryTestData.CountAsync(dataSource, "SELECT count(*) FROM memory_sources WHERE user_id = $1", userId)); // nothing half-written

        // The chat is never refused for memory's sake: its extraction waits as a pending source.
        var conversation = await ChatTestData.CreateConversationAsync(client);
        await MemoryTestData.ChatAsync(client, conversation, "I grow tomatoes on my balcony.");
        Assert.Equal(1, await MemoryTestData.CountAsync(dataSource, "SELECT count(*) FROM memory_sources WHERE user_id = $1 AND status = 'pending'", userId));

        // Once the queue drains, the backlog job enqueues it and it is extracted like any other.
        var queued = await MemoryTestData.ScalarJobAsync(dataSource, userId);
        await MemoryTestData.RunJobAsync<MemoryExtractionJob>(isolated.Services, dataSource, queued.Payload, queued.Id);
        await MemoryTestData.RunJobAsync<MemoryBacklogJob>(isolated.Services, dataSource, JsonElement.Parse("{}"));
        var deferred = await MemoryTestData.ScalarJobAsync(dataSource, userId);
        await MemoryTestData.RunJobAsync<MemoryExtractionJob>(isolated.Services, dataSource, deferred.Payload, deferred.Id);
        var texts = (await MemoryTestData.MemoriesAsync(dataSource, userId)).Select(m => m.Text).ToList();
        Assert.Equal(["Collects vinyl records", "Grows tomatoes on their balcony"], texts);
    }

    [Fact]
    public async Task A_memory_row_keeps_its_embedding_in_the_heap_instead_of_a_toast_lookup_away()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Keeps the release notes in a shared Notion page", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();

        // The row's own length on its heap page (pageinspect): with the 1.5 kB embedding moved to TOAST it would be a
        // ~0.5 kB row holding an 18-byte pointer, and every search reading its similarity would pay a TOAST lookup.
        await using (var extension = factory.DataSource.CreateCommand("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        {
            await extension.ExecuteNonQueryAsync();
        }
        await using var command = factory.DataSource.CreateCommand("""
            SELECT p.lp_len
            FROM memories m,
                 LATERAL heap_page_items(get_raw_page('memories', (m.ctid::text::point)[0]::int)) p
            WHERE m.id = $1 AND m.user_id = $2 AND p.lp = (m.ctid::text::point)[1]::int
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = user.Id });
        var rowLength = Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        // 384 floats of the embedding plus the encrypted text, its blind index and the other columns.
        Assert.InRange(rowLength, 384 * 4 + 200, 4000);
    }
}

internal static class MemoryTestUsers
{
    /// <summary>Signs a new user in against a factory whose database is a private one.</summary>
    public static async Task<(HttpClient Client, Guid UserId)> CreateUserOnAsync(ApiFactory api, Npgsql.NpgsqlDataSource dataSource)
    {
        var email = ApiFactory.NewEmail();
        const string password = "correct horse battery";
        var client = api.CreateClient();
        await using (var org = dataSource.CreateCommand("INSERT INTO orgs (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"))
        {
            org.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            org.Parameters.Add(new() { Value = AspireAi.Core.Identity.UserAccounts.DefaultOrgName });
            await org.ExecuteNonQueryAsync();
        }
        var id = Guid.CreateVersion7();
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            SELECT $1, id, $2, 'Memory tester', $3, 'user' FROM orgs WHERE name = $4
            """))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = email });
            insert.Parameters.Add(new() { Value = AspireAi.Core.Identity.AdminSeeder.HashPassword(password) });
            insert.Parameters.Add(new() { Value = AspireAi.Core.Identity.UserAccounts.DefaultOrgName });
            await insert.ExecuteNonQueryAsync();
        }
        var tokens = await (await client.TokenAsync(email, password)).ReadTokensAsync();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", tokens.AccessToken);
        return (client, id);
    }
}
