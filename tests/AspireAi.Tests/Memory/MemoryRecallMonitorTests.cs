using System.Diagnostics.Metrics;
using System.Text.Json;
using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Memory;

/// <summary>The memory recall monitor measures the statement production runs, with production's settings.</summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryRecallMonitorTests(ApiFactory factory)
{
    [Fact]
    public async Task The_monitor_compares_the_semantic_leg_with_exact_search_using_the_configured_settings_and_exports_the_gauge()
    {
        var (first, _) = await factory.CreateUserClientAsync();
        var (second, _) = await factory.CreateUserClientAsync();
        foreach (var text in new[] { "Works at Globex as a data engineer", "Has a dog named Anna", "Visited Lisbon in May 2023" })
        {
            await MemoryTestData.PostMemoryAsync(first, new { text, infer = false });
        }
        foreach (var text in new[] { "Plays tennis with Ben on Sundays", "Uses Stripe for payments", "Is allergic to peanuts" })
        {
            await MemoryTestData.PostMemoryAsync(second, new { text, infer = false });
        }
        var production = MemoryHnswSettings.From(factory.Services.GetRequiredService<IOptions<MemoryOptions>>().Value);
        var recall = new List<(double Value, string? Model)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MemoryMetrics.MeterName && instrument.Name == "aspireai.memory.hnsw.recall")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "gen_ai.request.model")
                {
                    recall.Add((value, tag.Value as string));
                }
            }
        });
        listener.Start();

        var measured = await RunAsync(null);
        listener.RecordObservableInstruments();

        var targets = await MemoryTestData.CountAsync(factory.DataSource, $"""
            SELECT count(*) FROM memories m WHERE m.scope = 'user' AND {MemorySql.Current} AND m.embedding_model = 'all-MiniLM-L6-v2'
            """);
        Assert.Equal(("all-MiniLM-L6-v2", 10, (int)Math.Min(targets, 20)), (measured.Model, measured.K, measured.Samples));
        Assert.Equal(production, measured.Settings);
        // Small scopes: ranked exactly (MemorySemanticQuery.Choose) or, before the table has statistics, as PostgreSQL
        // plans them; either finds what exact search does, or nearly.
        Assert.InRange(measured.Recall, 0.9, 1.0);
        Assert.InRange(measured.NearestFound, 0.9, 1.0);
        // Every probe is counted under the plan it ran, and none of these small scopes walked the graph.
        Assert.Equal((0, measured.Samples), (measured.IndexSamples, measured.ExactSamples + measured.PlannerSamples));
        Assert.Contains(recall, r => r.Model == "all-MiniLM-L6-v2" && Math.Abs(r.Value - measured.Recall) < 1e-9);

        // Other settings are reported as configured. Whether a probe walks the graph with them depends on its scope's size
        // against the table's; the over-fetching walk itself is checked in SemanticPlanTests.
        var tuned = new MemoryOptions
        {
            HnswEfSearch = 37, HnswIterativeScan = MemoryIterativeScan.StrictOrder, HnswMaxScanTuples = 5_000, HnswOverfetch = 3, RecallMonitorSamples = 5,
        };
        var other = await RunAsync(tuned);
        Assert.Equal(new MemoryHnswSettings(37, MemoryIterativeScan.StrictOrder, 5_000, 3), other.Settings);
        Assert.Equal(5, other.Samples);
        Assert.InRange(other.Recall, 0.9, 1.0);
    }

    // The job as the worker runs it, with the host's options or the given ones.
    private async Task<MemoryRecallMeasurement> RunAsync(MemoryOptions? options)
    {
        MemoryRecallMonitorJob? job = null;
        await MemoryTestData.RunJobAsync(factory.Services, factory.DataSource, JsonElement.Parse("{}"), services => job = options is null
            ? ActivatorUtilities.CreateInstance<MemoryRecallMonitorJob>(services)
            : ActivatorUtilities.CreateInstance<MemoryRecallMonitorJob>(services, Options.Create(options)));
        return job!.LastMeasurement!;
    }
}
