using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Llm;

/// <summary>Which kind of model server answers.</summary>
public enum LlmProvider
{
    /// <summary>The in-process models (<c>offline-chat-1</c>; <c>offline-embed-1</c> or <c>all-MiniLM-L6-v2</c>): no network, no key.</summary>
    Offline,

    /// <summary>api.openai.com (or <see cref="LlmProviderOptions.Endpoint"/> when set), bearer API key.</summary>
    OpenAI,

    /// <summary>Azure OpenAI through its v1-compatible endpoint <c>https://{resource}.openai.azure.com/openai/v1/</c> and an <c>api-key</c>.</summary>
    AzureOpenAI,

    /// <summary>Any server speaking the OpenAI chat-completions protocol (Ollama, vLLM, LM Studio ...) at <see cref="LlmProviderOptions.Endpoint"/>.</summary>
    OpenAICompatible,
}

/// <summary>One model server: the primary one (<see cref="LlmOptions"/>) or the <see cref="LlmOptions.Fallback"/>.</summary>
public class LlmProviderOptions
{
    /// <summary>Kind of server; <see cref="LlmProvider.Offline"/> when nothing is configured.</summary>
    public LlmProvider Provider { get; set; } = LlmProvider.Offline;

    /// <summary>Chat model (the deployment name on Azure). Defaults to <c>offline-chat-1</c> offline and <c>gpt-4o-mini</c> on OpenAI; required otherwise.</summary>
    public string? ChatModel { get; set; }

    /// <summary>Secret. Required for OpenAI and Azure OpenAI, optional for compatible servers. Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL ending in <c>/v1/</c>; required for Azure OpenAI and compatible servers, optional for OpenAI.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>The chat model actually used once defaults are applied.</summary>
    public string ResolveChatModel() => ChatModel is { Length: > 0 } model
        ? model
        : Provider switch
        {
            LlmProvider.Offline => OfflineModels.ChatModelId,
            LlmProvider.OpenAI => "gpt-4o-mini",
            _ => throw new InvalidOperationException($"Llm:ChatModel is required for provider {Provider}."),
        };

    /// <summary>Describes the server without the key, for logs and diagnostics.</summary>
    public override string ToString() =>
        $"{Provider} model={ChatModel ?? "(default)"} endpoint={Endpoint?.GetLeftPart(UriPartial.Path) ?? "(default)"} apiKey={(string.IsNullOrEmpty(ApiKey) ? "(none)" : "*****")}";
}

/// <summary>
/// Settings of the model pipeline, bound from the <c>Llm</c> section and validated on start (see
/// <see cref="LlmOptionsValidator"/> for the rules between fields). With no section at all the offline model answers.
/// </summary>
public sealed class LlmOptions : LlmProviderOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "Llm";

    /// <summary>Embedding model; defaults to <c>text-embedding-3-small</c> on OpenAI. Offline, <see cref="OfflineLlmOptions.Embedder"/> decides.</summary>
    public string? EmbeddingModel { get; set; }

    /// <summary>
    /// Where embeddings come from; null means the same server as chat. Set <see cref="LlmProvider.Offline"/> to keep
    /// the offline vectors while chatting with a real model (e.g. an Ollama server whose embedding model is not 384-wide).
    /// Embeddings never fall back: vectors of two models are not comparable.
    /// </summary>
    public LlmProvider? EmbeddingProvider { get; set; }

    /// <summary>
    /// Whether to send <c>dimensions = 384</c> with embedding requests. Null sends it for <c>text-embedding-3-*</c>
    /// models only; other models must natively return <see cref="EmbeddingDefaults.Dimensions"/> values.
    /// </summary>
    public bool? SendEmbeddingDimensions { get; set; }

    /// <summary>Inputs per embeddings request.</summary>
    [Range(1, 2048)]
    public int EmbeddingBatchSize { get; set; } = 64;

    /// <summary>
    /// How long query vectors stay in the shared cache (in process and Redis), keyed by model and text; single-text
    /// calls only, so ingestion batches never evict them. Zero turns the cache off. One entry is ~1.6 KB.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan QueryEmbeddingCacheDuration { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Default cap on generated tokens when a request sets none.</summary>
    [Range(1, 1_000_000)]
    public int? MaxOutputTokens { get; set; }

    /// <summary>
    /// Longest wait on the model server for one network operation: the whole body of a non-streamed response, or
    /// the gap between two streamed chunks. Retries, the wait for response headers and the circuit breaker belong
    /// to the HTTP resilience profile <c>Resilience:Llm</c>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Second server tried when the primary fails before answering (error, timeout, open circuit).</summary>
    public LlmProviderOptions? Fallback { get; set; }

    /// <summary>
    /// Record prompts, answers and tool arguments/results in spans and logs (EnableSensitiveData of the
    /// OpenTelemetry step; the logging steps' Trace records). Off by default: they hold user data. The same key
    /// (<c>AspireAi.ServiceDefaults.TelemetryRedaction.CaptureContentKey</c>) lets classified content and personal
    /// data through the log redaction of every service; secrets stay erased.
    /// </summary>
    public bool CaptureContent { get; set; }

    /// <summary>Tool-calling loop.</summary>
    public ToolLoopOptions ToolLoop { get; set; } = new();

    /// <summary>Offline model.</summary>
    public OfflineLlmOptions Offline { get; set; } = new();

    /// <summary>The embedding provider actually used.</summary>
    public LlmProvider ResolveEmbeddingProvider() => EmbeddingProvider ?? Provider;

    /// <summary>The embedding model actually used once defaults are applied.</summary>
    public string ResolveEmbeddingModel() => ResolveEmbeddingProvider() switch
    {
        LlmProvider.Offline => Offline.Embedder switch
        {
            OfflineEmbedder.Hashing => OfflineModels.HashingEmbeddingModelId,
            OfflineEmbedder.MiniLMInt8 => OfflineModels.QuantizedEmbeddingModelId,
            _ => OfflineModels.EmbeddingModelId,
        },
        _ when EmbeddingModel is { Length: > 0 } model => model,
        LlmProvider.OpenAI => "text-embedding-3-small",
        var provider => throw new InvalidOperationException($"Llm:EmbeddingModel is required for provider {provider}."),
    };
}

