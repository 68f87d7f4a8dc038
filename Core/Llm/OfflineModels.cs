namespace AspireAi.Core.Llm;

/// <summary>Model ids of the offline provider, as reported in ModelId and stored with vectors.</summary>
public static class OfflineModels
{
    /// <summary>The deterministic chat model.</summary>
    public const string ChatModelId = "offline-chat-1";

    /// <summary>The local embedding model, all-MiniLM-L6-v2 (384 dimensions).</summary>
    public const string EmbeddingModelId = "all-MiniLM-L6-v2";

    /// <summary>
    /// all-MiniLM-L6-v2 with its matrix products quantized to int8 (<c>OfflineEmbedder.MiniLMInt8</c>): an approximation of
    /// the float model's space (cosine 0.98–0.99 between the two vectors of a text), so its vectors carry their own id.
    /// </summary>
    public const string QuantizedEmbeddingModelId = "all-MiniLM-L6-v2-int8";

    /// <summary>The feature-hashing embedder (384 dimensions), kept as a model-free test double.</summary>
    public const string HashingEmbeddingModelId = "offline-embed-1";

    /// <summary>
    /// Key of the offline <c>IChatClient</c> and <c>IEmbeddingGenerator</c> in the container (registered by
    /// AspireAi.Offline); the pipeline resolves them by this key when a provider setting says Offline.
    /// </summary>
    public const string ServiceKey = "offline";

    /// <summary>Provider name in ChatClientMetadata and in telemetry (gen_ai.provider.name).</summary>
    public const string ProviderName = "aspireai.offline";
}
