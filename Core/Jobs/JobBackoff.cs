namespace AspireAi.Core.Jobs;

/// <summary>Retry delays: exponential from the type's base, capped, with "equal jitter" (half fixed, half random).</summary>
public static class JobBackoff
{
    /// <summary>The delay before the attempt after <paramref name="failedAttempt"/> (1-based).</summary>
    /// <param name="failedAttempt">The attempt that just failed.</param>
    /// <param name="settings">The job type's settings.</param>
    /// <param name="random">A value in [0, 1), e.g. <see cref="Random.NextDouble"/>.</param>
    public static TimeSpan Delay(int failedAttempt, JobTypeSettings settings, double random)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var exponent = Math.Clamp(failedAttempt - 1, 0, 30);
        var ceiling = Math.Min(settings.BackoffCap.TotalMilliseconds, settings.BackoffBase.TotalMilliseconds * Math.Pow(2, exponent));
        // Equal jitter keeps the exponential growth while spreading retries of jobs that failed together.
        return TimeSpan.FromMilliseconds(ceiling / 2 + (ceiling / 2 * Math.Clamp(random, 0, 1)));
    }
}
