using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AspireAi.Core.Memory;

/// <summary>
/// Meter and ActivitySource "AspireAi.Memory": retrieval latency (p50/p95 from the histogram), hit rate (retrievals
/// by hit=true/false), tokens injected, extraction failures by stage, facts rejected by the secret filter, and
/// consolidation operations by operation (the conflict rate is UPDATE+DELETE over all).
/// </summary>
public sealed class MemoryMetrics
{
    public const string MeterName = "AspireAi.Memory";

    public static readonly ActivitySource ActivitySource = new(MeterName);

    private readonly Histogram<double> _retrievalDuration;
    private readonly Counter<long> _retrievals;
    private readonly Histogram<int> _tokensInjected;
    private readonly Counter<long> _memoriesInjected;
    private readonly Counter<long> _extractionFailures;
    private readonly Counter<long> _extractionRepairs;
    private readonly Counter<long> _factsExtracted;
    private readonly Counter<long> _factsRejected;
    private readonly Counter<long> _operations;
    private readonly Counter<long> _decisionCorrections;
    private readonly Counter<long> _sourcesDeferred;
    private readonly Lock _recallLock = new();
    private readonly Dictionary<(string Model, int K), double> _recall = [];

    public MemoryMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _retrievalDuration = meter.CreateHistogram<double>("aspireai.memory.retrieval.duration", "s",
            "Time to retrieve and fuse memories for one query (embedding included).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3] });
        _retrievals = meter.CreateCounter<long>("aspireai.memory.retrievals", "{retrieval}",
            "Chat retrievals, by hit (true when at least one memory was injected): the hit rate.");
        _tokensInjected = meter.CreateHistogram<int>("aspireai.memory.tokens_injected", "{token}", "Estimated tokens of the memories block per chat turn.");
        _memoriesInjected = meter.CreateCounter<long>("aspireai.memory.injected", "{memory}", "Memories injected into chat prompts.");
        _extractionFailures = meter.CreateCounter<long>("aspireai.memory.extraction.failures", "{failure}",
            "Extraction or consolidation answers that could not be used, by stage (parse, schema, retry_failed, fact_rejected, decision_fallback).");
        _extractionRepairs = meter.CreateCounter<long>("aspireai.memory.extraction.repairs", "{answer}", "Model answers that needed JSON repair.");
        _factsExtracted = meter.CreateCounter<long>("aspireai.memory.facts", "{fact}", "Facts extracted.");
        _factsRejected = meter.CreateCounter<long>("aspireai.memory.facts_rejected", "{fact}", "Facts not stored before consolidation, by reason (secret, opt_out, invalid).");
        _operations = meter.CreateCounter<long>("aspireai.memory.operations", "{operation}", "Consolidation decisions applied, by operation and actor.");
        _decisionCorrections = meter.CreateCounter<long>("aspireai.memory.decision_corrections", "{decision}", "Model decisions changed by the consolidation guards.");
        _sourcesDeferred = meter.CreateCounter<long>("aspireai.memory.sources_deferred", "{source}", "Extractions left pending because the job queue was full.");
        meter.CreateObservableGauge("aspireai.memory.hnsw.recall", ObserveRecall, "1",
            "recall@K of the semantic leg (production's HNSW settings) against exact search on sampled memory texts (the memory recall monitor's last run).");
    }

    /// <summary>Records the recall the memory recall monitor measured (exported by the gauge until the next run).</summary>
    public void RecordRecall(string model, int k, double recall)
    {
        lock (_recallLock)
        {
            _recall[(model, k)] = recall;
        }
    }

    private IEnumerable<Measurement<double>> ObserveRecall()
    {
        lock (_recallLock)
        {
            return [.. _recall.Select(r => new Measurement<double>(r.Value,
                new KeyValuePair<string, object?>("gen_ai.request.model", r.Key.Model), new KeyValuePair<string, object?>("k", r.Key.K)))];
        }
    }

    public void Retrieved(TimeSpan duration, string purpose, int injected, int tokens)
    {
        var purposeTag = new KeyValuePair<string, object?>("purpose", purpose);
        _retrievalDuration.Record(duration.TotalSeconds, purposeTag);
        if (purpose == "chat")
        {
            _retrievals.Add(1, purposeTag, new KeyValuePair<string, object?>("hit", injected > 0));
            _tokensInjected.Record(tokens);
            _memoriesInjected.Add(injected);
        }
    }

    public void ExtractionFailed(string stage) => _extractionFailures.Add(1, new KeyValuePair<string, object?>("stage", stage));

    public void AnswerRepaired(string call) => _extractionRepairs.Add(1, new KeyValuePair<string, object?>("call", call));

    public void FactsExtracted(int count) => _factsExtracted.Add(count);

    public void FactRejected(string reason) => _factsRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Applied(MemoryOperation operation, MemoryActor actor) => _operations.Add(1,
        new KeyValuePair<string, object?>("operation", MemoryNames.Of(operation)), new KeyValuePair<string, object?>("actor", MemoryNames.Of(actor)));

    public void DecisionCorrected() => _decisionCorrections.Add(1);

    public void SourceDeferred() => _sourcesDeferred.Add(1);
}
