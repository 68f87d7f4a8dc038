using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.RetrievalQuality;

/// <summary>
/// Meter "AspireAi.RetrievalQuality": <c>aspireai.retrieval.quality.alerts</c> counts windows whose average top
/// similarity fell below the threshold, by source, so a dashboard can alert on any increase.
/// </summary>
public sealed class RetrievalQualityMetrics
{
    public const string MeterName = "AspireAi.RetrievalQuality";

    private readonly Counter<long> _alerts;

    public RetrievalQualityMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _alerts = meterFactory.Create(MeterName).CreateCounter<long>("aspireai.retrieval.quality.alerts", "{alert}",
            "15-minute windows whose average top retrieval similarity fell below the alert threshold, by source.");
    }

    public void Alerted(string source) => _alerts.Add(1, new KeyValuePair<string, object?>("source", source));
}

/// <summary>
/// Every few seconds: adds what this instance recorded to the database, then checks the current and previous window
/// for the alert. An alert is logged and counted once per window and source, by whichever instance marks it first.
/// </summary>
public sealed partial class RetrievalQualityMonitor(
    RetrievalQualityRecorder recorder,
    RetrievalQualityStore store,
    RetrievalQualityMetrics metrics,
    IOptions<RetrievalQualityOptions> options,
    TimeProvider time,
    ILogger<RetrievalQualityMonitor> logger) : BackgroundService
{
    /// <summary>One flush and check; returns the alerts it raised.</summary>
    public async Task<IReadOnlyList<QualityAlert>> FlushAsync(CancellationToken cancellationToken)
    {
        var tallies = recorder.Drain();
        try
        {
            await store.AddAsync(tallies, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            recorder.Restore(tallies);
            throw;
        }
        var settings = options.Value;
        // The current window and the one before (whose last retrievals may have arrived with this flush).
        var current = RetrievalQualityRecorder.WindowOf(time.GetUtcNow());
        var alerts = await store.MarkAlertsAsync(current - RetrievalQualityRecorder.Window, current + RetrievalQualityRecorder.Window, settings.AlertThreshold, settings.AlertMinRetrievals, cancellationToken).ConfigureAwait(false);
        foreach (var alert in alerts)
        {
            metrics.Alerted(alert.Source);
            LogAlert(alert.Source, alert.AverageTopSimilarity, alert.WindowStart, alert.Scored, settings.AlertThreshold);
        }
        return alerts;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.FlushIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await FlushAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
                {
                    // Kept in memory and added with the next flush.
                    LogFlushFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // What the last ticks recorded is worth one more try on the way out.
        try
        {
            using var last = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await store.AddAsync(recorder.Drain(), last.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            LogFlushFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, EventName = "RetrievalQualityAlert",
        Message = "Retrieval quality alert: average top similarity of {Source} retrieval is {Average:0.000} in the window from {WindowStart:O} ({Scored} retrievals), below {Threshold}")]
    private partial void LogAlert(string source, double average, DateTimeOffset windowStart, long scored, double threshold);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not store the retrieval-quality tallies; they are kept for the next flush")]
    private partial void LogFlushFailed(Exception exception);
}

public static class RetrievalQualityExtensions
{
    /// <summary>The in-memory recorder (memory and document retrieval report to it), the store and the flushing monitor.</summary>
    public static IHostApplicationBuilder AddRetrievalQuality(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<RetrievalQualityOptions>().BindConfiguration(RetrievalQualityOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<RetrievalQualityRecorder>();
        services.TryAddSingleton<RetrievalQualityStore>();
        services.TryAddSingleton<RetrievalQualityMetrics>();
        services.TryAddSingleton<RetrievalQualityMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<RetrievalQualityMonitor>());
        return builder;
    }
}
