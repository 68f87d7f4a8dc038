using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Memory;

/// <summary>Settings of long-term memory (section "Memory"), validated on start.</summary>
public sealed class MemoryOptions : IValidatableObject
{
    public const string SectionName = "Memory";

    /// <summary>Extract memories from every completed chat exchange.</summary>
    public bool ExtractFromChat { get; set; } = true;

    /// <summary>Inject retrieved memories before every chat completion.</summary>
    public bool InjectIntoChat { get; set; } = true;

    /// <summary>Offer the <c>recall_memories</c> and <c>remember</c> tools to the model.</summary>
    public bool EnableTools { get; set; } = true;

    // Fusion: score = (semantic·w_s + keyword·w_k + entity·w_e) × decay^days × type weight.
    [Range(0.0, 1.0)] public double SemanticWeight { get; set; } = 0.6;
    [Range(0.0, 1.0)] public double KeywordWeight { get; set; } = 0.25;
    [Range(0.0, 1.0)] public double EntityWeight { get; set; } = 0.15;

    /// <summary>Multiplier per day since the memory was last updated or used (1 = no decay).</summary>
    [Range(0.5, 1.0)] public double RecencyDecayPerDay { get; set; } = 0.95;

    /// <summary>
    /// Per-type multipliers. Procedural memories are standing instructions, so they weigh a little more than facts;
    /// episodic ones (events) a little less.
    /// </summary>
    public MemoryTypeWeights TypeWeights { get; set; } = new();

    /// <summary>Tokens the injected memories block may take (heading included).</summary>
    [Range(20, 10_000)] public int TokenBudget { get; set; } = 200;

    /// <summary>
    /// Fused score under which a memory is not injected into a chat (search returns it anyway). 0.09 suits
    /// all-MiniLM-L6-v2, the default embedder: a memory found by meaning alone scores SemanticWeight × cosine, so this
    /// asks for a cosine of 0.15. MiniLM rates a memory that answers a question without sharing a word with it lower
    /// than one would think: 0.25 at the 5th percentile of the embed bench's labelled pairs, and "I live in Lisbon" for
    /// "Where is the user's home?" only 0.16 (a score of 0.098). A looser, merely related memory can pass too (the
    /// bench's unlabelled pairs, all about the user, reach 0.26 at p95); ranking and TokenBudget keep such memories
    /// behind the best ones, and a missed answer costs more than a spare line. Any keyword or entity match passes on
    /// its own. Other models need their own value (<see cref="MinScoreByModel"/>).
    /// </summary>
    [Range(0.0, 1.0)] public double MinScore { get; set; } = 0.09;

    /// <summary>
    /// Per embedding model overrides of <see cref="MinScore"/>. The hashing test double keeps 0.12 (a cosine of 0.2
    /// by meaning alone): its unrelated texts reach about 0.2 by hashing noise, and only shared words score above it.
    /// </summary>
    public Dictionary<string, double> MinScoreByModel { get; } = new(StringComparer.Ordinal)
    {
        [Llm.OfflineModels.HashingEmbeddingModelId] = 0.12,
    };

    /// <summary>Candidates each retriever (semantic, keyword, entity) contributes before fusion.</summary>
    [Range(1, 200)] public int CandidatesPerRetriever { get; set; } = 10;

    /// <summary>
    /// hnsw.ef_search for the semantic query (pgvector's iterative scan keeps looking when filters reject rows). 300:
    /// at 1,000,000 memories with 100,000 in the user's scope and MiniLM vectors, on the graph of migration 0024 (m 24,
    /// ef_construction 128), recall@10 against exact search was 98 % for questions and 99 % for memory-like texts (200:
    /// 89–93 % and 96–98 % across builds of the same data), for ~1.5 ms more at p95 (docs/benchmarks.md). Only large
    /// scopes walk the graph; small ones are read through the scope index.
    /// </summary>
    [Range(10, 1000)] public int HnswEfSearch { get; set; } = 300;

    /// <summary>hnsw.iterative_scan for the semantic query: how the scan goes on when the scope filter rejects rows.</summary>
    public MemoryIterativeScan HnswIterativeScan { get; set; } = MemoryIterativeScan.RelaxedOrder;

