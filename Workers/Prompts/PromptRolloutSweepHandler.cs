using AspireAi.Core.Chat;
using AspireAi.Core.Jobs;

namespace AspireAi.Workers.Prompts;

/// <summary>
/// The recurring <c>prompts.rollout-sweep</c> job: stops rollouts whose candidate regressed and advances those whose
/// stage is due (<see cref="PromptRollouts.SweepAsync"/>). The changes commit in their own transactions with their
/// audit rows rather than in the job's: each is a complete, idempotent step, and one prompt's failure must not undo
/// another's stop.
/// </summary>
public sealed partial class PromptRolloutSweepHandler(PromptRollouts rollouts, ILogger<PromptRolloutSweepHandler> logger) : IJobHandler
{
    public const string JobType = "prompts.rollout-sweep";

    public string Type => JobType;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var changed = await rollouts.SweepAsync(null, cancellationToken).ConfigureAwait(false);
        if (changed.Count > 0)
        {
            LogSwept(changed.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout sweep changed {Count} prompt rollouts")]
    private partial void LogSwept(int count);
}

internal static class PromptJobsExtensions
{
    /// <summary>Default schedule of the sweep (override: <c>Jobs:Recurring:prompts.rollout-sweep:Schedule</c>).</summary>
    public const string SweepSchedule = "@every 1m";

    public static IHostApplicationBuilder AddPromptJobs(this IHostApplicationBuilder builder)
    {
        builder.AddPromptRollouts();
        builder.Services.AddJobHandler<PromptRolloutSweepHandler>();
        builder.Services.AddRecurringJob(PromptRolloutSweepHandler.JobType, SweepSchedule);
        return builder;
    }
}
