using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Jobs;

public static class JobsExtensions
{
    /// <summary>
    /// The job queue (<see cref="IJobQueue"/>), its options (<c>Jobs</c> section), metrics, administration, and the
    /// 503 + Retry-After answer to <see cref="JobQueueFullException"/>. Needs a registered <c>NpgsqlDataSource</c>.
    /// Idempotent. Workers add <c>AddJobWorkers()</c> on top to run handlers.
    /// </summary>
    public static IHostApplicationBuilder AddJobs(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(IJobQueue)))
        {
            return builder;
        }
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<JobMetrics>();
        services.AddSingleton<IJobQueue, PostgresJobQueue>();
        services.AddSingleton<JobAdministration>();
        return builder;
    }

    /// <summary>Registers a job handler (scoped: one instance per job). Its <see cref="IJobHandler.Type"/> is read once at start-up.</summary>
    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services) where THandler : class, IJobHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddScoped<THandler>();
        services.AddSingleton(new JobHandlerRegistration(null, sp => sp.GetRequiredService<THandler>()));
        return services;
    }

    /// <summary>Registers a handler for <paramref name="type"/> created by <paramref name="factory"/> in each job's scope.</summary>
    public static IServiceCollection AddJobHandler(this IServiceCollection services, string type, Func<IServiceProvider, IJobHandler> factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        if (!JobRequest.IsValidType(type))
        {
            throw new ArgumentException($"'{type}' is not a valid job type.", nameof(type));
        }
        services.AddSingleton(new JobHandlerRegistration(type, factory));
        return services;
    }

    /// <summary>
    /// Registers a recurring job: on every slot of <paramref name="schedule"/>, exactly one Workers instance enqueues
    /// a job of <paramref name="type"/> (default: <paramref name="name"/>) with the dedupe key "{name}:{slotUtc:O}".
    /// <c>Jobs:Recurring:{name}:Schedule</c> and <c>:Enabled</c> override it from configuration.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">Unique name of the recurring job.</param>
    /// <param name="schedule">"@every 30s", "every 5 minutes", a 5-field cron expression (UTC) or an alias such as @hourly.</param>
    /// <param name="payload">The payload of every run (serialized with the web defaults), or null for <c>{}</c>.</param>
    /// <param name="type">The job type, when it differs from the name.</param>
    /// <exception cref="FormatException">The schedule does not parse.</exception>
    public static IServiceCollection AddRecurringJob(this IServiceCollection services, string name, string schedule, object? payload = null, string? type = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var request = new JobRequest(type ?? name, payload);
        services.AddSingleton(new RecurringJobDefinition(name, CronSchedule.Parse(schedule), request.Type, request.Payload));
        return services;
    }
}
