using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AspireAi.Core.Documents;

/// <summary>
/// ActivitySource and Meter "AspireAi.Documents": ingestion counts and durations, retrieval latency, similarity and
/// low-confidence answers, re-embedding progress, and the recall@10 the recall monitor measures.
/// </summary>
public sealed class DocumentsTelemetry : IDisposable
{
    public const string Name = "AspireAi.Documents";

    public static ActivitySource ActivitySource { get; } = new(Name);

    private readonly Meter _meter;
    private readonly Lock _recallLock = new();
    private readonly Dictionary<(string Model, int K, string Kind), double> _recall = [];

    public DocumentsTelemetry(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(Name);
        DocumentsIngested = _meter.CreateCounter<long>("aspireai.documents.ingested", "{document}",
            "Documents whose ingestion ended, by outcome (ready, failed).");
        ChunksIngested = _meter.CreateCounter<long>("aspireai.documents.chunks.ingested", "{chunk}", "Chunks stored by ingestion.");
        IngestionDuration = _meter.CreateHistogram<double>("aspireai.documents.ingestion.duration", "s",
            "Time from the start of a document's ingestion job to ready or failed.");
        RetrievalDuration = _meter.CreateHistogram<double>("aspireai.documents.retrieval.duration", "s",
            "Hybrid retrieval latency (embedding the query, vector and full-text search, fusion).");
        BestSimilarity = _meter.CreateHistogram<double>("aspireai.documents.retrieval.best_similarity", "1",
            "Best cosine similarity of each retrieval that found candidates.");
        LowConfidence = _meter.CreateCounter<long>("aspireai.documents.retrieval.low_confidence", "{retrieval}",
            "Retrievals whose best similarity was under Documents:Retrieval:MinSimilarity; nothing was offered as a source.");
        ChunksReembedded = _meter.CreateCounter<long>("aspireai.documents.chunks.reembedded", "{chunk}",
            "Chunks re-embedded after a change of embedding model.");
        _meter.CreateObservableGauge("aspireai.documents.hnsw.recall", ObserveRecall, "1",
            "recall@K of the HNSW index against exact search on sample queries (the recall monitor's last run).");
    }

    public Counter<long> DocumentsIngested { get; }

    public Counter<long> ChunksIngested { get; }

    public Histogram<double> IngestionDuration { get; }

    public Histogram<double> RetrievalDuration { get; }

    public Histogram<double> BestSimilarity { get; }

    public Counter<long> LowConfidence { get; }

    public Counter<long> ChunksReembedded { get; }

    /// <summary>Records the recall the monitor measured for a model (exported by the gauge until the next run).</summary>
    /// <param name="kind"><c>filtered</c> (queries restricted to a scope, as in production) or <c>global</c> (the whole index).</param>
    public void RecordRecall(string model, int k, string kind, double recall)
    {
        lock (_recallLock)
        {
            _recall[(model, k, kind)] = recall;
        }
    }

    private IEnumerable<Measurement<double>> ObserveRecall()
    {
        lock (_recallLock)
        {
            return [.. _recall.Select(r => new Measurement<double>(r.Value,
                new KeyValuePair<string, object?>("gen_ai.request.model", r.Key.Model), new KeyValuePair<string, object?>("k", r.Key.K),
                new KeyValuePair<string, object?>("query.kind", r.Key.Kind)))];
        }
    }

    public void Dispose() => _meter.Dispose();
}
