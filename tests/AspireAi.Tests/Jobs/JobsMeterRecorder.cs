using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AspireAi.Core.Jobs;

namespace AspireAi.Tests.Jobs;

/// <summary>Collects the measurements of one host's "AspireAi.Jobs" meter (other hosts in the test run have their own).</summary>
internal sealed class JobsMeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, string? Type, string? Tag)> _measurements = new();
    private readonly ConcurrentDictionary<(string Instrument, string? Type, string? Tag), double> _gauges = new();

    public JobsMeterRecorder(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == JobsTelemetry.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public void ObserveGauges() => _listener.RecordObservableInstruments();

    public double? Gauge(string instrument, string type, string? tag = null) =>
        _gauges.TryGetValue((instrument, type, tag), out var value) ? value : null;

    public double Sum(string instrument, string type, string? tag = null) => Matching(instrument, type, tag).Sum();

    public double Max(string instrument, string type, string? tag = null) => Matching(instrument, type, tag).DefaultIfEmpty(0).Max();

    public int Count(string instrument, string? type, bool positiveOnly = false) =>
        _measurements.Count(m => m.Instrument == instrument && (type is null || m.Type == type) && (!positiveOnly || m.Value > 0));

    public string Describe() => string.Join('\n', _gauges.Select(g => $"gauge {g.Key}: {g.Value}")
        .Concat(_measurements.Select(m => $"{m.Instrument} {m.Type} {m.Tag}: {m.Value}")));

    public void Dispose() => _listener.Dispose();

    private IEnumerable<double> Matching(string instrument, string type, string? tag) =>
        _measurements.Where(m => m.Instrument == instrument && m.Type == type && (tag is null || m.Tag == tag)).Select(m => m.Value);

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? type = null;
        string? tag = null;
        foreach (var (key, tagValue) in tags)
        {
            if (key == "job.type")
            {
                type = tagValue as string;
            }
            else if (key is "job.outcome" or "job.status")
            {
                tag = tagValue as string;
            }
        }

        if (instrument.IsObservable)
        {
            _gauges[(instrument.Name, type, tag)] = value;
        }
        else
        {
            _measurements.Enqueue((instrument.Name, value, type, tag));
        }
    }
}
