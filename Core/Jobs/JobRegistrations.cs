using System.Text.Json;

namespace AspireAi.Core.Jobs;

/// <summary>A job handler registered with <see cref="JobsExtensions.AddJobHandler{THandler}(Microsoft.Extensions.DependencyInjection.IServiceCollection)"/>.</summary>
/// <param name="Type">The job type, when known at registration; otherwise read from a first instance at start-up.</param>
/// <param name="Create">Creates the handler from a job's DI scope.</param>
public sealed record JobHandlerRegistration(string? Type, Func<IServiceProvider, IJobHandler> Create);

/// <summary>A recurring job registered in code with <see cref="JobsExtensions.AddRecurringJob(Microsoft.Extensions.DependencyInjection.IServiceCollection, string, string, object?, string?)"/>.</summary>
/// <param name="Name">Unique name; also the default job type.</param>
/// <param name="Schedule">The schedule (see <see cref="CronSchedule"/>).</param>
/// <param name="Type">The job type to enqueue.</param>
/// <param name="Payload">The payload of every run.</param>
public sealed record RecurringJobDefinition(string Name, CronSchedule Schedule, string Type, JsonElement Payload)
{
    /// <summary>The dedupe key of the job for one slot: "{name}:{slotUtc:O}".</summary>
    public string DedupeKeyFor(DateTimeOffset slot) =>
        $"{Name}:{slot.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)}";
}
