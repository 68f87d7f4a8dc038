using AspireAi.Core.Jobs;
using BenchmarkDotNet.Attributes;

namespace AspireAi.Bench.Jobs;

/// <summary>The recurring-job scheduler computes one next slot per fired slot; this keeps that cheap.</summary>
[MemoryDiagnoser]
public class CronScheduleBenchmarks
{
    private static readonly DateTimeOffset From = new(2026, 3, 1, 10, 7, 30, TimeSpan.Zero);
    private readonly CronSchedule _everyTenMinutes = CronSchedule.Parse("*/10 * * * *");
    private readonly CronSchedule _leapDay = CronSchedule.Parse("0 0 29 2 *");
    private readonly CronSchedule _interval = CronSchedule.Parse("@every 15s");

    [Benchmark]
    public CronSchedule Parse() => CronSchedule.Parse("0,30 8-18/2 * JAN-JUN MON-FRI");

    [Benchmark]
    public DateTimeOffset NextOfEveryTenMinutes() => _everyTenMinutes.GetNextOccurrence(From);

    [Benchmark]
    public DateTimeOffset NextLeapDay() => _leapDay.GetNextOccurrence(From);

    [Benchmark]
    public DateTimeOffset NextOfInterval() => _interval.GetNextOccurrence(From);
}
