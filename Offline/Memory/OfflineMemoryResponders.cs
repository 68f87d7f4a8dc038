using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AspireAi.Offline.Memory;

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
        if (candidates.Count > 0 && options.Value.ResolveEmbeddingProvider() == LlmProvider.Offline && options.Value.Offline.Embedder is OfflineEmbedder.MiniLM or OfflineEmbedder.MiniLMInt8)
        {
            var vectors = await embedder.GenerateAsync([fact.Text, .. candidates.Select(c => c.Text)], cancellationToken: cancellationToken).ConfigureAwait(false);
            var factVector = vectors[0].Vector;
            similarity = [.. vectors.Skip(1).Select(v => (double)OfflineEmbeddingGenerator.CosineSimilarity(factVector.Span, v.Vector.Span))];
        }
        return MemorySchemas.ToJson(ConsolidationRules.Decide(fact, candidates, similarity));
    }
}
