using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using OpenAI;

namespace AspireAi.Core.Llm.OpenAi;

// How to reach one OpenAI-protocol server: endpoint, authentication and the HTTP pipeline. The SDK's own retry
// policy is switched off: retries, timeouts and the circuit breaker live in the "llm" resilience handler of the
// HttpClient, so there is exactly one place that decides and one set of logs and metrics saying what happened.
internal sealed class OpenAiConnection
{
    private readonly ApiKeyCredential _credential;
    private readonly OpenAIClientOptions _clientOptions;

    public OpenAiConnection(LlmProviderOptions provider, HttpClient httpClient, TimeSpan? networkTimeout)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(httpClient);
        if (provider.Provider == LlmProvider.Offline)
        {
            throw new ArgumentException("The offline provider has no server to connect to.", nameof(provider));
        }

        Provider = provider.Provider;
        ProviderName = ProviderNameOf(provider.Provider);
        Endpoint = provider.Endpoint ?? (provider.Provider == LlmProvider.OpenAI
            ? new Uri("https://api.openai.com/v1/")
            : throw new ArgumentException($"An endpoint is required for provider {provider.Provider}.", nameof(provider)));

        _clientOptions = new OpenAIClientOptions
        {
            Endpoint = Endpoint,
            Transport = new HttpClientPipelineTransport(httpClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = networkTimeout,
            UserAgentApplicationId = "AspireAi",
        };

        // A completion or an embedding changes nothing on the server (beyond billing), so replaying one after a 429,
        // a 5xx or a timeout is safe. The resilience handler replays POSTs only when they carry an Idempotency-Key;
        // every logical call gets a fresh one here (the SDK's own retries are off, so per call means per request).
        _clientOptions.AddPolicy(new IdempotencyKeyPolicy(), PipelinePosition.PerCall);

        // OpenAI and most compatible servers take the key as a bearer token (the SDK's own authentication); Azure's
        // v1 endpoint takes it in an api-key header; a local server without a key gets no Authorization header.
        // The SDK insists on a credential, so the latter two replace its header just before the transport.
        _credential = new ApiKeyCredential(string.IsNullOrEmpty(provider.ApiKey) ? "unused" : provider.ApiKey);
        if (provider.Provider == LlmProvider.AzureOpenAI)
        {
            _clientOptions.AddPolicy(new HeaderKeyPolicy(provider.ApiKey), PipelinePosition.BeforeTransport);
        }
        else if (string.IsNullOrEmpty(provider.ApiKey))
        {
            _clientOptions.AddPolicy(new HeaderKeyPolicy(apiKey: null), PipelinePosition.BeforeTransport);
        }
    }

    public LlmProvider Provider { get; }

    /// <summary>gen_ai.provider.name of this server.</summary>
    public string ProviderName { get; }

    public Uri Endpoint { get; }

    public OpenAI.Chat.ChatClient CreateChatClient(string model) => new(model, _credential, _clientOptions);

    public OpenAI.Embeddings.EmbeddingClient CreateEmbeddingClient(string model) => new(model, _credential, _clientOptions);

    public static string ProviderNameOf(LlmProvider provider) => provider switch
    {
        LlmProvider.OpenAI => "openai",
        LlmProvider.AzureOpenAI => "azure.ai.openai",
        LlmProvider.OpenAICompatible => "openai_compatible",
        _ => OfflineModels.ProviderName,
    };

    // ClientResultException carries the status and raw response; callers get our exception with the status and
    // the server's Retry-After hint, and never the request (which holds the key in a header).
    public static LlmProviderException Wrap(ClientResultException exception, string model)
    {
        var status = exception.Status == 0 ? (int?)null : exception.Status;
        TimeSpan? retryAfter = null;
        var headers = exception.GetRawResponse()?.Headers;
        if (headers is not null)
        {
            if (headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds))
            {
                retryAfter = TimeSpan.FromMilliseconds(milliseconds);
            }
            else if (headers.TryGetValue("Retry-After", out var value))
            {
                retryAfter = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
                    ? TimeSpan.FromSeconds(seconds)
                    : DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
                        ? date - DateTimeOffset.UtcNow
                        : null;
            }
        }

        var what = status is { } code ? $"HTTP {code}" : "no response";
        return new LlmProviderException($"Model '{model}' failed: {what}. {exception.Message}".Trim(), status, retryAfter, exception);
    }

    private sealed class IdempotencyKeyPolicy : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("Idempotency-Key", Guid.NewGuid().ToString("N"));
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("Idempotency-Key", Guid.NewGuid().ToString("N"));
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }

    // Replaces the bearer header by an api-key header (Azure), or drops it (no key configured).
    private sealed class HeaderKeyPolicy(string? apiKey) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Apply(PipelineMessage message)
        {
            message.Request.Headers.Remove("Authorization");
            if (apiKey is not null)
            {
                message.Request.Headers.Set("api-key", apiKey);
            }
        }
    }
}
