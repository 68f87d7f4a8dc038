using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Memory;

namespace AspireAi.Core.Llm;

/// <summary>
/// Keeps the vectors of single-text calls (search queries, recalled questions) in a bounded in-memory cache keyed by
/// model and text: users repeat questions, and a repeated query should not pay for inference or an API call again.
/// Batches (ingestion, re-embedding) pass straight through, so they never evict the hot queries.
/// </summary>
public sealed class QueryEmbeddingCache : DelegatingEmbeddingGenerator<string, Embedding<float>>
{
    private readonly MemoryCache _cache;
    private readonly string _model;

    /// <summary>Wraps <paramref name="innerGenerator"/> with a cache of at most <paramref name="capacity"/> vectors.</summary>
    public QueryEmbeddingCache(IEmbeddingGenerator<string, Embedding<float>> innerGenerator, int capacity)
        : base(innerGenerator)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity });
        _model = innerGenerator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? string.Empty;
    }

    /// <inheritdoc />
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        // Options can change the model or the width, so only plain calls are cached.
        if (options is not null || values is not IReadOnlyList<string> { Count: 1 } single)
        {
            return await base.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
        }

        var key = (_model, single[0]);
        if (_cache.TryGetValue(key, out Embedding<float>? cached) && cached is not null)
        {
            return [cached];
        }

        var generated = await base.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
        if (generated.Count == 1)
        {
            _cache.Set(key, generated[0], new MemoryCacheEntryOptions { Size = 1 });
        }

        return generated;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cache.Dispose();
        }

        base.Dispose(disposing);
    }
}
