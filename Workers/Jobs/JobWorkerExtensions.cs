using AspireAi.Core.Jobs;
using AspireAi.Workers.Jobs.Testing;
using Microsoft.Extensions.Options;

namespace AspireAi.Workers.Jobs;

internal static class JobWorkerExtensions
{
    /// <summary>
    /// Runs the registered job handlers (<see cref="JobWorker"/>), the recurring-job scheduler and the queue gauges,
    /// on top of <see cref="JobsExtensions.AddJobs"/>. Also registers the built-in "jobs.cleanup" recurring job,
    /// and the test handlers when Jobs:EnableTestHandlers is true.
    /// </summary>
    public static IHostApplicationBuilder AddJobWorkers(this IHostApplicationBuilder builder)
    {
        builder.AddJobs();
        var services = builder.Services;
        services.AddSingleton<WorkerIdentity>();
        services.AddSingleton<WorkerJobStore>();
        services.AddSingleton<JobHandlerRegistry>();
        services.AddSingleton<JobQueueGauges>();
        services.AddSingleton<BatchSizer>();
        services.AddSingleton<JobExecutor>();
        services.AddHostedService<JobWorker>();
        services.AddHostedService<RecurringJobScheduler>();

        services.AddJobHandler<JobCleanupHandler>();
        services.AddRecurringJob(JobCleanupHandler.JobType, JobCleanupHandler.Schedule);

        // Stopping waits for running jobs up to the grace period; the host must not give up before that.
        services.AddOptions<HostOptions>().Configure<IOptions<JobsOptions>>((host, jobs) =>
        {
            var needed = jobs.Value.ShutdownGracePeriod + TimeSpan.FromSeconds(10);
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });

        if (builder.Configuration.GetValue<bool>($"{JobsOptions.SectionName}:{nameof(JobsOptions.EnableTestHandlers)}"))
        {
            services.AddHostedService<TestEffectSchema>();
            var types = (builder.Configuration[$"{JobsOptions.SectionName}:TestHandlers:EffectTypes"] ?? "")
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var type in types.Prepend(TestEffectHandler.DefaultType).Distinct(StringComparer.Ordinal))
            {
                services.AddJobHandler(type, _ => new TestEffectHandler(type));
            }
        }
        return builder;
    }
}
