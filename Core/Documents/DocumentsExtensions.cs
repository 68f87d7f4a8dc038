using AspireAi.Core.Chat;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Documents.Tools;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Documents;

public static class DocumentsExtensions
{
    /// <summary>Default schedule of the re-embedding check (override: <c>Jobs:Recurring:documents.reembed:Schedule</c>).</summary>
    public const string ReembedSchedule = "@every 1m";

    /// <summary>Default schedule of the recall monitor (override: <c>Jobs:Recurring:documents.recall-monitor:Schedule</c>).</summary>
    public const string RecallMonitorSchedule = "@hourly";

    /// <summary>Default schedule of the tool-argument retention sweep (override: <c>Jobs:Recurring:documents.tool-audit-retention:Schedule</c>).</summary>
    public const string ToolAuditRetentionSchedule = "@daily";

    /// <summary>
    /// The Api side of documents: uploads and reads (<see cref="DocumentStore"/>), hybrid retrieval, the chat context
    /// provider that cites passages, the <c>search_documents</c> tool, and the audit of every tool call.
    /// </summary>
    public static IHostApplicationBuilder AddDocuments(this IHostApplicationBuilder builder)
    {
        AddShared(builder);
        var services = builder.Services;
        services.TryAddSingleton<DocumentStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatContextProvider, DocumentContextProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IChatToolProvider, DocumentTools>());
        services.AddHttpContextAccessor();
        services.AddToolCallObserver<ToolCallAudit>();
        return builder;
    }

    /// <summary>
    /// The Workers side: the ingestion, re-embedding, recall-monitor and tool-audit retention job handlers and their recurring schedules,
    /// and a start-up check that the vector column is as wide as the embeddings.
    /// </summary>
    public static IHostApplicationBuilder AddDocumentIngestion(this IHostApplicationBuilder builder)
    {
        AddShared(builder);
        var services = builder.Services;
        services.AddJobHandler<DocumentIngestionHandler>();
        services.AddJobHandler<ReembedHandler>();
        services.AddJobHandler<RecallMonitorHandler>();
        services.AddRecurringJob(DocumentJobs.Reembed, ReembedSchedule);
        services.AddRecurringJob(DocumentJobs.RecallMonitor, RecallMonitorSchedule);
        services.AddJobHandler<ToolAuditRetentionJob>();
        services.AddRecurringJob(DocumentJobs.ToolAuditRetention, ToolAuditRetentionSchedule);
        services.AddHostedService<EmbeddingDimensionsCheck>();
        return builder;
    }

    private static void AddShared(IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddLlm();
        builder.AddJobs();
        var services = builder.Services;
        services.AddOptions<DocumentsOptions>().BindConfiguration(DocumentsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton<DocumentsTelemetry>();
        services.TryAddSingleton<DocumentEmbedder>();
        services.TryAddSingleton<DocumentRetriever>();
    }
}
