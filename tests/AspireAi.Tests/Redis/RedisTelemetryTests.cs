using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RedisTelemetryTests
{
    [Fact]
    public async Task Each_command_gets_a_client_span_and_a_duration_that_name_the_command_and_never_its_data()
    {
        var secret = Guid.NewGuid().ToString("N");
        var spans = new ConcurrentQueue<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RedisTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(activityListener);
        var durations = new ConcurrentQueue<KeyValuePair<string, object?>[]>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RedisTelemetry.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meterListener.SetMeasurementEventCallback<double>((_, _, tags, _) => durations.Enqueue(tags.ToArray()));
        meterListener.Start();
        await using var redis = await RedisTestClients.SharedAsync();

        using var parent = new Activity("test").Start();
        await redis.StringSetAsync($"secret:{secret}", secret, TimeSpan.FromMinutes(1));
        var currentAfterCall = Activity.Current;
        await Assert.ThrowsAsync<RedisServerException>(() => redis.ExecuteAsync("NOSUCHCOMMAND", secret));
        parent.Stop();

        var ours = spans.Where(s => s.ParentSpanId == parent.SpanId).ToDictionary(s => s.OperationName);
        Assert.Same(parent, currentAfterCall);
        Assert.Equal(ActivityKind.Client, ours["SET"].Kind);
        Assert.Equal("redis", ours["SET"].GetTagItem("db.system"));
        Assert.Equal("SET", ours["SET"].GetTagItem("db.operation"));
        Assert.Equal(ActivityStatusCode.Error, ours["NOSUCHCOMMAND"].Status);
        Assert.DoesNotContain(ours.Values.SelectMany(s => s.TagObjects), tag => tag.Value?.ToString()?.Contains(secret, StringComparison.Ordinal) == true);
        Assert.Contains(durations, tags => tags.Contains(new("db.operation", "SET")) && tags.Contains(new("db.system", "redis")));
        Assert.Contains(durations, tags => tags.Contains(new("db.operation", "NOSUCHCOMMAND")) && tags.Contains(new("error.type", nameof(RedisServerException))));
    }
}
