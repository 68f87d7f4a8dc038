using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;

namespace AspireAi.Core.Caching;

/// <summary>
/// Keeps the vectors of single-text calls (search queries, recalled questions) in the shared cache, keyed by model
/// and a hash of the text: users repeat questions, and a repeated query should not pay for inference or an API call
/// again, on any instance. Batches (ingestion, re-embedding) pass straight through, so they never evict hot queries.
/// </summary>
public sealed class CachingEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> innerGenerator, SharedCache cache, TimeSpan duration)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(innerGenerator)
{
    private readonly string _model = innerGenerator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? string.Empty;

    // Provider, endpoint and model: two deployments of one model name behind different endpoints are different models.
    private readonly string _scope = Scope(innerGenerator.GetService<EmbeddingGeneratorMetadata>());

    private static string Scope(EmbeddingGeneratorMetadata? metadata) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{metadata?.ProviderName}|{metadata?.ProviderUri}|{metadata?.DefaultModelId}|{metadata?.DefaultModelDimensions}")).AsSpan(0, 8));

    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        // Options can change the model or the width, so only plain calls are cached.
        if (options is not null || values is not IReadOnlyList<string> { Count: 1 } single)
        {
            return await base.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
        }

        // The text is hashed: queries are personal, and Redis keys are listed in plain sight.
        var key = $"embedding:{_scope}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(single[0])))}";
        var bytes = await cache.GetOrCreateAsync(key, async token =>
        {
            var generated = await base.GenerateAsync(values, options, token).ConfigureAwait(false);
            return MemoryMarshal.AsBytes(generated[0].Vector.Span).ToArray();
        }, new HybridCacheEntryOptions { Expiration = duration, LocalCacheExpiration = duration }, cancellationToken).ConfigureAwait(false);
        return [new Embedding<float>(MemoryMarshal.Cast<byte, float>(bytes).ToArray()) { ModelId = _model.Length > 0 ? _model : null }];
    }
}
