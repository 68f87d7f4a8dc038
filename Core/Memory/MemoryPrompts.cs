using System.Text.Json;
using System.Text.Json.Nodes;

namespace AspireAi.Core.Memory;

/// <summary>How the two calls put their inputs into messages, and how the offline responders read them back.</summary>
public static class MemoryPrompts
{
    public const string CandidatesInstruction =
        "Existing memories in the same scope, most similar first. Refer to them by the id in brackets.";

    private const string MaxFactsPrefix = "max_facts=";

    /// <summary>The exchange as the extraction's user message: {"messages": [{"role", "content"}]}.</summary>
    public static string WriteExchange(IEnumerable<(string Role, string Content)> messages) =>
        new JsonObject
        {
            ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content })]),
        }.ToJsonString();

    public static IReadOnlyList<(string Role, string Content)> ReadExchange(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject { } root && root["messages"] is JsonArray messages)
            {
                return [.. messages.OfType<JsonObject>()
                    .Select(m => (m["role"]?.GetValue<string>() ?? "user", m["content"]?.GetValue<string>() ?? ""))];
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Not our format: treat the whole text as one user message.
        }
        return [("user", text)];
    }

    /// <summary>A hidden hint for the offline extractor: the system prompt states the fact limit in words, this line as data.</summary>
    public static string MaxFactsLine(int maxFacts) => $"({MaxFactsPrefix}{maxFacts})";

    public static int MaxFactsFrom(IEnumerable<string> systemTexts)
    {
        foreach (var text in systemTexts)
        {
            var at = text.IndexOf(MaxFactsPrefix, StringComparison.Ordinal);
            if (at >= 0)
            {
                var digits = new string([.. text[(at + MaxFactsPrefix.Length)..].TakeWhile(char.IsAsciiDigit)]);
                if (int.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var max) && max > 0)
                {
                    return max;
                }
            }
        }
        return 20;
    }

    /// <summary>The new fact as the consolidation's user message.</summary>
    public static string WriteFact(MemoryFact fact) => new JsonObject
    {
        ["fact"] = fact.Text,
        ["type"] = MemoryNames.Of(fact.Type),
        ["retraction"] = fact.Retraction,
        ["supersedes"] = fact.Supersedes,
    }.ToJsonString();

    public static MemoryFact? ReadFact(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject root && root["fact"]?.GetValue<string>() is { Length: > 0 } factText)
            {
                var type = MemoryNames.TryParseType(root["type"]?.GetValue<string>(), out var parsed) ? parsed : MemoryType.Semantic;
                var retraction = root["retraction"] is JsonValue r && r.TryGetValue<bool>(out var flag) && flag;
                var supersedes = root["supersedes"] is JsonValue s && s.TryGetValue<bool>(out var replaces) && replaces;
                return new MemoryFact(factText, type, 0.5f, [], retraction, Supersedes: supersedes);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Not our format.
        }
        return null;
    }
}
