using AspireAi.Core.Chat;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Documents.Tools;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Documents;

public static class DocumentsExtensions
{
    /// <summary>
    /// The Api side of documents: uploads and reads (<see cref="DocumentStore"/>), hybrid retrieval, the chat context
    /// provider that cites passages, the <c>search_documents</c> tool, and the audit of every tool call.
    /// </summary>
    public static IHostApplicationBuilder AddDocuments(this IHostApplicationBuilder builder)
    {
        builder.AddDocumentServices();
        var services = builder.Services;
        services.TryAddSingleton<DocumentStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatContextProvider, DocumentContextProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatToolProvider, DocumentTools>());
        services.AddHttpContextAccessor();
        services.AddToolCallObserver<ToolCallAudit>();
        return builder;
    }

    /// <summary>What every host that touches documents needs: options, embedding and retrieval, telemetry.</summary>
    public static IHostApplicationBuilder AddDocumentServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddLlm();
        builder.AddJobs();
        builder.AddEncryption();
        var services = builder.Services;
        services.AddOptions<DocumentsOptions>().BindConfiguration(DocumentsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton<DocumentsTelemetry>();
        services.TryAddSingleton<DocumentEmbedder>();
        services.TryAddSingleton<DocumentRetriever>();
        return builder;
    }
}
