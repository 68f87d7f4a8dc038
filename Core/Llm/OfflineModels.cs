namespace AspireAi.Core.Llm;

/// <summary>Model ids of the offline provider, as reported in ModelId and stored with vectors.</summary>
public static class OfflineModels
{
    /// <summary>The deterministic chat model.</summary>
    public const string ChatModelId = "offline-chat-1";

    /// <summary>The feature-hashing embedding model (384 dimensions).</summary>
    public const string EmbeddingModelId = "offline-embed-1";

    /// <summary>Provider name in ChatClientMetadata and in telemetry (gen_ai.provider.name).</summary>
    public const string ProviderName = "aspireai.offline";
}