    /// <summary>hnsw.max_scan_tuples: graph tuples one iterative scan may visit (bounds a query whose scope holds few neighbours).</summary>
    [Range(1_000, 10_000_000)] public int HnswMaxScanTuples { get; set; } = 20_000;

    /// <summary>Candidates the semantic query takes from the index per candidate it returns, keeping the closest (1 = no over-fetch).</summary>
    [Range(1, 20)] public int HnswOverfetch { get; set; } = 1;

    /// <summary>Probes per run of the memory.recall-monitor job (each one exact search of a scope: a sequential read of it).</summary>
    [Range(1, 1_000)] public int RecallMonitorSamples { get; set; } = 20;

    /// <summary>
    /// Keyword and entity matches ranked per query and scope at most (ranking costs about 8 µs a row): bounds the cost
    /// of a very common word in a large scope. Rare words, the informative ones, match fewer rows than this anyway.
    /// </summary>
    [Range(10, 100_000)] public int MatchScanLimit { get; set; } = 200;

    /// <summary>
    /// A search whose scopes hold at most this many memories (by the table's statistics) and are ranked exactly runs its
    /// semantic, keyword and entity statements one after the other in one round trip on one connection, while
    /// <see cref="OneRoundTripMinOtherSearches"/> other searches are running; otherwise it runs them concurrently on
    /// three. Each statement over a small scope takes less than a round trip. 0: always concurrent.
    /// </summary>
    [Range(0, 100_000)] public int OneRoundTripMaxScopeRows { get; set; } = 1_000;

    /// <summary>
    /// Other searches running in this instance from which a small scope's legs share one round trip: the cores are busy,
    /// and every round trip costs CPU in the Api and in Postgres. A search alone runs its three legs at once, on cores
    /// that would otherwise wait. 0: one round trip even alone.
    /// </summary>
    [Range(0, 10_000)] public int OneRoundTripMinOtherSearches { get; set; } = 1;

    /// <summary>
    /// A word expected in at least this many memories of the searched scopes (its share of the table, from the table's
    /// statistics, times the scopes' rows) does not find keyword candidates; it still counts in their rank. Its GIN scan
    /// would collect every match before any LIMIT, and it tells memories apart least (<see cref="MemoryStatistics"/>).
    /// 0: every word finds. A scope of fewer memories than this never drops a word.
    /// </summary>
    [Range(0, int.MaxValue)] public int KeywordCommonWordMatches { get; set; } = 1_000;

