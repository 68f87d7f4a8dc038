using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AspireAi.Api.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Tests.RateLimiting;

internal static class RateLimitTestClients
{
    private static readonly IMeterFactory UnobservedMeters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    public static TokenBuckets Buckets(IConnectionMultiplexer redis, TimeProvider? time = null, int instanceCount = 1, IMeterFactory? meters = null) =>
        new(redis, Options.Create(new RateLimitOptions { InstanceCount = instanceCount }), time ?? TimeProvider.System,
            meters ?? UnobservedMeters, NullLogger<TokenBuckets>.Instance);

    /// <summary>A meter factory of its own and the measurements of its "AspireAi.RateLimiting" instruments.</summary>
    internal sealed class MetricsRecorder : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)> _measurements = new();

        public MetricsRecorder()
        {
            Factory = _services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TokenBuckets.MeterName && ReferenceEquals(instrument.Meter.Scope, Factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var copy = new Dictionary<string, object?>();
                foreach (var (key, tagValue) in tags)
                {
                    copy[key] = tagValue;
                }
                _measurements.Enqueue((instrument.Name, value, copy));
            });
            _listener.Start();
        }

        public IMeterFactory Factory { get; }

        public long Sum(string instrument, (string Key, string Value)? tag = null) => _measurements
            .Where(m => m.Instrument == instrument && (tag is null || (m.Tags.TryGetValue(tag.Value.Key, out var v) && Equals(v, tag.Value.Value))))
            .Sum(m => m.Value);

        public void Dispose()
        {
            _listener.Dispose();
            _services.Dispose();
        }
    }
}
