using System.Net.Http;
using AspireAi.Core.Caching;
using AspireAi.Core.Common;
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
        // What reaches the model as data is screened for instructions (memories, passages, tool results).
        services.AddOptions<SafetyOptions>().Bind(configuration.GetSection(SafetyOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton<ContentScreen>();

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
        return BuildChatClient(services, CreateProvider(services, options, options, HttpClientName));
    }

    // The pipeline around a primary model; tests pass a scripted model here to exercise the production composition.
    internal static IChatClient BuildChatClient(IServiceProvider services, IChatClient primary)
    {
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        var loggers = ContentGatedLoggerFactory.Create(services.GetRequiredService<ILoggerFactory>(), options.CaptureContent);
        var tools = new ToolInvoker(options.ToolLoop, services.GetServices<IToolCallObserver>(), services.GetRequiredService<ContentScreen>(),
            loggers.CreateLogger<ToolInvoker>());

        // Outermost first: function invocation -> default options -> OpenTelemetry -> logging -> fallback -> provider.
        // - Function invocation is outermost so every model round is its own span and log entry, and tool execution
        //   time never counts as model latency (each tool call gets its own execute_tool span).
        // - OpenTelemetry wraps logging so the log records of a call carry that call's trace and span ids.
        // - Fallback sits under both, so a switch is one logical call: the span and log show the model that answered
        //   (gen_ai.response.model) and record an error only when the fallback fails too.
        var builder = new ChatClientBuilder(primary)
            .UseFunctionInvocation(loggers, f =>
            {
                f.MaximumIterationsPerRequest = options.ToolLoop.MaxRounds;
                // Failed tools become error results the model can recover from; the round limit bounds the loop.
                f.MaximumConsecutiveErrorsPerRequest = options.ToolLoop.MaxRounds;
                f.AllowConcurrentInvocation = options.ToolLoop.AllowParallel;
                f.IncludeDetailedErrors = options.ToolLoop.IncludeErrorDetails;
                f.FunctionInvoker = tools.InvokeAsync;
            });
        if (options.MaxOutputTokens is { } maxOutputTokens)
        {
            builder.ConfigureOptions(o => o.MaxOutputTokens ??= maxOutputTokens);
        }

        builder
            .UseOpenTelemetry(loggers, LlmTelemetry.Name, t => t.EnableSensitiveData = options.CaptureContent)
            .UseLogging(loggers);
        if (options.Fallback is { } fallback)
        {
            var secondary = CreateProvider(services, fallback, options, FallbackHttpClientName);
            builder.Use(primary => new FallbackChatClient(primary, secondary, loggers.CreateLogger<FallbackChatClient>()));
        }

        var logger = loggers.CreateLogger(typeof(LlmExtensions).FullName!);
        var primaryDescription = options.ToString();
        var fallbackDescription = options.Fallback?.ToString() ?? "none";
        LogPipeline(logger, primaryDescription, fallbackDescription);
        return builder.Build(services);
    }

    private static IChatClient CreateProvider(IServiceProvider services, LlmProviderOptions provider, LlmOptions options, string httpClientName) =>
        provider.Provider == LlmProvider.Offline
            ? services.GetKeyedService<IChatClient>(OfflineModels.ServiceKey) ?? throw OfflineNotRegistered("Llm:Provider")
            : OpenAiProvider.CreateChatClient(
                provider, services.GetRequiredService<IHttpClientFactory>().CreateClient(httpClientName), options.RequestTimeout);

    // The offline models live in their own assembly, which the hosts reference and register; Core only knows them as
    // a keyed IChatClient / IEmbeddingGenerator.
    private static InvalidOperationException OfflineNotRegistered(string setting) =>
        new($"{setting} is Offline, but no offline model is registered: the host must call AddOfflineModels() (AspireAi.Offline).");

    private static IEmbeddingGenerator<string, Embedding<float>> CreateEmbeddingGenerator(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<LlmOptions>>().Value;
        var loggers = ContentGatedLoggerFactory.Create(services.GetRequiredService<ILoggerFactory>(), options.CaptureContent);
        IEmbeddingGenerator<string, Embedding<float>> generator = options.ResolveEmbeddingProvider() == LlmProvider.Offline
            ? services.GetKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(OfflineModels.ServiceKey)
                ?? throw OfflineNotRegistered("Llm:EmbeddingProvider")
            : OpenAiProvider.CreateEmbeddingGenerator(options, services.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName));
        generator = new EmbeddingGeneratorBuilder<string, Embedding<float>>(generator)
            .UseOpenTelemetry(loggers, LlmTelemetry.Name, t => t.EnableSensitiveData = options.CaptureContent)
            .UseLogging(loggers)
            .Build(services);
        // Outside telemetry: a cache hit is no model call, so it must not count in the model's latency histogram.
        // Only where the service registered the shared cache (Api, Workers); test hosts without Redis go uncached.
        return options.QueryEmbeddingCacheDuration > TimeSpan.Zero && services.GetService<SharedCache>() is { } cache
            ? new CachingEmbeddingGenerator(generator, cache, options.QueryEmbeddingCacheDuration)
            : generator;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "LLM pipeline: {Primary}; fallback: {Fallback}")]
    private static partial void LogPipeline(ILogger logger, string primary, string fallback);

    private sealed class LlmRegistrationMarker;
}
