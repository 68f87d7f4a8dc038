using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>
/// Acceptance scenarios 1–4 against a scripted OpenAI-compatible server that answers the structured calls the way a
/// real model does — including the sloppy JSON small models write and the contradiction-as-DELETE bug mem0 users hit.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryOpenAiScenarioTests(ApiFactory factory)
{
    [Fact]
    public async Task Scenario1_with_a_model_a_new_employer_supersedes_the_old_one_even_when_the_model_says_delete()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = ScriptedMemoryModel.Reply();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();

        await MemoryTestData.SayAsync(api, client, user.Id, "I work at Acme Corp in the billing team. We use Stripe.");
        var first = await MemoryTestData.MemoriesAsync(api.DataSource, user.Id);
        Assert.Equal(["Works at Acme Corp", "Is in the billing team", "Uses Stripe"], first.Select(m => m.Text)); // from fenced, trailing-comma JSON
        var acme = first[0];

        await MemoryTestData.SayAsync(api, client, user.Id, "I just joined Globex as a platform engineer.");
        var current = await MemoryTestData.MemoriesAsync(api.DataSource, user.Id);
        Assert.Contains(current, m => m.Text == "Works at Globex as a platform engineer");
        Assert.DoesNotContain(current, m => m.Text.Contains("Acme", StringComparison.Ordinal));
        // The model answered DELETE for the contradicted memory; the guard kept the new fact as an UPDATE.
        Assert.Equal(["ADD:extractor", "UPDATE:extractor", "UPDATE:extractor"], await MemoryTestData.HistoryAsync(api.DataSource, acme.Id));
        Assert.Contains(fake.ChatRequests, r => ScriptedMemoryModel.SchemaOf(r) == "memory_decision");

        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "Where do I work?");
        var globex = current.Single(m => m.Text.Contains("Globex", StringComparison.Ordinal));
        Assert.Contains(globex.Id, answer.MemoryIds);
        var request = fake.ChatRequests.Last(r => ScriptedMemoryModel.SchemaOf(r) is null);
        var prompt = ScriptedMemoryModel.ContextText(request);
        Assert.Contains("## Memories", prompt, StringComparison.Ordinal);
        // Memories are data: they reach the model in a user-role envelope, never in the system instructions.
        Assert.DoesNotContain("## Memories", ScriptedMemoryModel.SystemText(request), StringComparison.Ordinal);
        Assert.Contains("<data source=\"memories\">", prompt, StringComparison.Ordinal);
        Assert.Contains("Works at Globex as a platform engineer", prompt, StringComparison.Ordinal);
        Assert.DoesNotContain("Acme", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_model_a_noop_on_another_value_of_a_single_valued_attribute_still_keeps_the_new_fact()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = ScriptedMemoryModel.Reply();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();

        await MemoryTestData.SayAsync(api, client, user.Id, "I live in Lisbon.");
        var lisbon = Assert.Single(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id));
        await MemoryTestData.SayAsync(api, client, user.Id, "I moved to Porto last month.");

        // The model answered NOOP on the Lisbon memory; the guard made it an UPDATE.
        Assert.Equal(["Lives in Porto"], (await MemoryTestData.MemoriesAsync(api.DataSource, user.Id)).Select(m => m.Text));
        Assert.Equal(["ADD:extractor", "UPDATE:extractor", "UPDATE:extractor"], await MemoryTestData.HistoryAsync(api.DataSource, lisbon.Id));
        Assert.Contains(fake.ChatRequests, r => ScriptedMemoryModel.SchemaOf(r) == "memory_decision");
    }

    [Fact]
    public async Task Scenario2_with_a_model_an_unparseable_answer_is_retried_and_the_instruction_is_injected()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = ScriptedMemoryModel.Reply();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();

        await MemoryTestData.SayAsync(api, client, user.Id, "Always use TypeScript for code examples");

        var instruction = Assert.Single(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id));
        Assert.Equal(("Always use TypeScript for code examples", "procedural"), (instruction.Text, instruction.Type));
        // The first answer was prose; the retry carried the problem back to the model.
        var extractions = fake.ChatRequests.Where(r => ScriptedMemoryModel.SchemaOf(r) == "memory_facts").ToList();
        Assert.Equal(2, extractions.Count);
        Assert.Contains("could not be used", ScriptedMemoryModel.LastUserText(extractions[1]), StringComparison.Ordinal);

        var answer = await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "Show me a code example that reverses a string");
        Assert.Contains(instruction.Id, answer.MemoryIds);
        Assert.Contains("Always use TypeScript for code examples", ScriptedMemoryModel.ContextText(fake.ChatRequests.Last(r => ScriptedMemoryModel.SchemaOf(r) is null)),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scenario3_with_a_model_a_repeated_fact_is_one_memory_with_noops()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = ScriptedMemoryModel.Reply();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();

        for (var i = 0; i < 3; i++)
        {
            await MemoryTestData.SayAsync(api, client, user.Id, "I use Kubernetes at work.");
        }

        var memory = Assert.Single(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id, currentOnly: false));
        Assert.Equal(["ADD:extractor", "NOOP:extractor", "NOOP:extractor"], await MemoryTestData.HistoryAsync(api.DataSource, memory.Id));
    }

    [Fact]
    public async Task Scenario4_with_a_model_a_retraction_invalidates_the_memory()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = ScriptedMemoryModel.Reply();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();
        await MemoryTestData.SayAsync(api, client, user.Id, "I work at Acme Corp in the billing team. We use Stripe.");
        var stripe = Assert.Single(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id), m => m.Text == "Uses Stripe");

        await MemoryTestData.SayAsync(api, client, user.Id, "Forget that I use Stripe");

        Assert.DoesNotContain(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id), m => m.Text.Contains("Stripe", StringComparison.Ordinal));
        var retracted = Assert.Single(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id, currentOnly: false), m => m.Id == stripe.Id);
        Assert.Equal("retracted", retracted.InvalidatedReason);
        Assert.Equal(["ADD:extractor", "DELETE:extractor"], await MemoryTestData.HistoryAsync(api.DataSource, stripe.Id));
    }

    [Fact]
    public async Task An_answer_that_stays_unusable_fails_the_job_for_a_retry_and_writes_nothing()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Text("I'm sorry, I cannot help with that.");
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();
        await MemoryTestData.PostMemoryAsync(client, new { text = "I use Kafka." }, System.Net.HttpStatusCode.Accepted);
        var job = await MemoryTestData.ScalarJobAsync(api.DataSource, user.Id);

        await Assert.ThrowsAsync<AspireAi.Core.Memory.MemoryExtractionException>(() =>
            MemoryTestData.RunJobAsync<AspireAi.Workers.Memory.MemoryExtractionJob>(api.Services, api.DataSource, job.Payload, job.Id));

        // One attempt and one retry with the problem spelled out; the transaction rolled back, the job waits for its retry.
        Assert.Equal(2, fake.ChatRequests.Count(r => ScriptedMemoryModel.SchemaOf(r) == "memory_facts"));
        Assert.Empty(await MemoryTestData.MemoriesAsync(api.DataSource, user.Id, currentOnly: false));
        Assert.Equal(1, await MemoryTestData.CountAsync(api.DataSource, "SELECT count(*) FROM memory_sources WHERE user_id = $1 AND status = 'queued'", user.Id));
        Assert.Equal(1, await MemoryTestData.CountAsync(api.DataSource, "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'queued'", job.Id));
        await using var cleanup = api.DataSource.CreateCommand("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = $1");
        cleanup.Parameters.Add(new() { Value = job.Id });
        await cleanup.ExecuteNonQueryAsync();
    }
}

