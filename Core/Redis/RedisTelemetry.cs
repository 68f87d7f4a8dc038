using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;

namespace AspireAi.Core.Redis;

/// <summary>
/// The ActivitySource and Meter of the Redis client, both named <see cref="Name"/>: register that name with the
/// OpenTelemetry tracer and meter providers. Spans and metrics carry the command name only, never keys or values.
/// </summary>
public static class RedisTelemetry
{
    /// <summary>Name of the ActivitySource and the Meter.</summary>
    public const string Name = "AspireAi.Redis";

    internal static readonly ActivitySource ActivitySource = new(Name);

    private static readonly Meter Meter = new(Name);

    internal static readonly Histogram<double> CommandDuration = Meter.CreateHistogram(
        "db.client.operation.duration", unit: "s", description: "Duration of Redis commands, from the call to the reply.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>(
        "redis.client.reconnects", unit: "{reconnect}", description: "Connections re-established after a connection was lost.");

    internal static Activity? StartCommand(string command, DnsEndPoint endpoint)
    {
        var activity = ActivitySource.StartActivity(command, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system", "redis");
            activity.SetTag("db.operation", command);
            activity.SetTag("server.address", endpoint.Host);
            activity.SetTag("server.port", endpoint.Port);
        }
        return activity;
    }

    internal static void RecordCommand(string command, long startedTimestamp, Activity? activity, Exception? error)
    {
        var tags = new TagList { { "db.system", "redis" }, { "db.operation", command } };
        if (error is not null)
        {
            tags.Add("error.type", error.GetType().Name);
            activity?.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
            activity?.SetTag("error.type", error.GetType().Name);
        }
        CommandDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tags);
    }
}
