using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AspireAi.Core.Data;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Encryption;
using AspireAi.Core.RetrievalQuality;
using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Pgvector;

namespace AspireAi.Core.Documents.Retrieval;

/// <summary>What to search for, and where.</summary>
/// <param name="Query">The question or keywords.</param>
/// <param name="TopK">Results wanted (at most <c>Documents:Retrieval:MaxTopK</c>).</param>
/// <param name="DocumentIds">Only these documents (metadata filter), when given.</param>
/// <param name="Tags">Only documents carrying at least one of these tags, when given.</param>
/// <param name="Scope">Only the caller's own (<c>user</c>) or the organisation's (<c>org</c>) documents; both when null.</param>
/// <param name="Source">Who asks, for telemetry: <c>chat</c>, <c>tool</c> or <c>api</c>.</param>
public sealed record DocumentSearchRequest(
    string Query, int TopK, IReadOnlyList<Guid>? DocumentIds = null, IReadOnlyList<string>? Tags = null, string? Scope = null, string Source = "api");

/// <summary>One retrieved passage with how it ranked.</summary>
/// <param name="Similarity">Cosine similarity to the query; every hit's vector is of the query's embedding model.</param>
/// <param name="Score">Reciprocal rank fusion score.</param>
/// <param name="VectorRank">1-based rank in the vector search, when it found the chunk.</param>
/// <param name="TextRank">1-based rank in the full-text search, when it found the chunk.</param>
/// <param name="FullTextMatch">The chunk contains every term of the query (after stemming and stopwords).</param>
/// <param name="Page">For paged formats (PDF): the page the passage starts on; <paramref name="PageEnd"/> the last, when it runs on.</param>
public sealed record DocumentSearchHit(
    Guid ChunkId, Guid DocumentId, string Title, int Ordinal, string? Heading, string Content, double? Similarity, double Score,
    int? VectorRank, int? TextRank, bool FullTextMatch, int? Page = null, int? PageEnd = null);

/// <summary>The outcome of a search.</summary>
/// <param name="Hits">Passages, best first. Empty when the search was low-confidence.</param>
/// <param name="BestSimilarity">Best cosine similarity among the candidates, or null when nothing matched at all.</param>
/// <param name="LowConfidence">True when candidates were found but none is relevant (similarity under the threshold and,
/// with <c>LexicalMatchIsRelevant</c>, not containing every query term): nothing relevant was found.</param>
/// <param name="Threshold">The threshold applied for <paramref name="Model"/>.</param>
/// <param name="Model">The embedding model the query was embedded with; only its vectors were compared.</param>
public sealed record DocumentSearchResult(
    IReadOnlyList<DocumentSearchHit> Hits, double? BestSimilarity, bool LowConfidence, double Threshold, string Model, double LatencyMs);