/// <summary>What a capable model answers to the memory prompts, scripted per message, with the quirks of real ones.</summary>
internal static class ScriptedMemoryModel
{
    public static FakeOpenAiReply Reply() => FakeOpenAiReply.Custom(call =>
    {
        var text = SchemaOf(call.Request) switch
        {
            "memory_facts" => Facts(call.Request),
            "memory_decision" => Decision(call.Request),
            _ => "Noted.",
        };
        return FakeOpenAiReply.Text(text).Respond(call);
    });

    public static string? SchemaOf(FakeOpenAiRequest request) =>
        request.Json.TryGetProperty("response_format", out var format) && format.TryGetProperty("json_schema", out var schema)
            ? schema.GetProperty("name").GetString()
            : null;

    public static string SystemText(FakeOpenAiRequest request) =>
        string.Join("\n", Messages(request).Where(m => m.Role == "system").Select(m => m.Text));

    /// <summary>The system instructions and the data envelopes (memories, sources) the model was shown.</summary>
    public static string ContextText(FakeOpenAiRequest request) =>
        string.Join("\n", Messages(request).Where(m => m.Role == "system" || m.Text.StartsWith("<data ", StringComparison.Ordinal)).Select(m => m.Text));

    public static string LastUserText(FakeOpenAiRequest request) => Messages(request).Last(m => m.Role == "user").Text;

