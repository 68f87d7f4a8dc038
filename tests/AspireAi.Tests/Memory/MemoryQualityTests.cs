using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Encryption;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using Xunit.Abstractions;

namespace AspireAi.Tests.Memory;

/// <summary>
/// The labelled scenario sets of issue 13 (Memory/Scenarios/memory-scenarios.json, and the held-out
/// memory-scenarios-heldout.json), run end to end — chat message,
/// extraction job, consolidation, rows in Postgres — with the offline default and with a scripted model that answers
/// as the labels say. Each prints its accuracy per phenomenon:
/// <c>dotnet test tests/AspireAi.Tests --filter "FullyQualifiedName~MemoryQualityTests" --logger "console;verbosity=detailed"</c>.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryQualityTests(ApiFactory factory, ITestOutputHelper output)
{
    // The goals of the issue: the offline default gets at least 90% of the scenarios right, a model that decides
    // as labelled all of them (what the pipeline around the model does is then exact).
    private const double OfflineGoal = 0.9;

    [Theory]
    [InlineData(MemoryScenarioSet.Labelled, 80)]
    [InlineData(MemoryScenarioSet.HeldOut, 40)]
    [InlineData(MemoryScenarioSet.SecondHeldOut, 40)]
    public async Task The_offline_default_gets_at_least_90_percent_of_the_labelled_scenarios_right(string file, int minimum)
    {
        var set = MemoryScenarioSet.Load(file);
        Assert.True(set.Scenarios.Count >= minimum, $"The set has {set.Scenarios.Count} scenarios.");

        var outcomes = new List<ScenarioOutcome>();
        foreach (var scenario in set.Scenarios)
        {
            outcomes.Add(await MemoryScenarioRunner.RunAsync(factory, scenario));
        }

        var accuracy = Report($"{file}, offline default (offline-chat-1, all-MiniLM-L6-v2)", outcomes);
        Assert.True(accuracy >= OfflineGoal, $"Offline accuracy {accuracy:P1} is below {OfflineGoal:P0}:\n{Failures(outcomes)}");
    }

    [Theory]
    [InlineData(MemoryScenarioSet.Labelled)]
    [InlineData(MemoryScenarioSet.HeldOut)]
    [InlineData(MemoryScenarioSet.SecondHeldOut)]
    public async Task A_scripted_model_deciding_as_labelled_gets_every_scenario_right(string file)
    {
        var set = MemoryScenarioSet.Load(file);
        await using var fake = await FakeOpenAiServer.StartAsync();
        var model = new LabelledModel();
        fake.DefaultChatReply = FakeOpenAiReply.Custom(call => FakeOpenAiReply.Text(model.Answer(call.Request)).Respond(call));
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));

        var outcomes = new List<ScenarioOutcome>();
        foreach (var scenario in set.Scenarios)
        {
            outcomes.Add(await MemoryScenarioRunner.RunAsync(api, scenario, turn => model.Turn = turn));
        }

        var accuracy = Report($"{file}, scripted model (OpenAI-compatible wire, answers as labelled)", outcomes);
        Assert.True(accuracy >= 1, $"Scripted accuracy {accuracy:P1}:\n{Failures(outcomes)}");
    }

    private double Report(string title, List<ScenarioOutcome> outcomes)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Memory scenarios, {title}");
        table.AppendLine("| phenomenon | scenarios | correct | accuracy |");
        table.AppendLine("|---|---:|---:|---:|");
        foreach (var group in outcomes.GroupBy(o => o.Scenario.Phenomenon).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var correct = group.Count(o => o.Passed);
            table.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key} | {group.Count()} | {correct} | {correct / (double)group.Count():P0} |");
        }
        var total = outcomes.Count(o => o.Passed);
        var accuracy = total / (double)outcomes.Count;
        table.AppendLine(CultureInfo.InvariantCulture, $"| **all** | {outcomes.Count} | {total} | {accuracy:P1} |");
        table.AppendLine(Failures(outcomes));
        output.WriteLine(table.ToString());
        return accuracy;
    }

    private static string Failures(List<ScenarioOutcome> outcomes) =>
        string.Join('\n', outcomes.Where(o => !o.Passed).Select(o => $"- {o.Scenario.Id}: {string.Join("; ", o.Problems)}"));

    /// <summary>
    /// A model that extracts the labelled facts of the current turn and decides each as labelled (the target by its
    /// text among the candidates it is shown); chat answers quote the memories of the prompt.
    /// </summary>
    private sealed class LabelledModel
    {
        public ScenarioTurn? Turn { get; set; }

        public string Answer(FakeOpenAiRequest request)
        {
            var messages = request.Json.GetProperty("messages").EnumerateArray()
                .Select(m => (Role: m.GetProperty("role").GetString()!, Text: TextOf(m))).ToList();
            var schema = request.Json.TryGetProperty("response_format", out var format) && format.TryGetProperty("json_schema", out var s)
                ? s.GetProperty("name").GetString()
                : null;
            // Memories arrive as data: a user-role <data source="memories"> envelope (LlmPromptBlocks.Data).
            var memories = messages.Where(m => m.Role == "user" && LlmPromptBlocks.IsData(m.Text))
                .Select(m => LlmPromptBlocks.Parse(m.Text))
                .Where(b => b is { Heading: LlmPromptBlocks.MemoriesHeading })
                .SelectMany(b => b!.Value.Items)
                .ToList();
            return schema switch
            {
                MemorySchemas.FactsSchemaName => Facts(),
                MemorySchemas.DecisionSchemaName => Decision(messages.Last(m => m.Role == "user" && !LlmPromptBlocks.IsData(m.Text)).Text, memories),
                _ => memories.Count == 0 ? "Noted." : "From memory: " + string.Join(" ", memories.Select(m => $"{m.Text} [{m.Id}]")),
            };
        }

        private string Facts() => new JsonObject
        {
            ["facts"] = new JsonArray([.. (Turn?.Facts ?? []).Select(f => (JsonNode)new JsonObject
            {
                ["text"] = f.Text,
                ["type"] = f.Type ?? "semantic",
                ["importance"] = 0.6,
                ["entities"] = new JsonArray(),
                ["scope"] = f.Scope ?? "user",
                ["retraction"] = f.Retraction,
                ["supersedes"] = f.Supersedes,
            })]),
        }.ToJsonString();

        private string Decision(string userText, List<PromptBlockItem> candidates)
        {
            var fact = JsonNode.Parse(userText)!;
            var text = fact["fact"]!.GetValue<string>();
            var retraction = fact["retraction"]?.GetValue<bool>() ?? false;
            var label = (Turn?.Facts ?? []).FirstOrDefault(f => MemoryText.Hash(f.Text) == MemoryText.Hash(text) && f.Retraction == retraction);
            var target = label?.Target is { } wanted ? candidates.Where(c => MemoryText.Hash(c.Text) == MemoryText.Hash(wanted)).Select(c => c.Id).FirstOrDefault() : null;
            return new JsonObject
            {
                ["operation"] = label?.Op ?? "ADD",
                ["targetId"] = target,
                ["text"] = label?.Op is "ADD" or "UPDATE" ? label.Text : "",
                ["reason"] = label is null ? "Not in the labels." : "As labelled.",
            }.ToJsonString();
        }

        private static string TextOf(JsonElement message) => message.TryGetProperty("content", out var content)
            ? content.ValueKind == JsonValueKind.String
                ? content.GetString()!
                : string.Concat(content.EnumerateArray().Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString()))
            : "";
    }
}

