using System.Collections;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Infrastructure;

/// <summary>
/// Everything a service says about itself, as text: each log record (category, formatted message, every state value,
/// the exception) and each scope opened, at every level down to Trace, and each span of every ActivitySource in the
/// process (name, status, tags, events with their tags, links' tags, baggage). A test searches it for strings that
/// must never be written.
/// </summary>
/// <remarks>
/// Spans are process-wide (other tests run in parallel): a test searches for values only it planted. Add the provider
/// with <see cref="AddTo"/>, which also lets it see Trace whatever the service's own log levels say.
/// </remarks>
internal sealed class TelemetryCapture : ILoggerProvider
{
    private readonly List<string> _records = [];
    private readonly ActivityListener _listener;

    public TelemetryCapture()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = RecordSpan,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Every record and span captured so far, each as "where: text".</summary>
    public IReadOnlyList<string> Records
    {
        get
        {
            lock (_records)
            {
                return [.. _records];
            }
        }
    }

    public int LogCount { get; private set; }

    public int SpanCount { get; private set; }

    /// <summary>Adds this provider to a host's logging, with a rule that lets every level through to it.</summary>
    public void AddTo(ILoggingBuilder logging)
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.AddProvider(this);
        logging.AddFilter<TelemetryCapture>(null, LogLevel.Trace);
    }

    /// <summary>The captured records that contain <paramref name="value"/> (ignoring case).</summary>
    public IReadOnlyList<string> Containing(string value) =>
        [.. Records.Where(r => r.Contains(value, StringComparison.OrdinalIgnoreCase))];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() => _listener.Dispose();

    private void Add(string record, bool span)
    {
        lock (_records)
        {
            _records.Add(record);
            if (span)
            {
                SpanCount++;
            }
            else
            {
                LogCount++;
            }
        }
    }

    private void RecordSpan(Activity activity)
    {
        var text = new List<string> { activity.DisplayName, activity.OperationName, activity.StatusDescription ?? "" };
        text.AddRange(activity.TagObjects.Select(t => $"{t.Key}={Describe(t.Value)}"));
        foreach (var e in activity.Events)
        {
            text.Add(e.Name);
            text.AddRange(e.Tags.Select(t => $"{t.Key}={Describe(t.Value)}"));
        }

        foreach (var link in activity.Links)
        {
            text.AddRange((link.Tags ?? []).Select(t => $"{t.Key}={Describe(t.Value)}"));
        }

        text.AddRange(activity.Baggage.Select(b => $"{b.Key}={b.Value}"));
        Add($"span {activity.Source.Name}/{activity.OperationName}: {string.Join(" | ", text)}", span: true);
    }

    private static string Describe(object? value) => value switch
    {
        null => "",
        string s => s,
        IEnumerable<KeyValuePair<string, object?>> pairs => string.Join(", ", pairs.Select(p => $"{p.Key}={Describe(p.Value)}")),
        IEnumerable items => string.Join(", ", items.Cast<object?>().Select(Describe)),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private sealed class Logger(TelemetryCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            owner.Add($"scope {category}: {Describe(state)} {Describe((object)state.ToString()!)}", span: false);
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner.Add($"log {logLevel} {category} ({eventId.Name}): {formatter(state, exception)} | state: {Describe(state)} | exception: {exception}",
                span: false);
        }
    }
}
