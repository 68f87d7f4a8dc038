using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Memory;

/// <summary>A vector and the model that produced it (stored together: vectors of two models are never compared).</summary>
public sealed record MemoryVector(float[] Values, string Model);

/// <summary>Embeds memory texts and queries with the configured <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.</summary>
public sealed class MemoryEmbedder(IEmbeddingGenerator<string, Embedding<float>> generator)
{
    /// <summary>The model new vectors come from (what retrieval filters on).</summary>
    public string CurrentModel { get; } =
        generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? OfflineModels.EmbeddingModelId;

    public async Task<IReadOnlyList<MemoryVector>> EmbedAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0)
        {
            return [];
        }
        var embeddings = await generator.GenerateAsync(texts, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (embeddings.Count != texts.Count)
        {
            throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} vectors for {texts.Count} texts.");
        }
        return [.. embeddings.Select(e =>
        {
            var values = e.Vector.ToArray();
            if (values.Length != EmbeddingDefaults.Dimensions)
            {
                throw new InvalidOperationException($"Embeddings must have {EmbeddingDefaults.Dimensions} dimensions; got {values.Length}.");
            }
            // The configured model id, not the response's (which may carry a dated suffix): it is what queries filter on.
            return new MemoryVector(values, CurrentModel);
        })];
    }

    public async Task<MemoryVector> EmbedAsync(string text, CancellationToken cancellationToken) =>
        (await EmbedAsync([text], cancellationToken).ConfigureAwait(false))[0];
}
