using AspireAi.Core.Jobs;
using AspireAi.Core.Memory;
using AspireAi.Offline;

namespace AspireAi.Workers.Memory;

internal static class MemoryJobsExtensions
{
    /// <summary>
    /// The memory jobs: extraction + consolidation (memory.extract) and the recurring maintenance (memory.expire every
    /// minute, memory.cap-episodic hourly, memory.purge daily, memory.backlog every minute, memory.reembed every 10
    /// minutes, memory.recall-monitor hourly; override with <c>Jobs:Recurring:{name}:Schedule</c>).
    /// </summary>
    public static IHostApplicationBuilder AddMemoryJobs(this IHostApplicationBuilder builder)
    {
        builder.AddMemoryServices();
        var services = builder.Services;
        services.AddOfflineModels();
        services.AddJobHandler<MemoryExtractionJob>();
        services.AddJobHandler<MemoryExpireJob>();
        services.AddJobHandler<MemoryEpisodicCapJob>();
        services.AddJobHandler<MemoryPurgeJob>();
        services.AddJobHandler<MemoryBacklogJob>();
        services.AddJobHandler<MemoryReembedJob>();
        services.AddJobHandler<MemoryRecallMonitorJob>();
        services.AddRecurringJob(MemoryJobs.Expire, "@every 1m");
        services.AddRecurringJob(MemoryJobs.CapEpisodic, "@hourly");
        services.AddRecurringJob(MemoryJobs.Purge, "@daily");
        services.AddRecurringJob(MemoryJobs.Backlog, "@every 1m");
        services.AddRecurringJob(MemoryJobs.Reembed, "@every 10m");
        services.AddRecurringJob(MemoryJobs.RecallMonitor, "@hourly");
        return builder;
    }
}