/// <summary>A scenario set, read from its JSON file copied next to the tests.</summary>
internal sealed record MemoryScenarioSet(string Description, IReadOnlyList<MemoryScenario> Scenarios)
{
    /// <summary>The set the rules were written against.</summary>
    public const string Labelled = "memory-scenarios.json";

    /// <summary>
    /// Sentences written after the rules, never used to write one: the check that the rules generalise. A failure here
    /// is fixed by a general change, never by a pattern for the sentence.
    /// </summary>
    public const string HeldOut = "memory-scenarios-heldout.json";

    /// <summary>
    /// Written after the first held-out set had been used to improve the rules (so that one no longer measures unseen
    /// sentences) and measured with no rule change after it.
    /// </summary>
    public const string SecondHeldOut = "memory-scenarios-heldout-2.json";

    public static MemoryScenarioSet Load(string file) =>
        JsonSerializer.Deserialize<MemoryScenarioSet>(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Memory", "Scenarios", file)),
            JsonSerializerOptions.Web)!;
}

/// <summary>One scenario: turns, then the current memories expected (user scope, and session scope per conversation label).</summary>
internal sealed record MemoryScenario(string Id, string Phenomenon, IReadOnlyList<ScenarioTurn> Turns, IReadOnlyList<string> Memories,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Session);

/// <summary>A user message with its labelled facts, or a question whose answer must contain <see cref="AnswerContains"/>.</summary>
internal sealed record ScenarioTurn(string? Conversation, string? Say, IReadOnlyList<LabelledFact>? Facts, string? Ask, string? AnswerContains);

/// <summary>A fact a careful model extracts from a turn, and the consolidation operation it gets.</summary>
internal sealed record LabelledFact(string Text, string Op, string? Target, string? Type, string? Scope, bool Retraction, bool Supersedes);

internal sealed record ScenarioOutcome(MemoryScenario Scenario, IReadOnlyList<string> Problems)
{
    public bool Passed => Problems.Count == 0;
}

