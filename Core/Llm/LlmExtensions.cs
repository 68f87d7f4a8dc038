using System.Net.Http;
using AspireAi.Core.Llm.Offline;
using AspireAi.Core.Llm.OpenAi;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Llm;

/// <summary>Registration of the model pipeline.</summary>
public static partial class LlmExtensions
{
    /// <summary>HttpClient (and resilience pipeline / circuit breaker) of the primary model server.</summary>
    public const string HttpClientName = "llm";

    /// <summary>HttpClient of the fallback server: its own circuit, so a broken primary does not trip it.</summary>
    public const string FallbackHttpClientName = "llm-fallback";

    /// <summary>
    /// Registers <see cref="IChatClient"/> and <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> (string → 384-wide
    /// float vectors) as singletons configured from the <c>Llm</c> section (see <see cref="LlmOptions"/>), which is
    /// validated on start. With no configuration the offline model answers.
    /// </summary>
    public static IHostApplicationBuilder AddLlm(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddLlm(builder.Configuration);
        return builder;
    }

    /// <inheritdoc cref="AddLlm(IHostApplicationBuilder)"/>
    public static IServiceCollection AddLlm(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(LlmRegistrationMarker)))
        {
            return services;
        }

        services.AddSingleton<LlmRegistrationMarker>();
        services.AddOptions<LlmOptions>()
            .Bind(configuration.GetSection(LlmOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmOptions>, LlmOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        AddModelHttpClient(services, HttpClientName);
        AddModelHttpClient(services, FallbackHttpClientName);

        services.TryAddSingleton(CreateChatClient);
        services.TryAddSingleton(CreateEmbeddingGenerator);
        services.TryAddSingleton<EmbeddingWarmup>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddingWarmup>());
        services.AddHealthChecks().AddCheck<EmbeddingWarmup>("embeddings");
        return services;
    }

    private static void AddModelHttpClient(IServiceCollection services, string name) =>
        services.AddHttpClient(name)
            // The adapters hold their HttpClient for the app's lifetime, so DNS changes are picked up by recycling
            // pooled connections rather than by IHttpClientFactory's handler rotation.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .AddLlmResilienceHandler();

    private static IChatClient CreateChatClient(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        var loggers = services.GetRequiredService<ILoggerFactory>();

        var client = CreateProvider(services, options, options, HttpClientName);
        if (options.Fallback is { } fallback)
        {
            client = new FallbackChatClient(client, CreateProvider(services, fallback, options, FallbackHttpClientName), loggers.CreateLogger<FallbackChatClient>());
        }

        // Outermost first: ToolLoop -> Telemetry -> Logging -> Fallback -> provider.
        // - The tool loop is outermost so every model round is its own span and log entry, and tool execution time
        //   never counts as model latency.
        // - Telemetry wraps logging so the log records of a call carry that call's trace and span ids.
        // - Fallback sits under both, so a switch is one logical call: the span and log show the model that answered
        //   (gen_ai.response.model) and record an error only when the fallback fails too.
        client = new LoggingChatClient(client, loggers.CreateLogger<LoggingChatClient>());
        client = new TelemetryChatClient(client);
        client = new ToolLoopChatClient(
            client, options.ToolLoop, loggers.CreateLogger<ToolLoopChatClient>(), services.GetServices<IToolCallObserver>(), services);

        var logger = loggers.CreateLogger(typeof(LlmExtensions).FullName!);
        var primary = options.ToString();
        var secondary = options.Fallback?.ToString() ?? "none";
        LogPipeline(logger, primary, secondary);

        return client;
    }

    private static IChatClient CreateProvider(IServiceProvider services, LlmProviderOptions provider, LlmOptions options, string httpClientName) =>
        provider.Provider == LlmProvider.Offline
            ? new OfflineChatClient(services.GetServices<IOfflineStructuredResponder>(), options.Offline, services.GetService<TimeProvider>())
            : new OpenAiChatClient(
                provider,
                services.GetRequiredService<IHttpClientFactory>().CreateClient(httpClientName),
                options.MaxOutputTokens,
                options.RequestTimeout);

    private static IEmbeddingGenerator<string, Embedding<float>> CreateEmbeddingGenerator(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        IEmbeddingGenerator<string, Embedding<float>> generator = options.ResolveEmbeddingProvider() == LlmProvider.Offline
            ? options.Offline.Embedder == OfflineEmbedder.Hashing
                ? new OfflineEmbeddingGenerator()
                : new MiniLmEmbeddingGenerator(options.Offline, options.EmbeddingBatchSize)
            : new OpenAiEmbeddingGenerator(
                options,
                options.ResolveEmbeddingModel(),
                services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
                options.EmbeddingBatchSize,
                options.SendEmbeddingDimensions,
                options.RequestTimeout);
        generator = new TelemetryEmbeddingGenerator(generator);
        // Outside telemetry: a cache hit is no model call, so it must not count in the model's latency histogram.
        return options.QueryEmbeddingCacheSize > 0 ? new QueryEmbeddingCache(generator, options.QueryEmbeddingCacheSize) : generator;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "LLM pipeline: {Primary}; fallback: {Fallback}")]
    private static partial void LogPipeline(ILogger logger, string primary, string fallback);

    private sealed class LlmRegistrationMarker;
}