    /// <summary>
    /// How long what is read from the memories table's statistics (the common words, the scopes' sizes that choose the
    /// semantic leg's plan) is used before it is read again.
    /// </summary>
    public TimeSpan KeywordStatisticsRefresh { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A memory's use (last_accessed_at, access_count) is written at most once per this interval: consecutive turns of
    /// a conversation mostly inject the same memories, and each write of a memory row that finds no room on its page
    /// also inserts into every index of the table, the HNSW graph included. last_accessed_at is then exact to the
    /// interval and access_count counts uses at most once per interval. 0 writes every use.
    /// </summary>
    public TimeSpan AccessRecordInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a session's memories live after the session's last memory write (Redis TTL and expires_at).</summary>
    public TimeSpan SessionTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Current episodic memories kept per user; the memory.cap-episodic job invalidates the oldest beyond it.</summary>
    [Range(1, 1_000_000)] public int EpisodicCapPerUser { get; set; } = 500;

    /// <summary>Invalidated versions older than this are purged (rows deleted, history texts blanked).</summary>
    public TimeSpan InvalidatedRetention { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Similar current memories shown to consolidation for each new fact.</summary>
    [Range(1, 50)] public int ConsolidationCandidates { get; set; } = 6;

    /// <summary>Facts an extraction may return.</summary>
    [Range(1, 100)] public int MaxFactsPerExtraction { get; set; } = 20;

    /// <summary>Characters of an exchange sent to extraction (the longest messages are cut in the middle).</summary>
    [Range(200, 200_000)] public int MaxExtractionInputChars { get; set; } = 12_000;

    /// <summary>Longest memory text accepted.</summary>
    [Range(20, 2_000)] public int MaxMemoryChars { get; set; } = 500;

    /// <summary>Sources the memory.backlog job enqueues per run (sources left pending while the queue was full).</summary>
    [Range(1, 10_000)] public int BacklogBatchSize { get; set; } = 200;

    /// <summary>Rows each maintenance job touches per run at most.</summary>
    [Range(1, 100_000)] public int MaintenanceBatchSize { get; set; } = 1_000;

    /// <summary>
    /// How often the memory event stream (<c>GET /v1/memories/events</c>) sends a comment when nothing happened: keeps
    /// proxies from closing an idle connection, and is when the stream notices that Redis went away.
    /// </summary>
    public TimeSpan EventStreamHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    [Required, MinLength(1)] public string ExtractionPromptName { get; set; } = "memory.extract";

    [Required, MinLength(1)] public string ConsolidationPromptName { get; set; } = "memory.consolidate";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SemanticWeight + KeywordWeight + EntityWeight <= 0)
        {
            yield return new("At least one of SemanticWeight, KeywordWeight and EntityWeight must be positive.",
                [nameof(SemanticWeight), nameof(KeywordWeight), nameof(EntityWeight)]);
        }
        if (SessionTtl < TimeSpan.FromSeconds(1) || SessionTtl > TimeSpan.FromDays(30))
        {
            yield return new("SessionTtl must be between 1 second and 30 days.", [nameof(SessionTtl)]);
        }
        if (EventStreamHeartbeat < TimeSpan.FromMilliseconds(100) || EventStreamHeartbeat > TimeSpan.FromMinutes(5))
        {
            yield return new("EventStreamHeartbeat must be between 100 milliseconds and 5 minutes.", [nameof(EventStreamHeartbeat)]);
        }
        if (AccessRecordInterval < TimeSpan.Zero || AccessRecordInterval > TimeSpan.FromDays(1))
        {
            yield return new("AccessRecordInterval must be between 0 and 1 day.", [nameof(AccessRecordInterval)]);
        }
        if (KeywordStatisticsRefresh < TimeSpan.Zero || KeywordStatisticsRefresh > TimeSpan.FromDays(1))
        {
            yield return new("KeywordStatisticsRefresh must be between 0 and 1 day.", [nameof(KeywordStatisticsRefresh)]);
        }
        if (InvalidatedRetention < TimeSpan.Zero)
        {
            yield return new("InvalidatedRetention cannot be negative.", [nameof(InvalidatedRetention)]);
        }
        foreach (var (model, value) in MinScoreByModel)
        {
            if (value is < 0 or > 1)
            {
                yield return new($"MinScoreByModel:{model} must be between 0 and 1.", [nameof(MinScoreByModel)]);
            }
        }
        foreach (var (name, value) in new[]
        {
            (nameof(MemoryTypeWeights.Semantic), TypeWeights.Semantic),
            (nameof(MemoryTypeWeights.Episodic), TypeWeights.Episodic),
            (nameof(MemoryTypeWeights.Procedural), TypeWeights.Procedural),
        })
        {
            if (value is < 0 or > 10)
            {
                yield return new($"TypeWeights:{name} must be between 0 and 10.", [$"{nameof(TypeWeights)}:{name}"]);
            }
        }
    }

    /// <summary>The <see cref="MinScore"/> for scores computed with <paramref name="model"/>'s vectors.</summary>
    public double MinScoreFor(string model) => MinScoreByModel.TryGetValue(model, out var value) ? value : MinScore;

    public double WeightOf(MemoryType type) => type switch
    {
        MemoryType.Semantic => TypeWeights.Semantic,
        MemoryType.Episodic => TypeWeights.Episodic,
        _ => TypeWeights.Procedural,
    };
}

public sealed class MemoryTypeWeights
{
    public double Semantic { get; set; } = 1.0;
    public double Episodic { get; set; } = 0.8;
    public double Procedural { get; set; } = 1.2;
}