internal static class MemoryScenarioRunner
{
    /// <summary>Plays a scenario as a new user through the chat and the extraction job, and compares what is left with the labels.</summary>
    public static async Task<ScenarioOutcome> RunAsync(ApiFactory api, MemoryScenario scenario, Action<ScenarioTurn>? beforeTurn = null)
    {
        var (client, user) = await api.CreateUserClientAsync();
        var conversations = new Dictionary<string, Guid>(StringComparer.Ordinal);
        var problems = new List<string>();
        for (var i = 0; i < scenario.Turns.Count; i++)
        {
            var turn = scenario.Turns[i];
            beforeTurn?.Invoke(turn);
            var label = turn.Conversation ?? $"turn-{i}";
            if (!conversations.TryGetValue(label, out var conversation))
            {
                conversations[label] = conversation = await ChatTestData.CreateConversationAsync(client);
            }
            var historyBefore = await LastHistoryIdAsync(api, user.Id);
            var answer = await MemoryTestData.ChatAsync(client, conversation, turn.Ask ?? turn.Say!);
            await MemoryTestData.RunExtractionsAsync(api, user.Id);
            if (turn.Ask is not null)
            {
                if (!answer.Content.Contains(turn.AnswerContains!, StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add($"turn {i + 1}: the answer to \"{turn.Ask}\" lacks \"{turn.AnswerContains}\" ({answer.Content})");
                }
                continue;
            }
            var expected = Counts((turn.Facts ?? []).Select(f => f.Op.ToUpperInvariant()).Where(o => o != "NOOP"));
            var actual = await ChangesAsync(api, user.Id, historyBefore);
            if (expected != actual)
            {
                problems.Add($"turn {i + 1}: operations {actual}, expected {expected}");
            }
        }

        var current = await CurrentAsync(api, user.Id);
        Compare(problems, "user memories", scenario.Memories, current.Where(m => m.Scope == "user").Select(m => m.Text));
        foreach (var (label, conversation) in conversations)
        {
            var expected = scenario.Session?.GetValueOrDefault(label) ?? [];
            Compare(problems, $"session memories of conversation {label}", expected,
                current.Where(m => m.Scope == "session" && m.SessionId == conversation.ToString("D")).Select(m => m.Text));
        }
        return new ScenarioOutcome(scenario, problems);
    }

    private static void Compare(List<string> problems, string what, IEnumerable<string> expected, IEnumerable<string> actual)
    {
        var want = expected.Select(MemoryText.Hash).Order(StringComparer.Ordinal).ToList();
        var have = actual.ToList();
        if (!want.SequenceEqual(have.Select(MemoryText.Hash).Order(StringComparer.Ordinal)))
        {
            problems.Add($"{what} [{string.Join(" | ", have)}], expected [{string.Join(" | ", expected)}]");
        }
    }

    private static string Counts(IEnumerable<string> operations) =>
        string.Join(",", operations.GroupBy(o => o).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={g.Count()}"));

    private static async Task<long> LastHistoryIdAsync(ApiFactory api, Guid userId) =>
        (long)(await ScalarAsync(api, "SELECT coalesce(max(id), 0) FROM memory_history WHERE owner_user_id = $1", userId))!;

    // What the turn changed, from the history rows it wrote (extraction and the remember tool alike): ADDs, DELETEs and
    // UPDATEs (two rows each: the superseded and the new version). NOOPs change nothing; the final comparison of the
    // current memories checks them.
    private static async Task<string> ChangesAsync(ApiFactory api, Guid userId, long after)
    {
        await using var command = api.DataSource.CreateCommand("""
            SELECT operation, count(*) FROM memory_history WHERE owner_user_id = $1 AND id > $2 AND operation <> 'NOOP' GROUP BY operation
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = after });
        var operations = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var count = (int)reader.GetInt64(1);
            operations.AddRange(Enumerable.Repeat(reader.GetString(0), reader.GetString(0) == "UPDATE" ? count / 2 : count));
        }
        return Counts(operations);
    }

    private static async Task<object?> ScalarAsync(ApiFactory api, string sql, Guid userId)
    {
        await using var command = api.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = userId });
        return await command.ExecuteScalarAsync();
    }

    private static async Task<List<(string Text, string Scope, string? SessionId)>> CurrentAsync(ApiFactory api, Guid userId)
    {
        await using var command = api.DataSource.CreateCommand("SELECT text, key_id, text_ct, scope, session_id FROM memories WHERE user_id = $1 AND invalidated_at IS NULL");
        command.Parameters.Add(new() { Value = userId });
        var rows = new List<(string, string, string?)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(((await TestCipher.OpenAsync(api.DataSource, reader, 0, EncryptedField.MemoryText))!, reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return rows;
    }
}
