using System.ComponentModel.DataAnnotations;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Documents.Parsing;

namespace AspireAi.Core.Documents;

/// <summary>The <c>Documents</c> configuration section: upload limits, chunking, retrieval and the background jobs.</summary>
public sealed class DocumentsOptions : IValidatableObject
{
    public const string SectionName = "Documents";

    /// <summary>Largest upload (one file, or the text of a JSON upload), in bytes. Default 10 MB.</summary>
    [Range(1, 1L << 30)]
    public long MaxUploadBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Largest bulk upload request (all files or texts together), in bytes. Default 50 MB.</summary>
    [Range(1, 4L << 30)]
    public long MaxBulkBytes { get; set; } = 50 * 1024 * 1024;

    /// <summary>Most characters of text one document may yield after parsing (guards against zip bombs in .docx).</summary>
    [Range(1, 200_000_000)]
    public int MaxTextChars { get; set; } = 20_000_000;

    /// <summary>Most chunks one document may have; a larger one fails with that reason.</summary>
    [Range(1, 1_000_000)]
    public int MaxChunksPerDocument { get; set; } = 50_000;

    /// <summary>Most documents in one bulk upload.</summary>
    [Range(1, 10_000)]
    public int MaxBulkDocuments { get; set; } = 100;

    /// <summary>Chunks sent to the embedding generator per call.</summary>
    [Range(1, 4096)]
    public int EmbeddingBatchSize { get; set; } = 128;

    /// <summary>What parsing one file may cost: expansion of packages, XML depth, time.</summary>
    public DocumentParseLimits Limits { get; set; } = new();

    public ChunkingOptions Chunking { get; set; } = new();

    public RetrievalOptions Retrieval { get; set; } = new();

    public RecallMonitorOptions RecallMonitor { get; set; } = new();

    public ReembedOptions Reembed { get; set; } = new();

    /// <summary>
    /// How long the audit log keeps what tools were called with (search queries are personal data); the rest of each
    /// audit row stays. Default 30 days.
    /// </summary>
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
    public TimeSpan ToolArgumentsRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Audit rows the retention sweep clears per job; a full batch enqueues the next.</summary>
    [Range(1, 1_000_000)]
    public int RetentionBatchSize { get; set; } = 10_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // DataAnnotations does not descend into nested objects; these are validated here with their paths.
        foreach (var (name, value) in new (string, object)[]
        {
            (nameof(Limits), Limits), (nameof(Chunking), Chunking), (nameof(Retrieval), Retrieval), (nameof(RecallMonitor), RecallMonitor), (nameof(Reembed), Reembed),
        })
        {
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
            foreach (var result in results)
            {
                yield return new ValidationResult(result.ErrorMessage, [.. result.MemberNames.Select(m => $"{name}:{m}")]);
            }
        }

        if (Chunking.OverlapTokens >= Chunking.MaxTokens)
        {
            yield return new ValidationResult("The overlap must be smaller than a chunk.", [$"{nameof(Chunking)}:{nameof(ChunkingOptions.OverlapTokens)}"]);
        }

        if (Retrieval.TopK > Retrieval.MaxTopK)
        {
            yield return new ValidationResult("TopK cannot exceed MaxTopK.", [$"{nameof(Retrieval)}:{nameof(RetrievalOptions.TopK)}"]);
        }
    }
}

/// <summary>Hybrid retrieval (<c>Documents:Retrieval</c>).</summary>
public sealed class RetrievalOptions
{
    /// <summary>Passages put into the chat context per turn.</summary>
    [Range(1, 100)]
    public int TopK { get; set; } = 5;

    /// <summary>Largest top_k a search request (tool or API) may ask for.</summary>
    [Range(1, 100)]
    public int MaxTopK { get; set; } = 20;

    /// <summary>Candidates each method (vector, full text) contributes to the fusion.</summary>
    [Range(1, 1000)]
    public int CandidatesPerMethod { get; set; } = 40;

    /// <summary>The k of reciprocal rank fusion: score = Σ 1 / (k + rank).</summary>
    [Range(1, 1000)]
    public int RrfK { get; set; } = 60;

    /// <summary>
    /// Below this best cosine similarity a retrieval is "low confidence": the chat context says nothing relevant was
    /// found rather than offering weak passages. 0.25 suits all-MiniLM-L6-v2, the default embedder: unrelated
    /// question/passage pairs score under ~0.15 with it, while a passage that answers a question scores 0.35 and up
    /// even when they share no word. Other models need their own value (<see cref="MinSimilarityByModel"/>).
    /// </summary>
    [Range(-1.0, 1.0)]
    public double MinSimilarity { get; set; } = 0.25;

    /// <summary>
    /// Also count a passage as relevant when it contains every term of the query (full-text AND match), whatever its
    /// similarity. Keyword-like questions ("maintenance schedule?") embed weakly but match exactly.
    /// </summary>
    public bool LexicalMatchIsRelevant { get; set; } = true;

    /// <summary>
    /// Per embedding model overrides of <see cref="MinSimilarity"/> (e.g. <c>text-embedding-3-small: 0.3</c>). The
    /// hashing test double keeps 0.2: its unrelated texts score up to about 0.2 by hashing noise in a large store.
    /// </summary>
    public Dictionary<string, double> MinSimilarityByModel { get; } = new(StringComparer.Ordinal)
    {
        [Llm.OfflineModels.HashingEmbeddingModelId] = 0.2,
    };

    /// <summary>Token budget of the passages put into the chat context.</summary>
    [Range(50, 100_000)]
    public int MaxContextTokens { get; set; } = 1500;

    /// <summary>
    /// hnsw.ef_search for the vector leg: candidates the HNSW scan keeps (higher: better recall, slower). 200 is the
    /// measured knee for the offline embedder (docs/benchmarks.md); the recall monitor reports what it buys.
    /// </summary>
    [Range(10, 1000)]
    public int EfSearch { get; set; } = 200;

    /// <summary>
    /// Scopes holding at most this many chunks are searched exactly instead of through the HNSW index: perfect recall,
    /// and faster than an index walk with a selective scope filter. 0 always uses the index.
    /// </summary>
    [Range(0, 10_000_000)]
    public int ExactSearchMaxChunks { get; set; } = 20_000;

    /// <summary>Characters of the query written to the retrieval log line.</summary>
    [Range(0, 2000)]
    public int MaxLoggedQueryChars { get; set; } = 100;

    /// <summary>Longest query text accepted, in characters.</summary>
    [Range(1, 100_000)]
    public int MaxQueryChars { get; set; } = 2000;

    public double MinSimilarityFor(string model) =>
        MinSimilarityByModel.TryGetValue(model, out var value) ? value : MinSimilarity;
}

/// <summary>The recall monitor (<c>Documents:RecallMonitor</c>): HNSW versus exact search on sample queries.</summary>
public sealed class RecallMonitorOptions
{
    /// <summary>Chunks sampled per run; each gives one query (its heading and first sentence).</summary>
    [Range(1, 1000)]
    public int SampleQueries { get; set; } = 20;

    /// <summary>Neighbours compared (recall@K).</summary>
    [Range(1, 100)]
    public int K { get; set; } = 10;
}

/// <summary>Re-embedding after a change of embedding model (<c>Documents:Reembed</c>).</summary>
public sealed class ReembedOptions
{
    /// <summary>Chunks re-embedded per job; a job that leaves work enqueues its successor.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 1000;
}
