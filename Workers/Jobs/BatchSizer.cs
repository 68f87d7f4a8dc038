using System.Collections.Concurrent;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// How many jobs of a type to run in one transaction. An explicit <c>Jobs:Types:{type}:BatchSize</c> wins; otherwise
/// (adaptive) the size is <c>Jobs:BatchTarget</c> divided by a running estimate of the type's time per job (handler
/// plus completion, an exponentially weighted average), between 1 and <c>Jobs:MaxBatchSize</c>. A type never seen
/// runs one job per transaction until its first job has been measured, so a slow handler is never batched on a guess.
/// </summary>
internal sealed class BatchSizer(IOptions<JobsOptions> options)
{
    // Weight of the newest measurement: reacts within a few jobs when a type turns slow, without following every outlier.
    private const double Smoothing = 0.3;

    private readonly ConcurrentDictionary<string, double> _secondsPerJob = new(StringComparer.Ordinal);

    /// <summary>Whether the type's batches are sized (and cut short) by measurement rather than fixed by configuration.</summary>
    public bool IsAdaptive(string type) => options.Value.For(type).BatchSize is null;

    public int SizeFor(string type)
    {
        if (options.Value.For(type).BatchSize is { } configured)
        {
            return configured;
        }
        if (!_secondsPerJob.TryGetValue(type, out var estimate))
        {
            return 1;
        }
        var jobs = options.Value.BatchTarget.TotalSeconds / Math.Max(estimate, 1e-6);
        return (int)Math.Clamp(Math.Floor(jobs), 1, options.Value.MaxBatchSize);
    }

    /// <summary>Adds the measured time of one job (from its handler's start to its completion being written).</summary>
    public void Observe(string type, TimeSpan duration) =>
        _secondsPerJob.AddOrUpdate(type, static (_, seconds) => seconds,
            static (_, estimate, seconds) => estimate + (Smoothing * (seconds - estimate)), duration.TotalSeconds);
}
