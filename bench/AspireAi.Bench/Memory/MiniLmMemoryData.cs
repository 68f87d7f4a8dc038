using System.Diagnostics;
using System.Runtime.InteropServices;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Offline;
using Microsoft.Extensions.AI;

namespace AspireAi.Bench.Memory;

/// <summary>
/// Vectors from the real model (all-MiniLM-L6-v2) for the million-row load, within the time a benchmark can take
/// (~270 embeddings/s per core): every memory of the measured user is a distinct text embedded by MiniLM; the other
/// users' memories draw their texts from a pool of <c>poolSize</c> further distinct texts, each also embedded by MiniLM,
/// and each row's vector is its text's vector plus Gaussian noise (<c>jitter</c> per dimension), re-normalised — so
/// the rows around the measured scope in the graph are near-copies of real vectors, not random points.
/// Embeddings are cached in the data directory, so a failed load does not embed again.
/// </summary>
internal sealed class MiniLmMemoryData
{
    private MiniLmMemoryData(List<(string Text, MemoryType Type)> scope, float[][] scopeVectors, List<(string Text, MemoryType Type)> pool,
        float[][] poolVectors, double jitter)
    {
        Scope = scope;
        ScopeVectors = scopeVectors;
        Pool = pool;
        PoolVectors = poolVectors;
        Jitter = jitter;
    }

    public List<(string Text, MemoryType Type)> Scope { get; }
    public float[][] ScopeVectors { get; }
    public List<(string Text, MemoryType Type)> Pool { get; }
    public float[][] PoolVectors { get; }
    public double Jitter { get; }

    public static async Task<MiniLmMemoryData> BuildAsync(int scope, int poolSize, double jitter, string? cacheDirectory, OfflineEmbedder embedder)
    {
        // The same generator and seed as the hashing load, so the measured user's texts are the same in both modes.
        var scopeTexts = Distinct(new SyntheticMemories(seed: 7), scope);
        var poolTexts = Distinct(new SyntheticMemories(seed: 8), poolSize);
        var scopeVectors = await EmbedAllAsync("scope", scopeTexts.Select(t => t.Text).ToList(), cacheDirectory, embedder);
        var poolVectors = await EmbedAllAsync("pool", poolTexts.Select(t => t.Text).ToList(), cacheDirectory, embedder);
        return new MiniLmMemoryData(scopeTexts, scopeVectors, poolTexts, poolVectors, jitter);
    }

    /// <summary>A pool text's vector with noise, re-normalised (cosine distance ignores length, the index expects unit vectors).</summary>
    public float[] Perturbed(int poolIndex, int seed)
    {
        var random = new Random(seed);
        var source = PoolVectors[poolIndex];
        var result = new float[source.Length];
        double norm = 0;
        for (var i = 0; i < source.Length; i++)
        {
            // Box-Muller: one standard normal draw.
            var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            result[i] = (float)(source[i] + Jitter * gaussian);
            norm += result[i] * (double)result[i];
        }
        var scale = (float)(1 / Math.Sqrt(norm));
        for (var i = 0; i < result.Length; i++)
        {
            result[i] *= scale;
        }
        return result;
    }

    private static List<(string Text, MemoryType Type)> Distinct(SyntheticMemories generator, int count)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var texts = new List<(string, MemoryType)>(count);
        while (texts.Count < count)
        {
            var next = generator.Next();
            if (seen.Add(MemoryText.Hash(next.Text)))
            {
                texts.Add(next);
            }
        }
        return texts;
    }

    private static async Task<float[][]> EmbedAllAsync(string name, List<string> texts, string? cacheDirectory, OfflineEmbedder embedder)
    {
        var cache = cacheDirectory is null ? null
            : Path.Combine(cacheDirectory, $"minilm{(embedder == OfflineEmbedder.MiniLMInt8 ? "-int8" : "")}-{name}-{texts.Count}.f32");
        if (cache is not null && File.Exists(cache) && new FileInfo(cache).Length == (long)texts.Count * EmbeddingDefaults.Dimensions * sizeof(float))
        {
            var bytes = await File.ReadAllBytesAsync(cache);
            var read = new float[texts.Count][];
            for (var i = 0; i < read.Length; i++)
            {
                read[i] = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(i * EmbeddingDefaults.Dimensions * sizeof(float), EmbeddingDefaults.Dimensions * sizeof(float))).ToArray();
            }
            Console.WriteLine($"MiniLM vectors of the {texts.Count:N0} {name} texts read from {cache}.");
            return read;
        }

        const int batchSize = 32;
        using var generator = new MiniLmEmbeddingGenerator(
            new OfflineLlmOptions { EmbeddingThreads = 1, Embedder = embedder }, batchSize);
        var vectors = new float[texts.Count][];
        var done = 0;
        var watch = Stopwatch.StartNew();
        Console.WriteLine($"Embedding {texts.Count:N0} {name} texts with {generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId} ({Environment.ProcessorCount} batches of {batchSize} at once) ...");
        // One inference per core: the session is thread-safe, and one intra-op thread each uses the cores best.
        await Parallel.ForEachAsync(Enumerable.Range(0, (texts.Count + batchSize - 1) / batchSize),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (batch, cancellationToken) =>
            {
                var start = batch * batchSize;
                var slice = texts.GetRange(start, Math.Min(batchSize, texts.Count - start));
                var embeddings = await generator.GenerateAsync(slice, cancellationToken: cancellationToken);
                for (var i = 0; i < slice.Count; i++)
                {
                    vectors[start + i] = embeddings[i].Vector.ToArray();
                }
                var total = Interlocked.Add(ref done, slice.Count);
                if (total / 10_000 != (total - slice.Count) / 10_000)
                {
                    Console.WriteLine($"  {total:N0} embedded, {watch.Elapsed.TotalSeconds:F0} s ({total / watch.Elapsed.TotalSeconds:F0}/s)");
                }
            });
        Console.WriteLine($"Embedded {texts.Count:N0} {name} texts in {watch.Elapsed.TotalSeconds:F0} s ({texts.Count / watch.Elapsed.TotalSeconds:F0}/s).");
        if (cache is not null)
        {
            await using var file = File.Create(cache);
            foreach (var vector in vectors)
            {
                await file.WriteAsync(MemoryMarshal.AsBytes(vector.AsSpan()).ToArray());
            }
        }
        return vectors;
    }
}
