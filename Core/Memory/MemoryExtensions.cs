using AspireAi.Core.Chat;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Memory;

public static class MemoryExtensions
{
    /// <summary>
    /// Long-term memory for a host that serves chat (the Api): retrieval before every completion, the memory tools,
    /// extraction enqueued with every completed exchange, and the services behind <c>/v1/memories</c>. Needs a
    /// registered <c>NpgsqlDataSource</c> and <c>IConnectionMultiplexer</c> (Aspire's <c>AddRedisClient</c>); adds the model pipeline and the job queue if they
    /// are not there yet. Options: section "Memory" (<see cref="MemoryOptions"/>), validated on start.
    /// </summary>
    public static IHostApplicationBuilder AddMemory(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddMemoryServices();
        builder.Services.TryAddSingleton<MemoryAccessRecorder>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatContextProvider, MemoryContextProvider>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatToolProvider, MemoryTools>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatExchangeObserver, MemoryExchangeObserver>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IConversationDeletionObserver, MemorySessionEnder>());
        return builder;
    }

    /// <summary>
    /// The memory services without the chat integration: storage, retrieval, extraction and consolidation models,
    /// for any host (the Workers' memory jobs build on it). Registers once, however often it is called.
    /// </summary>
    public static IHostApplicationBuilder AddMemoryServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(MemoryMarker)))
        {
            return builder;
        }
        services.AddSingleton<MemoryMarker>();
        builder.AddLlm();
        builder.AddJobs();
        builder.AddEncryption();
        services.AddOptions<MemoryOptions>().BindConfiguration(MemoryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PricingSettings>().BindConfiguration(PricingSettings.SectionName);
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<PromptStore>();
        services.TryAddSingleton<MemoryMetrics>();
        services.TryAddSingleton<MemoryEmbedder>();
        services.TryAddSingleton<SessionMemoryStore>();
        services.TryAddSingleton<MemoryEventPublisher>();
        services.TryAddSingleton<MemoryWriter>();
        services.TryAddSingleton<MemoryStore>();
        services.TryAddSingleton<MemoryLanguageModel>();
        services.TryAddSingleton<MemoryConsolidator>();
        services.TryAddSingleton<MemoryStatistics>();
        services.TryAddSingleton<MemoryRetriever>();
        services.TryAddSingleton<MemoryService>();
        return builder;
    }

    private sealed class MemoryMarker;
}
