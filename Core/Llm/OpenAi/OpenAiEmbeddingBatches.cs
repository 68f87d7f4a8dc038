using System.ClientModel;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm.OpenAi;

// What the pgvector column needs from a remote embedding model, around the library's OpenAI generator: at most
// Llm:EmbeddingBatchSize inputs per request, dimensions = 384 sent to models that can shorten their vectors
// (text-embedding-3-*), and every vector exactly EmbeddingDefaults.Dimensions wide. SDK failures become
// LlmProviderException, as for chat.
internal sealed class OpenAiEmbeddingBatches(IEmbeddingGenerator<string, Embedding<float>> innerGenerator, string model, int batchSize, bool sendDimensions)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(innerGenerator)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values.ToList();
        var dimensions = options?.Dimensions ?? EmbeddingDefaults.Dimensions;
        var request = options?.Clone() ?? new EmbeddingGenerationOptions();
        request.Dimensions = sendDimensions ? dimensions : null;

        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count) { Usage = new UsageDetails() };
        foreach (var batch in inputs.Chunk(batchSize))
        {
            GeneratedEmbeddings<Embedding<float>> embeddings;
            try
            {
                embeddings = await base.GenerateAsync(batch, request, cancellationToken).ConfigureAwait(false);
            }
            catch (ClientResultException exception)
            {
                throw OpenAiProvider.Wrap(exception, model);
            }
            catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Embedding model '{model}' did not answer within Llm:RequestTimeout.", exception);
            }

            if (embeddings.Count != batch.Length)
            {
                throw new LlmProviderException($"Embedding model '{model}' returned {embeddings.Count} vectors for {batch.Length} inputs.");
            }

            foreach (var embedding in embeddings)
            {
                if (embedding.Vector.Length != dimensions)
                {
                    throw new LlmProviderException(
                        $"Embedding model '{model}' returned {embedding.Vector.Length} dimensions where {dimensions} are required. " +
                        "Use a model that supports 'dimensions' (text-embedding-3-*), one that is natively that wide, or set Llm:EmbeddingProvider to Offline.");
                }

                result.Add(embedding);
            }

            if (embeddings.Usage is { } usage)
            {
                result.Usage.Add(usage);
            }
        }

        return result;
    }
}
