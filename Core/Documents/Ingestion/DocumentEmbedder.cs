using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Documents.Ingestion;

/// <summary>
/// The embedding side of documents: which model is current (stored with every vector and used to filter every
/// query, so vectors of two models are never compared), batching, and L2 normalisation (the index ranks by inner
/// product, which equals cosine similarity on unit vectors).
/// </summary>
public sealed class DocumentEmbedder(
    IEmbeddingGenerator<string, Embedding<float>> generator, IOptions<LlmOptions> llm, IOptions<DocumentsOptions> options)
{
    /// <summary>The configured embedding model's id.</summary>
    public string ModelId { get; } =
        generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId is { Length: > 0 } id ? id : llm.Value.ResolveEmbeddingModel();

    /// <summary>Embeds texts in batches of <c>Documents:EmbeddingBatchSize</c>, reporting the count done after each batch.</summary>
    public async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, Func<int, CancellationToken, Task>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var batchSize = options.Value.EmbeddingBatchSize;
        var vectors = new float[texts.Count][];
        for (var start = 0; start < texts.Count; start += batchSize)
        {
            var count = Math.Min(batchSize, texts.Count - start);
            var batch = new string[count];
            for (var i = 0; i < count; i++)
            {
                batch[i] = texts[start + i];
            }

            var embeddings = await generator.GenerateAsync(batch, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (embeddings.Count != count)
            {
                throw new InvalidOperationException($"The embedding model returned {embeddings.Count} vectors for {count} inputs.");
            }

            for (var i = 0; i < count; i++)
            {
                vectors[start + i] = Normalise(embeddings[i].Vector.Span);
            }

            if (progress is not null)
            {
                await progress(start + count, cancellationToken).ConfigureAwait(false);
            }
        }

        return vectors;
    }

    /// <summary>
    /// Embeds texts batch by batch on a background task, at most two batches ahead of the consumer: the caller stores
    /// batch k while batch k+1 is embedded, so embedding (this process) and index maintenance (PostgreSQL) use two
    /// cores at once instead of taking turns.
    /// </summary>
    public async IAsyncEnumerable<(int Start, float[][] Vectors)> EmbedPipelinedAsync(IReadOnlyList<string> texts,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var batchSize = options.Value.EmbeddingBatchSize;
        var channel = System.Threading.Channels.Channel.CreateBounded<(int, float[][])>(
            new System.Threading.Channels.BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (var start = 0; start < texts.Count; start += batchSize)
                {
                    var count = Math.Min(batchSize, texts.Count - start);
                    var batch = new string[count];
                    for (var i = 0; i < count; i++)
                    {
                        batch[i] = texts[start + i];
                    }

                    var vectors = await EmbedAsync(batch, null, stop.Token).ConfigureAwait(false);
                    await channel.Writer.WriteAsync((start, vectors), stop.Token).ConfigureAwait(false);
                }

                channel.Writer.Complete();
            }
            catch (Exception ex)
            {
                channel.Writer.Complete(ex);
            }
        }, CancellationToken.None);

        try
        {
            await foreach (var batch in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
            }
        }
        finally
        {
            // The consumer stopped early (failure, cancellation): stop the producer and wait for it.
            await stop.CancelAsync().ConfigureAwait(false);
            await producer.ConfigureAwait(false);
        }
    }

    /// <summary>The unit vector of one query.</summary>
    public async Task<float[]> EmbedQueryAsync(string query, CancellationToken cancellationToken)
    {
        var embeddings = await generator.GenerateAsync([query], cancellationToken: cancellationToken).ConfigureAwait(false);
        return Normalise(embeddings[0].Vector.Span);
    }

    /// <summary>A unit-length copy; a vector of the wrong width is refused (it cannot go into <c>vector(384)</c>).</summary>
    public static float[] Normalise(ReadOnlySpan<float> vector)
    {
        if (vector.Length != EmbeddingDefaults.Dimensions)
        {
            throw new InvalidOperationException(
                $"The embedding model returned {vector.Length} dimensions; the store holds {EmbeddingDefaults.Dimensions} (EmbeddingDefaults.Dimensions).");
        }

        var sum = 0d;
        foreach (var value in vector)
        {
            sum += value * value;
        }

        var result = vector.ToArray();
        var norm = Math.Sqrt(sum);
        if (norm > 0 && Math.Abs(norm - 1) > 1e-6)
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = (float)(result[i] / norm);
            }
        }

        return result;
    }
}
