using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI.Embeddings;
using AiEmbeddingOptions = Microsoft.Extensions.AI.EmbeddingGenerationOptions;
using OpenAiEmbeddingOptions = OpenAI.Embeddings.EmbeddingGenerationOptions;

namespace AspireAi.Core.Llm.OpenAi;

/// <summary>
/// <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> over the OpenAI SDK's embeddings client. Inputs are sent in
/// batches of at most <c>batchSize</c>; <c>dimensions</c> (default <see cref="EmbeddingDefaults.Dimensions"/>) is sent
/// to models that can shorten their vectors (text-embedding-3-*), and every returned vector must have exactly that
/// width, because the pgvector column does.
/// </summary>
public sealed class OpenAiEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly OpenAiConnection _connection;
    private readonly EmbeddingClient _client;
    private readonly string _model;
    private readonly int _batchSize;
    private readonly bool _sendDimensions;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Creates the generator.</summary>
    /// <param name="provider">Server and key (<see cref="LlmProvider.Offline"/> is not accepted).</param>
    /// <param name="model">Embedding model (deployment name on Azure).</param>
    /// <param name="httpClient">Client with the <c>llm</c> resilience handler, from IHttpClientFactory.</param>
    /// <param name="batchSize">Most inputs per request.</param>
    /// <param name="sendDimensions">Send <c>dimensions</c>; null decides by model name (text-embedding-3-*).</param>
    /// <param name="networkTimeout">Longest wait for one response body.</param>
    public OpenAiEmbeddingGenerator(
        LlmProviderOptions provider, string model, HttpClient httpClient, int batchSize = 64, bool? sendDimensions = null, TimeSpan? networkTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _connection = new OpenAiConnection(provider, httpClient, networkTimeout);
        _model = model;
        _client = _connection.CreateEmbeddingClient(model);
        _batchSize = batchSize;
        _sendDimensions = sendDimensions ?? model.StartsWith("text-embedding-3", StringComparison.OrdinalIgnoreCase);
        _metadata = new EmbeddingGeneratorMetadata(_connection.ProviderName, _connection.Endpoint, model, EmbeddingDefaults.Dimensions);
    }

    /// <inheritdoc />
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, AiEmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values.ToList();
        var dimensions = options?.Dimensions ?? EmbeddingDefaults.Dimensions;
        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        long inputTokens = 0;

        foreach (var batch in inputs.Chunk(_batchSize))
        {
            OpenAIEmbeddingCollection embeddings;
            try
            {
                embeddings = (await _client.GenerateEmbeddingsAsync(
                    batch, new OpenAiEmbeddingOptions { Dimensions = _sendDimensions ? dimensions : null }, cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (ClientResultException exception)
            {
                throw OpenAiConnection.Wrap(exception, _model);
            }
            catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Embedding model '{_model}' did not answer within Llm:RequestTimeout.", exception);
            }

            if (embeddings.Count != batch.Length)
            {
                throw new LlmProviderException($"Embedding model '{_model}' returned {embeddings.Count} vectors for {batch.Length} inputs.");
            }

            foreach (var embedding in embeddings.OrderBy(e => e.Index))
            {
                var vector = embedding.ToFloats();
                if (vector.Length != dimensions)
                {
                    throw new LlmProviderException(
                        $"Embedding model '{_model}' returned {vector.Length} dimensions where {dimensions} are required. " +
                        "Use a model that supports 'dimensions' (text-embedding-3-*), one that is natively that wide, or set Llm:EmbeddingProvider to Offline.");
                }

                result.Add(new Embedding<float>(vector) { ModelId = embeddings.Model ?? _model, CreatedAt = DateTimeOffset.UtcNow });
            }

            inputTokens += embeddings.Usage?.InputTokenCount ?? 0;
        }

        result.Usage = new UsageDetails { InputTokenCount = inputTokens, TotalTokenCount = inputTokens };
        return result;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
            : serviceType == typeof(EmbeddingClient) ? _client
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
