using AspireAi.Core.Llm;
using AspireAi.Core.Common;
using Microsoft.Extensions.AI;

namespace AspireAi.Offline;

/// <summary>
/// Deterministic embeddings without a model: the hashing trick over the normalised text's word unigrams and
/// bigrams and the character 3- and 4-grams of each word, with signed hashing (collisions cancel rather than
/// pile up), sublinear term frequency and L2 normalisation. Texts that share words or word pieces land close
/// together ("reset my password" / "password reset steps"), unrelated texts near zero cosine similarity. The same
/// text gives the same vector on every machine and run: the hash is FNV-1a 64, never string.GetHashCode.
/// </summary>
public sealed class OfflineEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    // Relative weights: whole words carry meaning, bigrams add word order, character n-grams catch inflections and
    // typos; stopwords are kept (so "to be or not to be" still has a vector) but barely count.
    private const float UnigramWeight = 1.0f;
    private const float BigramWeight = 0.6f;
    private const float CharGramWeight = 0.25f;
    private const float StopwordFactor = 0.15f;

    private static readonly EmbeddingGeneratorMetadata Metadata =
        new(OfflineModels.ProviderName, providerUri: null, OfflineModels.HashingEmbeddingModelId, EmbeddingDefaults.Dimensions);

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var dimensions = options?.Dimensions ?? EmbeddingDefaults.Dimensions;
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1, nameof(options));

        var result = new GeneratedEmbeddings<Embedding<float>>();
        long tokens = 0;
        foreach (var value in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            tokens += TokenCounter.Count(value);
            result.Add(new Embedding<float>(Embed(value, dimensions))
            {
                ModelId = OfflineModels.HashingEmbeddingModelId,
                CreatedAt = DateTimeOffset.UtcNow,
            });
        }

        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return Task.FromResult(result);
    }

    /// <summary>The vector of one text (unit length).</summary>
    public static float[] Embed(string? text, int dimensions = EmbeddingDefaults.Dimensions)
    {
        var features = new Dictionary<string, (float Weight, int Count)>(StringComparer.Ordinal);
        var words = TextNormalizer.Words(text);
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[i];
            var stop = TextNormalizer.IsStopword(word);
            Add(features, "w:" + word, UnigramWeight * (stop ? StopwordFactor : 1));
            if (i + 1 < words.Length)
            {
                var bothStop = stop && TextNormalizer.IsStopword(words[i + 1]);
                Add(features, "b:" + word + " " + words[i + 1], BigramWeight * (bothStop ? StopwordFactor : 1));
            }

            if (!stop)
            {
                var padded = "<" + word + ">";
                for (var n = 3; n <= 4; n++)
                {
                    for (var start = 0; start + n <= padded.Length; start++)
                    {
                        Add(features, string.Concat("c:", padded.AsSpan(start, n)), CharGramWeight);
                    }
                }
            }
        }

        var vector = new float[dimensions];
        if (features.Count == 0)
        {
            // Empty or punctuation-only text still needs a unit vector: a zero vector has no cosine distance.
            features["empty"] = (1, 1);
        }

        foreach (var (feature, (weight, count)) in features)
        {
            // Sublinear term frequency: a word repeated ten times weighs about 3.3 times one occurrence, not ten.
            var value = weight * (1 + MathF.Log(count));
            var hash = Fnv1a64(feature);
            var index = (int)(hash % (ulong)dimensions);
            // The sign comes from bits the index does not use, so two colliding features cancel half the time.
            var sign = (hash >> 63) == 0 ? 1f : -1f;
            vector[index] += sign * value;
        }

        var norm = MathF.Sqrt(Dot(vector, vector));
        if (norm > 0)
        {
            for (var i = 0; i < vector.Length; i++)
            {
                vector[i] /= norm;
            }
        }
        else
        {
            vector[0] = 1; // every feature cancelled out: still return a unit vector
        }

        return vector;
    }

    /// <summary>Cosine similarity of two vectors of equal length.</summary>
    public static float CosineSimilarity(ReadOnlySpan<float> left, ReadOnlySpan<float> right)
    {
        if (left.Length != right.Length)
        {
            throw new ArgumentException("Vectors must have the same length.", nameof(right));
        }

        var norms = MathF.Sqrt(Dot(left, left) * Dot(right, right));
        return norms == 0 ? 0 : Dot(left, right) / norms;
    }

    private static float Dot(ReadOnlySpan<float> left, ReadOnlySpan<float> right)
    {
        var sum = 0f;
        for (var i = 0; i < left.Length; i++)
        {
            sum += left[i] * right[i];
        }

        return sum;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private static void Add(Dictionary<string, (float Weight, int Count)> features, string feature, float weight) =>
        features[feature] = features.TryGetValue(feature, out var existing)
            ? (MathF.Max(existing.Weight, weight), existing.Count + 1)
            : (weight, 1);

    internal static ulong Fnv1a64(string text)
    {
        const ulong offset = 14695981039346656037;
        const ulong prime = 1099511628211;
        var hash = offset;
        foreach (var c in text)
        {
            hash = (hash ^ (byte)c) * prime;
            hash = (hash ^ (byte)(c >> 8)) * prime;
        }

        // FNV's low bits mix poorly for short inputs; a final avalanche (from MurmurHash3's fmix64) spreads them.
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccd;
        hash ^= hash >> 33;
        hash *= 0xc4ceb33fa53e8ccd;
        hash ^= hash >> 33;
        return hash;
    }
}
