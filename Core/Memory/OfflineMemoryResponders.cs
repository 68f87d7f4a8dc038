using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Offline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Memory;

/// <summary>The offline model's answer to the extraction call (schema <c>memory_facts</c>), by <see cref="OfflineFactExtractor"/>.</summary>
internal sealed class OfflineExtractionResponder : IOfflineStructuredResponder
{
    public string SchemaName => MemorySchemas.FactsSchemaName;

    public ValueTask<JsonNode?> RespondAsync(OfflineStructuredRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var messages = MemoryPrompts.ReadExchange(request.UserText);
        var facts = OfflineFactExtractor.Extract(messages, MemoryPrompts.MaxFactsFrom(request.SystemTexts));
        return ValueTask.FromResult<JsonNode?>(new JsonObject { ["facts"] = new JsonArray([.. facts.Select(f => (JsonNode)MemorySchemas.ToJson(f))]) });
    }
}

/// <summary>
/// The offline model's answer to the consolidation call (schema <c>memory_decision</c>), by <see cref="ConsolidationRules"/>
/// with the local embedder's similarity of the fact to each candidate (a remote embedder is not called for it).
/// </summary>
internal sealed class OfflineDecisionResponder(IEmbeddingGenerator<string, Embedding<float>> embedder, IOptions<LlmOptions> options) : IOfflineStructuredResponder
{
    public string SchemaName => MemorySchemas.DecisionSchemaName;

    public async ValueTask<JsonNode?> RespondAsync(OfflineStructuredRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (MemoryPrompts.ReadFact(request.UserText) is not { } fact)
        {
            return null;
        }
        var candidates = request.Memories.Select(m => (m.Id, m.Text)).ToList();
        IReadOnlyList<double>? similarity = null;
        // The thresholds of the rules are MiniLM cosines: the hashing test double only sees shared words.
        if (candidates.Count > 0 && options.Value.ResolveEmbeddingProvider() == LlmProvider.Offline && options.Value.Offline.Embedder == OfflineEmbedder.MiniLM)
        {
            var vectors = await embedder.GenerateAsync([fact.Text, .. candidates.Select(c => c.Text)], cancellationToken: cancellationToken).ConfigureAwait(false);
            var factVector = vectors[0].Vector;
            similarity = [.. vectors.Skip(1).Select(v => (double)OfflineEmbeddingGenerator.CosineSimilarity(factVector.Span, v.Vector.Span))];
        }
        return MemorySchemas.ToJson(ConsolidationRules.Decide(fact, candidates, similarity));
    }
}

/// <summary>How the two calls put their inputs into messages, and how the offline responders read them back.</summary>
internal static class MemoryPrompts
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
