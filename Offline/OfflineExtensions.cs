using AspireAi.Core.Llm;
using AspireAi.Offline.Memory;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AspireAi.Offline;

/// <summary>Registration of the offline provider.</summary>
public static class OfflineExtensions
{
    /// <summary>
    /// Registers the offline chat model and the local embedder under <see cref="OfflineModels.ServiceKey"/>, where the
    /// model pipeline (<c>AddLlm</c>) looks for them when <c>Llm:Provider</c> or <c>Llm:EmbeddingProvider</c> is
    /// Offline, and the offline model's answers to the memory pipeline's two structured calls. Nothing is loaded until
    /// first use (or the embedding warm-up), so a host configured for a remote provider pays nothing for it.
    /// </summary>
    public static IServiceCollection AddOfflineModels(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddKeyedSingleton<IChatClient>(OfflineModels.ServiceKey, (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
            return new OfflineChatClient(sp.GetServices<IOfflineStructuredResponder>(), options.Offline, sp.GetService<TimeProvider>(),
                LocalEmbedder(sp, options));
        });
        services.TryAddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(OfflineModels.ServiceKey, (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
            return options.Offline.Embedder == OfflineEmbedder.Hashing
                ? new OfflineEmbeddingGenerator()
                : new MiniLmEmbeddingGenerator(options.Offline, options.EmbeddingBatchSize);
        });

        // Deterministic answers for the two structured calls, so extraction and consolidation work offline.
        services.AddOfflineStructuredResponder<OfflineExtractionResponder>();
        services.AddOfflineStructuredResponder<OfflineDecisionResponder>();
        return services;
    }

    // The offline model matches memories to a question by meaning with the app's embedder (cached, traced) only when
    // that embedder is local: the offline model may be the fallback of a remote primary whose embeddings cost money.
    private static IEmbeddingGenerator<string, Embedding<float>>? LocalEmbedder(IServiceProvider services, LlmOptions options) =>
        options.ResolveEmbeddingProvider() == LlmProvider.Offline
            ? services.GetService<IEmbeddingGenerator<string, Embedding<float>>>()
            : null;
}