/// <summary>How the pipeline's function invocation (Microsoft.Extensions.AI) runs the tools a model asks for.</summary>
public sealed class ToolLoopOptions
{
    /// <summary>Model calls per request that may ask for tools (FunctionInvokingChatClient.MaximumIterationsPerRequest).</summary>
    [Range(1, 50)]
    public int MaxRounds { get; set; } = 5;

    /// <summary>Time one tool call may take before it is reported to the model as timed out.</summary>
    [Range(0.01, 3600)]
    public double ToolTimeoutSeconds { get; set; } = 20;

    /// <summary>Run the calls of one round concurrently.</summary>
    public bool AllowParallel { get; set; } = true;

    /// <summary>
    /// Put exception messages of failing tools into what the model sees. Off by default: messages can carry
    /// internals that should not travel to a third-party model.
    /// </summary>
    public bool IncludeErrorDetails { get; set; }

    internal TimeSpan ToolTimeout => TimeSpan.FromSeconds(ToolTimeoutSeconds);
}

/// <summary>Settings of the offline model.</summary>
public sealed class OfflineLlmOptions
{
    /// <summary>Pause between streamed chunks, for demos and for testing "stop" buttons; 0 streams at once.</summary>
    [Range(0, 10_000)]
    public int TokenDelayMs { get; set; }

    /// <summary>
    /// The local embedding model for memories, documents and queries: <see cref="OfflineEmbedder.MiniLM"/> by default,
    /// as it matches meaning (recall@5 0.95 against 0.05 on texts sharing no word, docs/benchmarks.md).
    /// <see cref="OfflineEmbedder.Hashing"/> is a test double: instant and deterministic, but it only matches shared words.
    /// </summary>
    [EnumDataType(typeof(OfflineEmbedder))]
    public OfflineEmbedder Embedder { get; set; } = OfflineEmbedder.MiniLM;

    /// <summary>
    /// Threads one MiniLM inference may use. 1 by default: a query takes ~3 ms on one core, and concurrent requests
    /// already run their inferences in parallel; more helps large ingestion batches on an otherwise idle machine.
    /// </summary>
    [Range(1, 64)]
    public int EmbeddingThreads { get; set; } = 1;

    /// <summary>Word pieces per text, [CLS] and [SEP] included; longer texts are truncated. MiniLM was trained on 256; 512 is its limit.</summary>
    [Range(16, 512)]
    public int EmbeddingMaxTokens { get; set; } = 256;

    /// <summary>Folder for the extracted model file; defaults to <c>{temp}/aspireai/models</c>.</summary>
    public string? ModelCacheDirectory { get; set; }

    /// <summary>The cache folder actually used.</summary>
    public string ResolveModelCacheDirectory() => ModelCacheDirectory is { Length: > 0 } directory
        ? directory
        : Path.Combine(Path.GetTempPath(), "aspireai", "models");
}

/// <summary>Which in-process embedding model the offline provider runs.</summary>
public enum OfflineEmbedder
{
    /// <summary>all-MiniLM-L6-v2 (sentence-transformers, 384 dimensions): matches meaning, not just shared words.</summary>
    MiniLM,

    /// <summary>
    /// all-MiniLM-L6-v2 with int8 matrix products (ONNX Runtime's DynamicQuantizeMatMul; the graph is rewritten once
    /// from the float model and cached beside it): 1.7× faster per query and 2.9× per batch on the 2-core machine, the
    /// same recall@5 on the embed bench's labelled pairs (docs/benchmarks.md). Its vectors are stored under their own
    /// model id, so switching re-embeds stored memories and chunks (memory.reembed, documents.reembed).
    /// </summary>
    MiniLMInt8,

    /// <summary>
    /// The feature-hashing embedder <c>offline-embed-1</c>: deterministic and instant, but only texts sharing words or
    /// word pieces come out similar.
    /// </summary>
    Hashing,
}
