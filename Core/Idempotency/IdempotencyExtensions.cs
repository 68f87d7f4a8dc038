using AspireAi.Core.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Idempotency;

public static class IdempotencyExtensions
{
    /// <summary>Default schedule of the sweep (override: <c>Jobs:Recurring:idempotency.sweep:Schedule</c>).</summary>
    public const string SweepSchedule = "@hourly";

    /// <summary>The Api side: the store the Idempotency-Key middleware claims keys in.</summary>
    public static IHostApplicationBuilder AddIdempotency(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddOptions(builder.Services);
        builder.Services.TryAddSingleton<IdempotencyStore>();
        return builder;
    }

    /// <summary>The Workers side: the recurring sweep of expired keys.</summary>
    public static IHostApplicationBuilder AddIdempotencySweep(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddJobs();
        AddOptions(builder.Services);
        builder.Services.AddJobHandler<IdempotencySweepJob>();
        builder.Services.AddRecurringJob(IdempotencySweepJob.JobType, SweepSchedule);
        return builder;
    }

    private static void AddOptions(IServiceCollection services) =>
        services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
}
