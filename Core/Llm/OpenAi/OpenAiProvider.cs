using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using Microsoft.Extensions.AI;
using OpenAI;

namespace AspireAi.Core.Llm.OpenAi;

// The one place that knows the OpenAI SDK: OpenAI, Azure OpenAI's v1 endpoint and OpenAI-compatible servers become
// IChatClient / IEmbeddingGenerator through Microsoft.Extensions.AI.OpenAI (AsIChatClient / AsIEmbeddingGenerator).
// The SDK's own retry policy is switched off: retries, timeouts and the circuit breaker live in the "llm" resilience
// handler of the HttpClient, so there is exactly one place that decides and one set of logs and metrics saying what
// happened.
internal static class OpenAiProvider
{
    public static IChatClient CreateChatClient(LlmProviderOptions provider, HttpClient httpClient, TimeSpan networkTimeout)
    {
        var model = provider.ResolveChatModel();
        var client = CreateClient(provider, httpClient, networkTimeout).GetChatClient(model).AsIChatClient();
        return new OpenAiErrorChatClient(client, model);
    }

    public static IEmbeddingGenerator<string, Embedding<float>> CreateEmbeddingGenerator(LlmOptions options, HttpClient httpClient)
    {
        var model = options.ResolveEmbeddingModel();
        var generator = CreateClient(options, httpClient, options.RequestTimeout).GetEmbeddingClient(model).AsIEmbeddingGenerator();
        var sendDimensions = options.SendEmbeddingDimensions ?? model.StartsWith("text-embedding-3", StringComparison.OrdinalIgnoreCase);
        return new OpenAiEmbeddingBatches(generator, model, options.EmbeddingBatchSize, sendDimensions);
    }

    private static OpenAIClient CreateClient(LlmProviderOptions provider, HttpClient httpClient, TimeSpan networkTimeout)
    {
        if (provider.Provider == LlmProvider.Offline)
        {
            throw new ArgumentException("The offline provider has no server to connect to.", nameof(provider));
        }

        var options = new OpenAIClientOptions
        {
            Endpoint = provider.Endpoint ?? (provider.Provider == LlmProvider.OpenAI
                ? new Uri("https://api.openai.com/v1/")
                : throw new ArgumentException($"An endpoint is required for provider {provider.Provider}.", nameof(provider))),
            Transport = new HttpClientPipelineTransport(httpClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = networkTimeout,
            UserAgentApplicationId = "AspireAi",
        };

        // A completion or an embedding changes nothing on the server (beyond billing), so replaying one after a 429,
        // a 5xx or a timeout is safe. The resilience handler replays POSTs only when they carry an Idempotency-Key;
        // every logical call gets a fresh one here (the SDK's own retries are off, so per call means per request).
        options.AddPolicy(new IdempotencyKeyPolicy(), PipelinePosition.PerCall);

        // OpenAI and most compatible servers take the key as a bearer token (the SDK's own authentication); Azure's
        // v1 endpoint takes it in an api-key header; a local server without a key gets no Authorization header.
        // The SDK insists on a credential, so the latter two replace its header just before the transport.
        var credential = new ApiKeyCredential(string.IsNullOrEmpty(provider.ApiKey) ? "unused" : provider.ApiKey);
        if (provider.Provider == LlmProvider.AzureOpenAI)
        {
            options.AddPolicy(new HeaderKeyPolicy(provider.ApiKey), PipelinePosition.BeforeTransport);
        }
        else if (string.IsNullOrEmpty(provider.ApiKey))
        {
            options.AddPolicy(new HeaderKeyPolicy(apiKey: null), PipelinePosition.BeforeTransport);
        }

        return new OpenAIClient(credential, options);
    }

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
