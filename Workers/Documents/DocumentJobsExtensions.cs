using AspireAi.Core.Documents;
using AspireAi.Core.Jobs;
using AspireAi.Offline;

namespace AspireAi.Workers.Documents;

internal static class DocumentJobsExtensions
{
    /// <summary>Default schedule of the re-embedding check (override: <c>Jobs:Recurring:documents.reembed:Schedule</c>).</summary>
    public const string ReembedSchedule = "@every 1m";

    /// <summary>Default schedule of the recall monitor (override: <c>Jobs:Recurring:documents.recall-monitor:Schedule</c>).</summary>
    public const string RecallMonitorSchedule = "@hourly";

    /// <summary>Default schedule of the tool-argument retention sweep (override: <c>Jobs:Recurring:documents.tool-audit-retention:Schedule</c>).</summary>
    public const string ToolAuditRetentionSchedule = "@daily";

    /// <summary>
    /// The document jobs: ingestion, re-embedding, the recall monitor and the tool-audit retention sweep with their
    /// recurring schedules, and a start-up check that the vector column is as wide as the embeddings.
    /// </summary>
    public static IHostApplicationBuilder AddDocumentJobs(this IHostApplicationBuilder builder)
    {
        builder.AddDocumentServices();
        var services = builder.Services;
        services.AddOfflineModels();
        services.AddJobHandler<DocumentIngestionHandler>();
        services.AddJobHandler<ReembedHandler>();
        services.AddJobHandler<RecallMonitorHandler>();
        services.AddJobHandler<ToolAuditRetentionJob>();
        services.AddRecurringJob(DocumentJobs.Reembed, ReembedSchedule);
        services.AddRecurringJob(DocumentJobs.RecallMonitor, RecallMonitorSchedule);
        services.AddRecurringJob(DocumentJobs.ToolAuditRetention, ToolAuditRetentionSchedule);
        services.AddHostedService<EmbeddingDimensionsCheck>();
        return builder;
    }
}