    private static List<(string Role, string Text)> Messages(FakeOpenAiRequest request) =>
        [.. request.Json.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("role").GetString()!, ContentOf(m)))];

    private static string ContentOf(JsonElement message) => message.TryGetProperty("content", out var content)
        ? content.ValueKind == JsonValueKind.String
            ? content.GetString()!
            : string.Concat(content.EnumerateArray().Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString()))
        : "";

    private static string Facts(FakeOpenAiRequest request)
    {
        var messages = Messages(request);
        var exchange = JsonNode.Parse(messages.First(m => m.Role == "user").Text)!["messages"]!.AsArray();
        var said = string.Join(" ", exchange.Where(m => m!["role"]!.GetValue<string>() == "user").Select(m => m!["content"]!.GetValue<string>()));
        var retry = messages.Any(m => m.Role == "assistant");
        if (said.Contains("Acme Corp", StringComparison.Ordinal))
        {
            // A fenced block with trailing commas, as small models write.
            return """
                ```json
                {"facts": [
                  {"text": "Works at Acme Corp", "type": "semantic", "importance": 0.8, "entities": [{"name": "Acme Corp", "type": "organization"}], "scope": "user", "retraction": false},
                  {"text": "Is in the billing team", "type": "semantic", "importance": 0.6, "entities": [], "scope": "user", "retraction": false},
                  {"text": "Uses Stripe", "type": "semantic", "importance": 0.6, "entities": [{"name": "Stripe", "type": "product"}], "scope": "user", "retraction": false},
                ]}
                ```
                """;
        }
        if (said.Contains("Globex", StringComparison.Ordinal))
        {
            return Json(("Works at Globex as a platform engineer", "semantic", false, "Globex"));
        }
        if (said.Contains("TypeScript", StringComparison.Ordinal))
        {
            return retry
                ? Json(("Always use TypeScript for code examples", "procedural", false, "TypeScript"))
                : "Sure! The user wants TypeScript for code examples.";
        }
        if (said.Contains("Lisbon", StringComparison.Ordinal))
        {
            return Json(("Lives in Lisbon", "semantic", false, "Lisbon"));
        }
        if (said.Contains("Porto", StringComparison.Ordinal))
        {
            return Json(("Lives in Porto", "semantic", false, "Porto"));
        }
        if (said.Contains("Kubernetes", StringComparison.Ordinal))
        {
            return Json(("Uses Kubernetes at work", "semantic", false, "Kubernetes"));
        }
        if (said.StartsWith("Forget that I use Stripe", StringComparison.Ordinal))
        {
            return Json(("Uses Stripe", "semantic", true, "Stripe"));
        }
        return """{"facts": []}""";
    }

    private static string Json(params (string Text, string Type, bool Retraction, string Entity)[] facts) =>
        new JsonObject
        {
            ["facts"] = new JsonArray([.. facts.Select(f => (JsonNode)new JsonObject
            {
                ["text"] = f.Text,
                ["type"] = f.Type,
                ["importance"] = 0.7,
                ["entities"] = new JsonArray(new JsonObject { ["name"] = f.Entity, ["type"] = "other" }),
                ["scope"] = "user",
                ["retraction"] = f.Retraction,
            })]),
        }.ToJsonString();

    private static string Decision(FakeOpenAiRequest request)
    {
        var messages = Messages(request);
        var fact = JsonNode.Parse(messages.Last(m => m.Role == "user").Text)!;
        var factText = fact["fact"]!.GetValue<string>();
        var retraction = fact["retraction"]!.GetValue<bool>();
        var candidates = ContextText(request).Split('\n')
            .Where(l => l.StartsWith("- [", StringComparison.Ordinal))
            .Select(l => (Id: l[3..l.IndexOf(']', StringComparison.Ordinal)], Text: l[(l.IndexOf(']', StringComparison.Ordinal) + 2)..]))
            .ToList();
        string Answer(string operation, string? target, string text, string reason) => new JsonObject
        {
            ["operation"] = operation,
            ["targetId"] = target,
            ["text"] = text,
            ["reason"] = reason,
        }.ToJsonString();

        if (retraction && candidates.FirstOrDefault(c => c.Text == factText) is { Id: not null } retracted)
        {
            return Answer("DELETE", retracted.Id, "", "The user asked to forget it.");
        }
        if (factText.StartsWith("Works at", StringComparison.Ordinal) && candidates.FirstOrDefault(c => c.Text.StartsWith("Works at", StringComparison.Ordinal)) is { Id: not null } employer)
        {
            // mem0's bug: the contradicted memory is deleted and the new fact is not added.
            return Answer("DELETE", employer.Id, "", "The user changed jobs.");
        }
        if (factText.StartsWith("Lives in", StringComparison.Ordinal) && candidates.FirstOrDefault(c => c.Text.StartsWith("Lives in", StringComparison.Ordinal)) is { Id: not null } home)
        {
            // The other way to lose a new fact: "already known" about a memory that says something else.
            return Answer("NOOP", home.Id, "", "The user's home is already known.");
        }
        return Answer("ADD", null, factText, "New information.");
    }
}