/// <summary>
/// Hybrid retrieval over the chunks a user may read, of the configured embedding model only: HNSW vector search (inner
/// product on unit vectors) and PostgreSQL full-text search, fused with reciprocal rank fusion in one SQL
/// statement. Low-confidence searches return no hits; every search writes one log line and its metrics.
/// </summary>
public sealed partial class DocumentRetriever(
    NpgsqlDataSource dataSource,
    DocumentEmbedder embedder,
    FieldCipher cipher,
    DocumentsTelemetry telemetry,
    IOptions<DocumentsOptions> options,
    ILogger<DocumentRetriever> logger,
    RetrievalQualityRecorder? quality = null)
{
    // $1 query vector, $2 model, $3 scope keys, $4 "any word" query, $5 candidates per method, $6 rrf k, $7 rows,
    // $8 document ids or null, $9 tags or null, $10 the query as typed (full_match: the chunk holds every query term),
    // $11 weight of the full-text leg in the fusion (the vector leg weighs 1), $12 the query's blind-index tokens.
    // Encrypted chunks (key_id set, tsv NULL) match through their blind index: every token (@>) is a full match, any
    // token (&&) a partial one, ranked by the share of the query's words held; plain chunks from before encryption
    // still match through tsv.
    // The vector leg is materialised so that its ORDER BY ... LIMIT is planned as an index scan; relaxed iterative
    // scans can return rows slightly out of order, hence the row_number.
    internal static readonly string HybridSql = HybridSqlTemplate.Replace("{vector_order}", "c.embedding <#> $1", StringComparison.Ordinal);

    // The same ranking the index cannot serve ("+ 0"): every chunk in scope is compared with the query, exactly.
    internal static readonly string ExactHybridSql = HybridSqlTemplate.Replace("{vector_order}", "(c.embedding <#> $1) + 0", StringComparison.Ordinal);

    private const string HybridSqlTemplate = """
        WITH allowed AS (
            SELECT id FROM documents
            WHERE scope_key = ANY($3) AND ($8::uuid[] IS NULL OR id = ANY($8)) AND ($9::text[] IS NULL OR tags && $9)
        ),
        vec AS MATERIALIZED (
            SELECT c.id, c.embedding <#> $1 AS distance
            FROM document_chunks c
            WHERE c.embedding_model = $2 AND c.scope_key = ANY($3)
              AND ($8::uuid[] IS NULL AND $9::text[] IS NULL OR c.document_id IN (SELECT id FROM allowed))
            ORDER BY {vector_order}
            LIMIT $5
        ),
        vec_ranked AS (
            SELECT id, -distance AS similarity, row_number() OVER (ORDER BY distance) AS rank FROM vec
        ),
        -- Full text: passages holding every query term first (precise, and cheap: few rows match). Only when none
        -- does, passages holding any term, ranked among a bounded sample so that common words cannot make it slow.
        -- Both legs take only the query model's chunks: a query never mixes models, not even by keyword (a chunk
        -- waiting for the re-embed job is found again once it has a vector of the current model).
        fts_all AS MATERIALIZED (
            SELECT c.id, CASE WHEN c.key_id IS NULL THEN ts_rank(c.tsv, q.query)
                              ELSE cardinality($12)::real / greatest(cardinality(c.content_bi), 1) END AS score
            FROM document_chunks c, (SELECT plainto_tsquery('english', $10) AS query) q
            WHERE (c.tsv @@ q.query OR (cardinality($12) > 0 AND c.content_bi @> $12)) AND c.embedding_model = $2 AND c.scope_key = ANY($3)
              AND ($8::uuid[] IS NULL AND $9::text[] IS NULL OR c.document_id IN (SELECT id FROM allowed))
            ORDER BY score DESC
            LIMIT $5
        ),
        fts_any AS MATERIALIZED (
            SELECT s.id, CASE WHEN s.key_id IS NULL THEN ts_rank(s.tsv, q.query)
                              ELSE (SELECT count(*) FROM unnest(s.content_bi) t WHERE t = ANY($12))::real / greatest(cardinality($12), 1) END AS score
            FROM (SELECT websearch_to_tsquery('english', $4) AS query) q,
                 LATERAL (
                     SELECT c.id, c.tsv, c.key_id, c.content_bi FROM document_chunks c
                     WHERE (c.tsv @@ q.query OR c.content_bi && $12) AND c.embedding_model = $2 AND c.scope_key = ANY($3)
                       AND ($8::uuid[] IS NULL AND $9::text[] IS NULL OR c.document_id IN (SELECT id FROM allowed))
                     LIMIT 2000) s
            WHERE $4 <> '' AND NOT EXISTS (SELECT 1 FROM fts_all)
            ORDER BY score DESC
            LIMIT $5
        ),
        fts AS (
            SELECT id, score FROM fts_all UNION ALL SELECT id, score FROM fts_any
        ),
        fts_ranked AS (
            SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank FROM fts
        ),
        fused AS (
            SELECT coalesce(v.id, f.id) AS id, v.rank AS vector_rank, f.rank AS text_rank, v.similarity,
                   coalesce(1.0 / ($6 + v.rank), 0) + coalesce($11 / ($6 + f.rank), 0) AS rrf
            FROM vec_ranked v FULL OUTER JOIN fts_ranked f ON f.id = v.id
        )
        SELECT fu.id, c.document_id, d.title, c.ordinal, c.heading, c.content,
               coalesce(fu.similarity, -(c.embedding <#> $1)) AS similarity,
               fu.rrf, fu.vector_rank, fu.text_rank,
               $10 <> '' AND (coalesce(c.tsv @@ plainto_tsquery('english', $10), false) OR (cardinality($12) > 0 AND coalesce(c.content_bi @> $12, false))) AS full_match,
               (c.metadata->>'page')::int, (c.metadata->>'pageEnd')::int, c.key_id, c.content_ct
        FROM fused fu
        JOIN document_chunks c ON c.id = fu.id
        JOIN documents d ON d.id = c.document_id
        ORDER BY fu.rrf DESC, similarity DESC NULLS LAST, c.id
        LIMIT $7
        """;

    public string Model => embedder.ModelId;

    /// <summary>The chunks of the scope's ready documents (the exact-or-index choice), and whether it holds any chunk at all.</summary>
    private async Task<(long ReadyChunks, bool AnyChunks)> ProbeScopeAsync(Guid[] keys, CancellationToken cancellationToken)
    {
        await using var probe = dataSource.CreateCommand("""
            SELECT coalesce((SELECT sum(chunk_count) FROM documents WHERE scope_key = ANY($1) AND status = 'ready'), 0)::bigint,
                   EXISTS (SELECT 1 FROM document_chunks WHERE scope_key = ANY($1))
            """);
        probe.Parameters.Add(new() { Value = keys });
        await using var reader = await probe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (reader.GetInt64(0), reader.GetBoolean(1));
    }

    /// <summary>Searches the documents the user may read: their own and their organisation's.</summary>
    public async Task<DocumentSearchResult> SearchAsync(Guid userId, Guid orgId, DocumentSearchRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = options.Value.Retrieval;
        var started = Stopwatch.GetTimestamp();
        using var activity = DocumentsTelemetry.ActivitySource.StartActivity("documents.retrieve");
        var topK = Math.Clamp(request.TopK, 1, settings.MaxTopK);
        var model = embedder.ModelId;
        var threshold = settings.MinSimilarityFor(model);
        activity?.SetTag("gen_ai.request.model", model);
        activity?.SetTag("aspireai.retrieval.top_k", topK);

        var keys = request.Scope switch
        {
            DocumentScope.User => new[] { userId },
            DocumentScope.Org => [orgId],
            _ => [userId, orgId],
        };
        // What the scope holds decides the plan, and needs no vector: it is read while the question is embedded.
        var probe = ProbeScopeAsync(keys, cancellationToken);
        var embedding = embedder.EmbedQueryAsync(request.Query, cancellationToken);
        await Task.WhenAll(probe, embedding).ConfigureAwait(false);
        var vector = await embedding.ConfigureAwait(false);
        var (readyChunks, anyChunks) = await probe.ConfigureAwait(false);

        var candidates = new List<DocumentSearchHit>();
        // A small scope is searched exactly (perfect recall, and cheaper than walking the graph with a selective
        // filter); a large one through the HNSW index.
        var exact = settings.ExactSearchMaxChunks > 0 && readyChunks <= settings.ExactSearchMaxChunks;
        // A scope without a single chunk (most users: no documents) has nothing to search.
        if (anyChunks)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var batch = new NpgsqlBatch(connection, tx);
            batch.BatchCommands.Add(new NpgsqlBatchCommand(PlanCache.CustomPlans));
            // Filtered HNSW scans keep going until enough rows pass the scope filter (pgvector 0.8 iterative scans).
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                $"SET LOCAL hnsw.ef_search = {settings.EfSearch.ToString(CultureInfo.InvariantCulture)}"));
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL hnsw.iterative_scan = relaxed_order"));
            var search = new NpgsqlBatchCommand(exact ? ExactHybridSql : HybridSql);
            search.Parameters.Add(new() { Value = new Vector(vector) });
            search.Parameters.Add(new() { Value = model });
            search.Parameters.Add(new() { Value = keys });
            search.Parameters.Add(new() { Value = TextQuery(request.Query) });
            search.Parameters.Add(new() { Value = Math.Max(settings.CandidatesPerMethod, topK) });
            search.Parameters.Add(new() { Value = settings.RrfK });
            search.Parameters.Add(new() { Value = Math.Max(settings.CandidatesPerMethod, topK) });
            search.Parameters.Add(new() { Value = request.DocumentIds is { Count: > 0 } ids ? ids.ToArray() : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            search.Parameters.Add(new() { Value = request.Tags is { Count: > 0 } tagFilter ? tagFilter.ToArray() : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            search.Parameters.Add(new() { Value = request.Query });
            search.Parameters.Add(new() { Value = TextLegWeight(request.Query), NpgsqlDbType = NpgsqlDbType.Numeric });
            search.Parameters.Add(new() { Value = await cipher.TokensAsync(orgId, request.Query, cancellationToken).ConfigureAwait(false),
                NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
            batch.BatchCommands.Add(search);
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    candidates.Add(new DocumentSearchHit(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetInt32(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        await cipher.OpenAsync(DocumentStore.ReadContent(reader, 5, 13, 14), EncryptedField.ChunkContent, reader.GetGuid(0), cancellationToken)
                            .ConfigureAwait(false),
                        reader.IsDBNull(6) ? null : reader.GetDouble(6),
                        (double)reader.GetDecimal(7), reader.IsDBNull(8) ? null : (int)reader.GetInt64(8), reader.IsDBNull(9) ? null : (int)reader.GetInt64(9),
                        reader.GetBoolean(10), reader.IsDBNull(11) ? null : reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetInt32(12)));
                }
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        double? best = candidates.Count == 0 ? null : candidates.Max(c => c.Similarity ?? double.MinValue);
        if (best == double.MinValue)
        {
            best = null;
        }

        // A passage is relevant when its similarity reaches the threshold, or (Retrieval:LexicalMatchIsRelevant) when it
        // contains every term of the query: short keyword queries score low on similarity yet match exactly.
        bool Relevant(DocumentSearchHit hit) => hit.Similarity >= threshold || (settings.LexicalMatchIsRelevant && hit.FullTextMatch);
        var lowConfidence = candidates.Count > 0 && !candidates.Any(Relevant);
        var hits = lowConfidence ? [] : candidates.Where(Relevant).Take(topK).ToList();

        var latency = Stopwatch.GetElapsedTime(started);
        var outcome = candidates.Count == 0 ? "empty" : lowConfidence ? "low_confidence" : "ok";
        var tags = new System.Diagnostics.TagList { { "outcome", outcome }, { "source", request.Source }, { "gen_ai.request.model", model } };
        telemetry.RetrievalDuration.Record(latency.TotalSeconds, tags);
        if (best is { } b)
        {
            telemetry.BestSimilarity.Record(b, new KeyValuePair<string, object?>("gen_ai.request.model", model));
        }

        quality?.Record(RetrievalSources.Document, best, lowConfidence);
        if (lowConfidence)
        {
            telemetry.LowConfidence.Add(1, new KeyValuePair<string, object?>("source", request.Source));
            var traceId = TraceId();
            LogLowConfidence(traceId, best ?? 0, threshold, model);
        }

        activity?.SetTag("aspireai.retrieval.outcome", outcome);
        activity?.SetTag("aspireai.retrieval.vector_search", exact ? "exact" : "hnsw");
        activity?.SetTag("aspireai.retrieval.results", hits.Count);
        if (logger.IsEnabled(LogLevel.Information))
        {
            var traceId = TraceId();
            var scores = FormatScores(lowConfidence ? candidates.Take(topK) : hits);
            var loggedQuery = Truncate(request.Query, settings.MaxLoggedQueryChars);
            var latencyMs = latency.TotalMilliseconds;
            LogRetrieval(traceId, model, topK, request.Source, exact ? "exact" : "hnsw", outcome, hits.Count, scores, best ?? 0, latencyMs, loggedQuery);
        }
        return new DocumentSearchResult(hits, best, lowConfidence, threshold, model, latency.TotalMilliseconds);
    }

    /// <summary>
    /// The fallback full-text query, used when no passage holds every term: any of the query's words
    /// ("a or b or c"), ranked so that passages with more of them come first. Only letters and digits survive, so
    /// the websearch syntax (quotes, minus) cannot be injected.
    /// </summary>
    internal static string TextQuery(string query)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (var c in query.Append(' '))
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(c);
            }
            else if (word.Length > 0)
            {
                if (word.Length > 1 && words.Count < 64 && !string.Equals(word.ToString(), "or", StringComparison.OrdinalIgnoreCase))
                {
                    words.Add(word.ToString());
                }

                word.Clear();
            }
        }

        return string.Join(" or ", words.Distinct(StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Weight of the full-text leg in the fusion: 2 when the query holds an identifier-like word (letters and digits
    /// such as <c>P34958</c> or <c>ERR42</c>, or a number of 4+ digits), else 1. Why: an embedding model sees
    /// <c>P34958</c> and <c>P34957</c> as nearly the same text, so among many near-identical passages the vector leg
    /// ranks an arbitrary one first and, at equal weights, ties with the one passage that actually holds the
    /// identifier. Users asking for a part, order or error code want that passage; doubling the text leg makes its
    /// exact match outrank any passage found by meaning alone, while passages found by both legs still come first.
    /// </summary>
    internal static decimal TextLegWeight(string query)
    {
        var hasIdentifier = Words().Matches(query).Any(static match =>
            match.Value.Any(char.IsDigit) && (match.Value.Any(char.IsLetter) || match.Length >= 4));
        return hasIdentifier ? 2m : 1m;
    }

    [GeneratedRegex(@"[\p{L}\p{Nd}]+")]
    private static partial Regex Words();

    private static string TraceId() => Activity.Current?.TraceId.ToString() ?? "-";

    private static string FormatScores(IEnumerable<DocumentSearchHit> hits) =>
        "[" + string.Join(", ", hits.Select(h => string.Create(CultureInfo.InvariantCulture,
            $"{h.Similarity?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-"}/{h.Score:0.0000}"))) + "]";

    private static string Truncate(string text, int max) =>
        (text.Length <= max ? text : text[..max] + "…").ReplaceLineEndings(" ");

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Retrieval trace={TraceId} model={Model} top_k={TopK} source={Source} vector={VectorSearch} outcome={Outcome} results={Results} scores(similarity/rrf)={Scores} best={BestSimilarity:0.000} latency_ms={LatencyMs:0.0} query=\"{Query}\"")]
    private partial void LogRetrieval(string traceId, string model, int topK, string source, string vectorSearch, string outcome, int results, string scores,
        double bestSimilarity, double latencyMs, [UserContent] string query);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Low-confidence retrieval trace={TraceId}: best similarity {BestSimilarity:0.000} is under {Threshold:0.000} for {Model}; nothing was offered as a source")]
    private partial void LogLowConfidence(string traceId, double bestSimilarity, double threshold, string model);
}
