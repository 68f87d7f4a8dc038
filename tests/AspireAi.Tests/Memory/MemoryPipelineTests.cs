using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

[Collection(MemoryCollection.Name)]
public sealed class MemoryPipelineTests(ApiFactory factory)
{
    [Fact]
    public async Task Secrets_never_reach_memory_and_the_rest_of_the_message_does()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        await MemoryTestData.SayAsync(factory, client, user.Id,
            "I work at Initech. My password is hunter2! My card is 4111 1111 1111 1111. My API key is sk-proj-AbCdEfGhIjKlMnOpQrStUv.");

        var texts = (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id)).Select(m => m.Text).ToList();
        Assert.Equal(["Works at Initech"], texts);
        var history = await MemoryTestData.HistoryTextsAsync(factory.DataSource, user.Id);
        Assert.NotEmpty(history);
        foreach (var secret in new[] { "hunter2", "4111", "sk-proj" })
        {
            Assert.DoesNotContain(history, text => text.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_message_the_user_asked_not_to_remember_is_not_extracted()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        await MemoryTestData.SayAsync(factory, client, user.Id, "Don't remember this: I'm interviewing at Globex next week.");
        await MemoryTestData.PostMemoryAsync(client, new { messages = new[] { new { role = "user", content = "Off the record, I work at Hooli." } } }, HttpStatusCode.Accepted);
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);

        Assert.Empty(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false));
        Assert.Equal(2, await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM memory_sources WHERE user_id = $1 AND status = 'skipped' AND status_reason = 'opt_out'", user.Id));
        Assert.Equal(0, await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM jobs WHERE type = 'memory.extract' AND payload->>'sourceId' IN (SELECT id::text FROM memory_sources WHERE user_id = $1)", user.Id));
    }

    [Fact]
    public async Task A_completed_exchange_commits_its_source_with_the_job_that_extracts_it()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var conversation = await ChatTestData.CreateConversationAsync(client);
        await MemoryTestData.ChatAsync(client, conversation, "I work at Vandelay Industries.");

        // One source, recorded with its job (a worker may already have run it), and that job points back at it.
        await using (var command = factory.DataSource.CreateCommand("""
            SELECT s.status, s.job_id = j.id, j.dedupe_key = 'source:' || replace(s.id::text, '-', ''), s.assistant_message_id IS NOT NULL
            FROM memory_sources s JOIN jobs j ON j.type = 'memory.extract' AND (j.payload->>'sourceId')::uuid = s.id
            WHERE s.user_id = $1 AND s.conversation_id = $2
            """))
        {
            command.Parameters.Add(new() { Value = user.Id });
            command.Parameters.Add(new() { Value = conversation });
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Contains(reader.GetString(0), new[] { "queued", "done" });
            Assert.Equal((true, true, true), (reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3)));
            Assert.False(await reader.ReadAsync());
        }

        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        Assert.Equal(1, await MemoryTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM memory_sources WHERE user_id = $1 AND status = 'done' AND job_id IS NOT NULL", user.Id));
        Assert.Contains(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id), m => m.Text.Contains("Vandelay", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Extraction_is_idempotent_per_source()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await MemoryTestData.SayAsync(factory, client, user.Id, "I play the bassoon in an orchestra.");
        var before = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false);
        var sourceId = (Guid)(await ScalarAsync("SELECT id FROM memory_sources WHERE user_id = $1", user.Id))!;

        // The same job again (as after a lost lease), and the same exchange enqueued again: nothing changes.
        await MemoryTestData.RunJobAsync<MemoryExtractionJob>(factory.Services, factory.DataSource, JsonSerializer.SerializeToElement(new { sourceId }));
        var queue = factory.Services.GetRequiredService<IJobQueue>();
        await queue.EnqueueAsync(MemoryJobs.ExtractionRequest(sourceId));
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);

        var after = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false);
        Assert.Equal(before, after);
        Assert.Equal(["ADD:extractor"], await MemoryTestData.HistoryAsync(factory.DataSource, after.Single().Id));
    }

    [Fact]
    public async Task Two_extraction_jobs_for_one_user_at_once_create_no_duplicates()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var sources = new List<Guid>();
        for (var i = 0; i < 2; i++)
        {
            var accepted = await MemoryTestData.PostMemoryAsync(client,
                new { messages = new[] { new { role = "user", content = "I use Kafka for event streaming. I live in Oslo." } } }, HttpStatusCode.Accepted);
            sources.Add(accepted.GetProperty("sourceId").GetGuid());
        }

        // Both jobs run at the same time, each in its own transaction, as two workers would.
        await Task.WhenAll(sources.Select(sourceId => Task.Run(() =>
            MemoryTestData.RunJobAsync<MemoryExtractionJob>(factory.Services, factory.DataSource, JsonSerializer.SerializeToElement(new { sourceId })))));
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);

        var memories = await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false);
        Assert.Equal(["Uses Kafka for event streaming", "Lives in Oslo"], memories.Select(m => m.Text));
        foreach (var memory in memories)
        {
            Assert.Equal(["ADD:extractor", "NOOP:extractor"], await MemoryTestData.HistoryAsync(factory.DataSource, memory.Id));
        }
    }

    [Fact]
    public async Task The_unique_index_refuses_a_second_current_copy_even_without_the_lock()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await MemoryTestData.PostMemoryAsync(client, new { text = "Speaks Icelandic", infer = false });

        var error = await Assert.ThrowsAsync<Npgsql.PostgresException>(async () =>
        {
            await using var insert = factory.DataSource.CreateCommand("""
                INSERT INTO memories (id, lineage_id, org_id, user_id, scope, type, text, key_id, text_ct, embedding, embedding_model, content_hash)
                SELECT gen_random_uuid(), gen_random_uuid(), org_id, user_id, scope, type, text, key_id, text_ct, embedding, embedding_model, content_hash
                FROM memories WHERE user_id = $1
                """);
            insert.Parameters.Add(new() { Value = user.Id });
            await insert.ExecuteNonQueryAsync();
        });
        Assert.Equal(Npgsql.PostgresErrorCodes.UniqueViolation, error.SqlState);
    }

    [Fact]
    public async Task The_remember_tool_writes_explicitly_and_refuses_secrets_and_recall_finds_memories()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var conversation = await ChatTestData.CreateConversationAsync(client);

        var saved = await MemoryTestData.ChatAsync(client, conversation, "Remember that I prefer dark mode");
        Assert.Equal("remember", Assert.Single(saved.ToolNames));
        Assert.Contains("\"operation\":\"ADD\"", saved.ToolResults[0], StringComparison.Ordinal);
        Assert.Equal(["Prefers dark mode"], (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id)).Select(m => m.Text));
        var memory = (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id)).Single();
        Assert.Equal(["ADD:user"], await MemoryTestData.HistoryAsync(factory.DataSource, memory.Id));
        // The exchange's own extraction then finds the fact already known.
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));

        var refused = await MemoryTestData.ChatAsync(client, conversation, "Remember my password is correct-horse-9");
        Assert.StartsWith("Error:", refused.ToolResults.Single(), StringComparison.Ordinal);
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        Assert.DoesNotContain(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false),
            m => m.Text.Contains("correct-horse", StringComparison.Ordinal));

        // A question is never written: the tool is not even offered.
        var question = await MemoryTestData.ChatAsync(client, conversation, "What do you remember about me?");
        Assert.Empty(question.ToolNames);
        Assert.Contains("dark mode", question.Content, StringComparison.Ordinal);

        var recalled = await MemoryTestData.ChatAsync(client, conversation, "Recall my memories about dark mode");
        Assert.Equal("recall_memories", Assert.Single(recalled.ToolNames));
        Assert.True(recalled.ToolResults[0]?.Contains("Prefers dark mode", StringComparison.Ordinal), recalled.ToolResults[0] + " / " + recalled.Content);
    }

    [Fact]
    public async Task Expired_memories_are_invalidated_and_the_episodic_cap_keeps_the_most_recent()
    {
        // A private database: the cap (2 here) and the expiry sweep apply to every user, so on the shared database they
        // would also cap and expire other tests' memories.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var capped = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.ConnectionString,
            ["Memory:EpisodicCapPerUser"] = "2",
        });
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, userId) = await MemoryTestUsers.CreateUserOnAsync(capped, dataSource);
        var expiring = await MemoryTestData.PostMemoryAsync(client, new { text = "Is on vacation", infer = false, expiresAt = DateTimeOffset.UtcNow.AddSeconds(1) });
        var events = new List<Guid>();
        foreach (var text in new[] { "Ran a marathon in May", "Moved flats in June", "Adopted a cat in July" })
        {
            events.Add((await MemoryTestData.PostMemoryAsync(client, new { text, infer = false, type = "episodic" })).GetProperty("memory").GetProperty("id").GetGuid());
        }
        await Task.Delay(1200);

        await MemoryTestData.RunJobAsync<MemoryExpireJob>(capped.Services, dataSource, JsonElement.Parse("{}"));
        await MemoryTestData.RunJobAsync<MemoryEpisodicCapJob>(capped.Services, dataSource, JsonElement.Parse("{}"));

        var all = await MemoryTestData.MemoriesAsync(dataSource, userId, currentOnly: false);
        Assert.Equal("expired", all.Single(m => m.Id == expiring.GetProperty("memory").GetProperty("id").GetGuid()).InvalidatedReason);
        Assert.Equal("capped", all.Single(m => m.Id == events[0]).InvalidatedReason);
        Assert.All(events.Skip(1), id => Assert.Null(all.Single(m => m.Id == id).InvalidatedAt));
        Assert.Equal(["ADD:api", "DELETE:system"], await MemoryTestData.HistoryAsync(dataSource, events[0]));
    }

    [Fact]
    public async Task Purging_old_versions_deletes_them_and_blanks_their_texts_in_the_history()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Drives a Volvo", infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        using var put = await client.PutAsJsonAsync($"/v1/memories/{id}", new { text = "Drives a Saab" });
        var newId = (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("memory").GetProperty("id").GetGuid();
        // Only this user's old version is aged past the (default, 90-day) retention: a purge with a zero retention
        // would also take every other test's superseded versions in the shared database.
        await using (var age = factory.DataSource.CreateCommand(
            "UPDATE memories SET invalidated_at = invalidated_at - interval '91 days' WHERE user_id = $1 AND invalidated_at IS NOT NULL"))
        {
            age.Parameters.Add(new() { Value = user.Id });
            Assert.Equal(1, await age.ExecuteNonQueryAsync());
        }

        await MemoryTestData.RunMaintenanceAsync<MemoryPurgeJob>(factory);

        Assert.Equal(["Drives a Saab"], (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false)).Select(m => m.Text));
        Assert.DoesNotContain(await MemoryTestData.HistoryTextsAsync(factory.DataSource, user.Id), text => text.Contains("Volvo", StringComparison.Ordinal));
        // The decisions stay, without the purged text.
        Assert.Equal(["ADD:api", "UPDATE:user", "UPDATE:user"], await MemoryTestData.HistoryAsync(factory.DataSource, newId));
        var current = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{newId}");
        Assert.Equal(JsonValueKind.Null, current.GetProperty("supersedesId").ValueKind);
    }

    [Fact]
    public async Task Metrics_report_retrieval_latency_hits_tokens_extraction_failures_and_operations()
    {
        var measurements = new List<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MemoryMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state) where T : struct
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
            }
        }
        listener.SetMeasurementEventCallback<double>(Record);
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<int>(Record);
        listener.Start();

        var (client, user) = await factory.CreateUserClientAsync();
        await MemoryTestData.SayAsync(factory, client, user.Id, "I work at Vandelay Industries. My password is opensesame1.");
        await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "Where do I work?");
        using (var search = await client.PostAsJsonAsync("/v1/memories/search", new { query = "Vandelay" }))
        {
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        }
        // A model whose answers are never usable JSON: the extraction fails after its retry, and that is counted.
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            using var prose = new AspireAi.Tests.Llm.ScriptedChatClient((_, _) => AspireAi.Tests.Llm.ScriptedChatClient.Reply("I could not find any facts, sorry."));
            var model = ActivatorUtilities.CreateInstance<MemoryLanguageModel>(scope.ServiceProvider, (Microsoft.Extensions.AI.IChatClient)prose);
            await Assert.ThrowsAsync<MemoryExtractionException>(() => model.ExtractAsync([("user", "I work at Vandelay Industries.")], user.Id, CancellationToken.None));
        }

        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.retrieval.duration" && m.Value > 0 && Equals(m.Tags["purpose"], "chat"));
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.retrieval.duration" && m.Value > 0 && Equals(m.Tags["purpose"], "search"));
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.extraction.failures" && Equals(m.Tags["stage"], "retry_failed"));
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.retrievals" && Equals(m.Tags["hit"], true));
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.tokens_injected" && m.Value is > 0 and <= 200);
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.operations" && Equals(m.Tags["operation"], "ADD"));
            Assert.Contains(measurements, m => m.Name == "aspireai.memory.facts_rejected" && Equals(m.Tags["reason"], "secret"));
        }
    }

    [Fact]
    public void The_injected_block_never_exceeds_the_token_budget_and_skips_what_does_not_fit()
    {
        var now = DateTimeOffset.UtcNow;
        ScoredMemory Memory(string text, double score) => new(Guid.CreateVersion7(), MemoryScope.User, MemoryType.Semantic, text, 0.5f, null, null,
            now, now, null, score, new MemoryScoreBreakdown(score, 0, 0, score, 1, 1, score, 1, null, null, 0, 0, 0, [0.6, 0.25, 0.15]));
        var ranked = new[]
        {
            Memory("Works at Globex as a platform engineer", 0.9),
            Memory(string.Join(' ', Enumerable.Repeat("Has a very long and detailed story about a trip", 20)), 0.8),
            Memory("Uses Stripe", 0.7),
        };

        var (text, chosen, _) = MemoryContextProvider.Select(ranked, 60);

        Assert.NotNull(text);
        Assert.True(TokenCounter.Count(text) <= 60);
        Assert.Equal([ranked[0].Id, ranked[2].Id], chosen.Select(m => m.Id));
        Assert.StartsWith(LlmPromptBlocks.MemoriesHeading, text, StringComparison.Ordinal);
        Assert.Null(MemoryContextProvider.Select([], 200).Text);
    }

    [Theory]
    [InlineData("What do you know about me?", true)]
    [InlineData("what do you remember", true)]
    [InlineData("Tell me about myself", true)]
    [InlineData("Who am I?", true)]
    [InlineData("What do you know about Rust?", false)]
    [InlineData("Where do I work?", false)]
    public void Questions_about_the_user_fall_back_to_their_most_important_memories(string query, bool aboutTheUser) =>
        Assert.Equal(aboutTheUser, MemoryContextProvider.AsksAboutTheUser(query));

    [Fact]
    public async Task The_vector_column_matches_the_embedding_width_and_the_seeded_prompts_match_their_hashes()
    {
        Assert.Equal(EmbeddingDefaults.Dimensions, Convert.ToInt32(await ScalarAsync(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'embedding'"), System.Globalization.CultureInfo.InvariantCulture));
        var prompts = factory.Services.GetRequiredService<PromptStore>();
        foreach (var name in new[] { "memory.extract", "memory.consolidate" })
        {
            var prompt = await prompts.GetActiveAsync(name, CancellationToken.None);
            Assert.NotNull(prompt);
            Assert.Equal(PromptStore.HashOf(prompt.Template), prompt.Sha256);
            // Version 2 (migration 0022) tells a real model what the supersedes flag means.
            Assert.Equal(2, prompt.Version);
            Assert.Contains("supersedes", prompt.Template, StringComparison.Ordinal);
        }
        Assert.Contains("{{max_facts}}", (await prompts.GetActiveAsync("memory.extract", CancellationToken.None))!.Template, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Memory:SemanticWeight", "0", "Memory:KeywordWeight", "0")]
    [InlineData("Memory:TokenBudget", "5", "Memory:MinScore", "0.1")]
    [InlineData("Memory:SessionTtl", "00:00:00", "Memory:MinScore", "0.1")]
    [InlineData("Memory:RecencyDecayPerDay", "1.5", "Memory:MinScore", "0.1")]
    [InlineData("Memory:TypeWeights:Procedural", "-1", "Memory:MinScore", "0.1")]
    public async Task Invalid_memory_options_stop_a_host_from_starting(string key, string value, string otherKey, string otherValue)
    {
        // A host with AddMemory and nothing else: the options are validated on start, whatever else the Api adds.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [key] = value,
            [otherKey] = otherValue,
            ["Memory:EntityWeight"] = key == "Memory:SemanticWeight" ? "0" : null,
            ["Encryption:MasterKey"] = TestServers.EncryptionMasterKey,
        });
        builder.AddMemory();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(typeof(MemoryOptions), error.OptionsType);
    }

    private async Task<object?> ScalarAsync(string sql, params object[] parameters)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        return await command.ExecuteScalarAsync();
    }
}
