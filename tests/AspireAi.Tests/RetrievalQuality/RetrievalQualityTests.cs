using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Memory;
using AspireAi.Core.RetrievalQuality;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.RetrievalQuality;

/// <summary>
/// Retrieval quality per 15-minute window: recorded in memory, added to Postgres, reported to admins, alerting below the
/// threshold. Each test works in a window of its own in the past (a fixed clock), so chat traffic of other tests running
/// now cannot change its figures.
/// </summary>
public sealed class RetrievalQualityTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Flushed_tallies_become_windows_with_averages_rates_and_recall_figures_and_a_low_window_alerts_once()
    {
        var window = RandomPastWindow();
        var clock = new FixedClock(window + TimeSpan.FromMinutes(7));
        var recorder = new RetrievalQualityRecorder(clock);
        for (var i = 0; i < 12; i++)
        {
            recorder.Record(RetrievalSources.Memory, i < 6 ? 0.5 : 0.7, lowConfidence: i < 3);
            recorder.Record(RetrievalSources.Document, 0.9, lowConfidence: false);
        }
        // No candidate at all: a retrieval, but no similarity to average.
        recorder.Record(RetrievalSources.Document, null, lowConfidence: false);
        await InsertRecallAsync(window + TimeSpan.FromMinutes(2), 0.9, 0.95, 0.8);
        await InsertRecallAsync(window + TimeSpan.FromMinutes(9), 0.7, 0.85, 0.6);

        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = meters.GetRequiredService<IMeterFactory>();
        using var alerts = new AlertListener(meterFactory);
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        var monitor = new RetrievalQualityMonitor(recorder, new RetrievalQualityStore(factory.DataSource), new RetrievalQualityMetrics(meterFactory),
            Options.Create(new RetrievalQualityOptions { AlertThreshold = 0.75, AlertMinRetrievals = 10 }), clock,
            loggerFactory.CreateLogger<RetrievalQualityMonitor>());

        var raised = await monitor.FlushAsync(CancellationToken.None);

        var alert = Assert.Single(raised);
        Assert.Equal((window, "memory", 12L), (alert.WindowStart, alert.Source, alert.Scored));
        Assert.Equal(0.6, alert.AverageTopSimilarity, 6);
        Assert.Equal([("memory", 1L)], alerts.Measurements);
        var logged = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Retrieval quality alert", StringComparison.Ordinal));
        Assert.Contains("memory retrieval is 0.600", logged.Message, StringComparison.Ordinal);

        // Rows left behind: one per source, the sums of what was recorded.
        Assert.Equal((12L, 12L, 3L, true), await RowAsync(window, "memory"));
        Assert.Equal((13L, 12L, 0L, false), await RowAsync(window, "document"));

        // More of the same in the same window: added to the row, but the window has alerted already.
        recorder.Record(RetrievalSources.Memory, 0.4, lowConfidence: true);
        Assert.Empty(await monitor.FlushAsync(CancellationToken.None));
        Assert.Single(alerts.Measurements);
        Assert.Equal((13L, 13L, 4L, true), await RowAsync(window, "memory"));

        var (admin, _) = await factory.CreateAdminClientAsync();
        var report = await admin.GetFromJsonAsync<JsonElement>(
            $"/v1/admin/retrieval-quality?from={Iso(window - TimeSpan.FromHours(1))}&to={Iso(window + TimeSpan.FromHours(1))}");
        var reported = Assert.Single(report.GetProperty("windows").EnumerateArray());
        Assert.Equal(window, reported.GetProperty("windowStart").GetDateTimeOffset());
        Assert.Equal(window + TimeSpan.FromMinutes(15), reported.GetProperty("windowEnd").GetDateTimeOffset());
        var memory = reported.GetProperty("memory");
        Assert.Equal((13L, 13L, 4L), (memory.GetProperty("retrievals").GetInt64(), memory.GetProperty("scored").GetInt64(), memory.GetProperty("lowConfidence").GetInt64()));
        Assert.Equal((0.5 * 6 + 0.7 * 6 + 0.4) / 13, memory.GetProperty("averageTopSimilarity").GetDouble(), 6);
        Assert.Equal(4.0 / 13, memory.GetProperty("lowConfidenceRate").GetDouble(), 6);
        Assert.True(memory.GetProperty("alert").GetBoolean());
        var document = reported.GetProperty("document");
        Assert.Equal(0.9, document.GetProperty("averageTopSimilarity").GetDouble(), 6);
        Assert.Equal(0, document.GetProperty("lowConfidenceRate").GetDouble());
        Assert.False(document.GetProperty("alert").GetBoolean());
        var recall = reported.GetProperty("recall");
        Assert.Equal(2, recall.GetProperty("runs").GetInt32());
        Assert.Equal(0.9, recall.GetProperty("filteredRecall").GetDouble(), 6);
        Assert.Equal(0.8, recall.GetProperty("globalRecall").GetDouble(), 6);
        Assert.Equal(0.7, recall.GetProperty("nearestFound").GetDouble(), 6);
        Assert.True(report.GetProperty("alert").GetBoolean());
        Assert.Equal(0.75, report.GetProperty("alertThreshold").GetDouble());
    }

    [Fact]
    public async Task A_window_above_the_threshold_or_under_the_minimum_sample_does_not_alert()
    {
        var window = RandomPastWindow();
        var clock = new FixedClock(window + TimeSpan.FromMinutes(1));
        var recorder = new RetrievalQualityRecorder(clock);
        for (var i = 0; i < 9; i++)
        {
            recorder.Record(RetrievalSources.Document, 0.2, lowConfidence: true);
        }
        for (var i = 0; i < 10; i++)
        {
            recorder.Record(RetrievalSources.Memory, 0.8, lowConfidence: false);
        }
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = meters.GetRequiredService<IMeterFactory>();
        using var alerts = new AlertListener(meterFactory);
        var monitor = new RetrievalQualityMonitor(recorder, new RetrievalQualityStore(factory.DataSource), new RetrievalQualityMetrics(meterFactory),
            Options.Create(new RetrievalQualityOptions()), clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<RetrievalQualityMonitor>.Instance);

        Assert.Empty(await monitor.FlushAsync(CancellationToken.None));
        Assert.Empty(alerts.Measurements);
        Assert.Equal((9L, 9L, 9L, false), await RowAsync(window, "document"));
    }

    [Fact]
    public async Task Memory_and_document_retrieval_for_a_chat_turn_report_their_top_similarity_to_the_recorder()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using (var created = await client.PostAsJsonAsync("/v1/memories", new { text = "I live in Lisbon and I use Rust." }))
        {
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        }
        await MemoryTestData.RunExtractionsAsync(factory, user.Id);
        // A recorder of this test's own: the host's is drained by its monitor at any moment.
        var recorder = new RetrievalQualityRecorder(TimeProvider.System);
        var memory = ActivatorUtilities.CreateInstance<MemoryContextProvider>(factory.Services, recorder);
        var documents = ActivatorUtilities.CreateInstance<DocumentRetriever>(factory.Services, recorder);

        var block = await memory.GetContextAsync(new ChatContextRequest(user.Id, user.OrgId, "default", Guid.CreateVersion7(), "Where do I live?"),
            CancellationToken.None);
        await documents.SearchAsync(user.Id, user.OrgId, new DocumentSearchRequest("Where do I live?", 5, Source: "chat"), CancellationToken.None);

        Assert.NotNull(block);
        var tallies = recorder.Drain().ToDictionary(t => t.Source);
        var remembered = tallies[RetrievalSources.Memory];
        Assert.Equal((1L, 1L, 0L), (remembered.Retrievals, remembered.Scored, remembered.LowConfidence));
        // The offline embedder scores this pair low (about 0.28) but above the memory threshold: a real, positive similarity.
        Assert.InRange(remembered.SimilaritySum, 0.05, 1.0);
        // The user has no documents: a retrieval with nothing to score.
        var searched = tallies[RetrievalSources.Document];
        Assert.Equal((1L, 0L, 0L), (searched.Retrievals, searched.Scored, searched.LowConfidence));
        Assert.Empty(recorder.Drain());
    }

    [Fact]
    public async Task The_report_needs_an_admin_and_a_valid_range()
    {
        var (user, _) = await factory.CreateUserClientAsync();
        using var forbidden = await user.GetAsync("/v1/admin/retrieval-quality");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        var (admin, _) = await factory.CreateAdminClientAsync();
        using var inverted = await admin.GetAsync("/v1/admin/retrieval-quality?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, inverted.StatusCode);
        Assert.True((await inverted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("from", out _));
        using var tooLong = await admin.GetAsync("/v1/admin/retrieval-quality?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        using var notADate = await admin.GetAsync("/v1/admin/retrieval-quality?from=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, notADate.StatusCode);
    }

    [Fact]
    public async Task Bad_settings_stop_the_start_naming_each_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RetrievalQuality:AlertThreshold"] = "1.5",
            ["RetrievalQuality:AlertMinRetrievals"] = "0",
        });
        builder.Services.AddSingleton(NpgsqlDataSource.Create("Host=127.0.0.1;Port=1"));
        builder.AddRetrievalQuality();
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        var message = string.Join('\n', error.Failures);
        Assert.Contains("AlertThreshold", message, StringComparison.Ordinal);
        Assert.Contains("AlertMinRetrievals", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Windows_are_aligned_quarter_hours()
    {
        Assert.Equal(DateTimeOffset.Parse("2026-03-01T10:45:00Z", null), RetrievalQualityRecorder.WindowOf(DateTimeOffset.Parse("2026-03-01T10:59:59.9Z", null)));
        Assert.Equal(DateTimeOffset.Parse("2026-03-01T10:00:00Z", null), RetrievalQualityRecorder.WindowOf(DateTimeOffset.Parse("2026-03-01T11:00:00+01:00", null)));
    }

    // A quarter-hour of its own between 2001 and 2011, far from the windows that live chat traffic fills.
    private static DateTimeOffset RandomPastWindow() =>
        new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero) + TimeSpan.FromMinutes(15) * Random.Shared.Next(0, 350_000);

    private static string Iso(DateTimeOffset value) => Uri.EscapeDataString(value.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private async Task InsertRecallAsync(DateTimeOffset at, double global, double filtered, double nearest)
    {
        await using var command = factory.DataSource.CreateCommand("""
            INSERT INTO recall_measurements (at, model, k, samples, filtered_recall, global_recall, nearest_found) VALUES ($1, 'test-model', 10, 20, $2, $3, $4)
            """);
        command.Parameters.Add(new() { Value = at });
        command.Parameters.Add(new() { Value = filtered });
        command.Parameters.Add(new() { Value = global });
        command.Parameters.Add(new() { Value = nearest });
        await command.ExecuteNonQueryAsync();
    }

    private async Task<(long Retrievals, long Scored, long LowConfidence, bool Alerted)> RowAsync(DateTimeOffset window, string source)
    {
        await using var command = factory.DataSource.CreateCommand(
            "SELECT retrievals, scored, low_confidence, alerted_at IS NOT NULL FROM retrieval_quality_windows WHERE window_start = $1 AND source = $2");
        command.Parameters.Add(new() { Value = window });
        command.Parameters.Add(new() { Value = source });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"No {source} row for {window:O}");
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetBoolean(3));
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    // The alert counter of one meter factory.
    private sealed class AlertListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Source, long Value)> _measurements = new();

        public AlertListener(IMeterFactory meterFactory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RetrievalQualityMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, meterFactory)
                    && instrument.Name == "aspireai.retrieval.quality.alerts")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "source")
                    {
                        _measurements.Enqueue(((string)tag.Value!, value));
                    }
                }
            });
            _listener.Start();
        }

        public IReadOnlyList<(string Source, long Value)> Measurements => [.. _measurements];

        public void Dispose() => _listener.Dispose();
    }
}
