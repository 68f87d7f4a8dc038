using System.Diagnostics;
using AspireAi.Core.Common;
using AspireAi.Core.Data;
using AspireAi.Core.Encryption;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace AspireAi.Core.Memory;

/// <summary>A retrieval: whose memories, which scopes, and the query.</summary>
/// <param name="UserId">The user (their user-scope memories, and their session's).</param>
/// <param name="OrgId">The organisation (org-scope memories, and the agent's).</param>
/// <param name="Query">The text to match.</param>
/// <param name="TopK">Results wanted.</param>
/// <param name="Scopes">Scopes to search (empty: all).</param>
/// <param name="Types">Types to search (empty: all).</param>
/// <param name="AgentId">The agent whose shared memories count; null: none.</param>
/// <param name="SessionId">The session whose memories count (the chat passes the conversation id); null: none.</param>
public sealed record MemoryQuery(Guid UserId, Guid OrgId, string Query, int TopK, IReadOnlySet<MemoryScope> Scopes,
    IReadOnlySet<MemoryType> Types, string? AgentId, string? SessionId);

/// <summary>How a score came about (search with explain=true).</summary>
/// <param name="Semantic">Cosine similarity of the query and memory vectors (0 when negative or of another model).</param>
/// <param name="Keyword">Full-text rank, relative to the best keyword match of this query (0..1).</param>
/// <param name="Entity">Share of the query's known entities the memory mentions (0..1).</param>
/// <param name="Fused">Weighted sum of the three.</param>
/// <param name="Recency">decay^days since the memory was updated or last used.</param>
/// <param name="TypeWeight">The memory type's weight.</param>
/// <param name="Score">Fused × recency × type weight.</param>
/// <param name="SemanticRank">1-based position in the semantic list, if it was in it.</param>
/// <param name="KeywordRank">1-based position in the keyword list.</param>
/// <param name="EntityRank">1-based position in the entity list.</param>
/// <param name="KeywordRaw">ts_rank_cd before normalisation.</param>
/// <param name="EntityMatches">Query entities the memory mentions.</param>
/// <param name="AgeDays">Days since the memory was updated or last used.</param>
/// <param name="Weights">The weights used (semantic, keyword, entity).</param>
public sealed record MemoryScoreBreakdown(double Semantic, double Keyword, double Entity, double Fused, double Recency, double TypeWeight, double Score,
    int? SemanticRank, int? KeywordRank, int? EntityRank, double KeywordRaw, int EntityMatches, double AgeDays, IReadOnlyList<double> Weights);

/// <summary>A retrieved memory and its score.</summary>
public sealed record ScoredMemory(Guid Id, MemoryScope Scope, MemoryType Type, string Text, float Importance, string? AgentId, string? SessionId,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? LastAccessedAt, double Score, MemoryScoreBreakdown Breakdown);

/// <summary>Results, best first, and what the retrieval cost.</summary>
public sealed record MemorySearchResult(IReadOnlyList<ScoredMemory> Items, TimeSpan Elapsed, TimeSpan EmbeddingTime, string EmbeddingModel, int Candidates);

/// <summary>
/// Stage 3: hybrid retrieval. Semantic (pgvector HNSW), keyword (full-text, any of the query's words) and entity
/// (entities named in the query) candidates are fetched from Postgres, plus the session's memories from Redis; then
/// fused: (w_s·semantic + w_k·keyword + w_e·entity) × decay^days × type weight, with days
/// since the memory was last updated or used. Every query is filtered to the caller's scopes by scope key.
/// </summary>
public sealed partial class MemoryRetriever(
    NpgsqlDataSource dataSource,
    MemoryEmbedder embedder,
    FieldCipher cipher,
    SessionMemoryStore sessions,
    MemoryStatistics statistics,
    IOptions<MemoryOptions> options,
    TimeProvider time,
    ILogger<MemoryRetriever> logger)
{
    private const string CandidateColumns =
        "m.id, m.scope, m.type, m.text, m.importance, m.agent_id, m.session_id, m.created_at, m.updated_at, m.last_accessed_at";

    // After the score columns: what decrypts m.text (NULL in an encrypted row).
    private const string CipherColumns = "m.key_id, m.text_ct";

    // Searches running in this instance (their Postgres legs): a busy instance shares one round trip among a small
    // scope's legs.
    private int searching;

    public async Task<MemorySearchResult> SearchAsync(MemoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var started = Stopwatch.GetTimestamp();
        var vector = await embedder.EmbedAsync(query.Query, cancellationToken).ConfigureAwait(false);
        var embeddingTime = Stopwatch.GetElapsedTime(started);
        var result = await SearchAsync(query, vector, cancellationToken).ConfigureAwait(false);
        return result with { Elapsed = Stopwatch.GetElapsedTime(started), EmbeddingTime = embeddingTime };
    }

    /// <summary>The search with a vector computed by the caller (benchmarks measure retrieval without embedding time).</summary>
    public async Task<MemorySearchResult> SearchAsync(MemoryQuery query, MemoryVector vector, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(vector);
        using var activity = MemoryMetrics.ActivitySource.StartActivity("memory.retrieve");
        var started = Stopwatch.GetTimestamp();
        var settings = options.Value;
        var scopes = query.Scopes.Count > 0 ? query.Scopes : new HashSet<MemoryScope>(Enum.GetValues<MemoryScope>());
        var types = query.Types.Count > 0 ? [.. query.Types.Select(MemoryNames.Of)] : MemoryNames.AllTypes;
        var keys = new List<string>();
        if (scopes.Contains(MemoryScope.User))
        {
            keys.Add(MemoryScopeRef.ForUser(query.OrgId, query.UserId).Key);
        }
        if (scopes.Contains(MemoryScope.Agent) && !string.IsNullOrEmpty(query.AgentId))
        {
            keys.Add(MemoryScopeRef.ForAgent(query.OrgId, query.AgentId).Key);
        }
        if (scopes.Contains(MemoryScope.Org))
        {
            keys.Add(MemoryScopeRef.ForOrg(query.OrgId).Key);
        }
        var perRetriever = Math.Max(settings.CandidatesPerRetriever, query.TopK);
        var keywordQuery = MemorySql.AnyWordQuery(query.Query);
        var entityNames = EntityCandidates(query.Query);

        var legsTask = keys.Count > 0
            ? DatabaseLegsAsync(query.OrgId, keys, types, vector, query.Query, keywordQuery, entityNames, perRetriever, activity, cancellationToken)
            : Task.FromResult(new DatabaseLegs([], [], []));
        var sessionTask = scopes.Contains(MemoryScope.Session) && !string.IsNullOrEmpty(query.SessionId)
            ? SessionAsync(query.UserId, query.SessionId, types, vector, query.Query, entityNames, cancellationToken)
            : Task.FromResult(new List<Candidate>());
        await Task.WhenAll(legsTask, sessionTask).ConfigureAwait(false);

        var merged = new Dictionary<Guid, Candidate>();
        void Merge(List<Candidate> list, Action<Candidate, Candidate, int> combine)
        {
            for (var i = 0; i < list.Count; i++)
            {
                var item = list[i];
                if (merged.TryGetValue(item.Id, out var existing))
                {
                    combine(existing, item, i + 1);
                }
                else
                {
                    combine(item, item, i + 1);
                    merged[item.Id] = item;
                }
            }
        }
        var (semantic, keyword, entity) = legsTask.Result;
        Merge(semantic, (target, _, rank) => target.SemanticRank = rank);
        Merge(keyword, (target, source, rank) => { target.KeywordRaw = source.KeywordRaw; target.KeywordRank = rank; });
        Merge(entity, (target, source, rank) => { target.EntityMatches = source.EntityMatches; target.EntityCount = source.EntityCount; target.EntityRank = rank; });
        Merge(sessionTask.Result, (_, _, _) => { });

        var maxKeyword = merged.Values.Where(c => !c.FromSession).Select(c => c.KeywordRaw).DefaultIfEmpty(0).Max();
        var now = time.GetUtcNow();
        double[] weights = [settings.SemanticWeight, settings.KeywordWeight, settings.EntityWeight];
        var scored = merged.Values.Select(c =>
        {
            var semanticScore = Math.Max(0, c.Similarity ?? 0);
            var keywordScore = c.FromSession ? c.KeywordRaw : maxKeyword > 0 ? c.KeywordRaw / maxKeyword : 0;
            var entityScore = c.EntityCount > 0 ? Math.Min(1, c.EntityMatches / (double)c.EntityCount) : 0;
            var fused = weights[0] * semanticScore + weights[1] * keywordScore + weights[2] * entityScore;
            var lastTouched = c.LastAccessedAt is { } accessed && accessed > c.UpdatedAt ? accessed : c.UpdatedAt;
            var ageDays = Math.Max(0, (now - lastTouched).TotalDays);
            var recency = Math.Pow(settings.RecencyDecayPerDay, ageDays);
            var typeWeight = settings.WeightOf(c.Type);
            var score = fused * recency * typeWeight;
            return new ScoredMemory(c.Id, c.Scope, c.Type, c.Text, c.Importance, c.AgentId, c.SessionId, c.CreatedAt, c.UpdatedAt, c.LastAccessedAt, score,
                new MemoryScoreBreakdown(semanticScore, keywordScore, entityScore, fused, recency, typeWeight, score,
                    c.SemanticRank, c.KeywordRank, c.EntityRank, c.KeywordRaw, c.EntityMatches, ageDays, weights));
        })
        .OrderByDescending(s => s.Score).ThenByDescending(s => s.UpdatedAt)
        .Take(query.TopK)
        .ToList();
        return new MemorySearchResult(scored, Stopwatch.GetElapsedTime(started), TimeSpan.Zero, vector.Model, merged.Count);
    }

    /// <summary>The user's current memories by importance and recent use: the answer to "what do you know about me?".</summary>
    public async Task<IReadOnlyList<ScoredMemory>> ProfileAsync(Guid userId, Guid orgId, int limit, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var select = new NpgsqlBatchCommand($"""
            SELECT {CandidateColumns}, NULL::double precision, 0::real, 0, 0, {CipherColumns}
            FROM memories m
            WHERE m.scope_key = $1 AND {MemorySql.Current}
            ORDER BY m.importance DESC, greatest(m.updated_at, coalesce(m.last_accessed_at, m.updated_at)) DESC
            LIMIT $2
            """);
        select.Parameters.Add(new() { Value = MemoryScopeRef.ForUser(orgId, userId).Key });
        select.Parameters.Add(new() { Value = limit });
        batch.BatchCommands.Add(select);
        var rows = await ReadCandidatesAsync(batch, cancellationToken).ConfigureAwait(false);
        var settings = options.Value;
        return [.. rows.Select(c =>
        {
            // Ranked by importance alone: no query term to match. The breakdown says so (all similarity parts are 0).
            var score = c.Importance * settings.WeightOf(c.Type) * settings.MinScoreFor(embedder.CurrentModel);
            return new ScoredMemory(c.Id, c.Scope, c.Type, c.Text, c.Importance, c.AgentId, c.SessionId, c.CreatedAt, c.UpdatedAt, c.LastAccessedAt, score,
                new MemoryScoreBreakdown(0, 0, 0, 0, 1, settings.WeightOf(c.Type), score, null, null, null, 0, 0, 0,
                    [settings.SemanticWeight, settings.KeywordWeight, settings.EntityWeight]));
        })];
    }

    /// <summary>
    /// The three Postgres legs. A small scope (<see cref="MemoryOptions.OneRoundTripMaxScopeRows"/>), ranked exactly, has
    /// them run one after the other in one batch on one connection while other searches run: each statement then takes
    /// less than a round trip and a connection's wake-up, which three concurrent legs pay three times, in the Api and in
    /// Postgres. A search alone, a larger scope, or one of unknown size, has them run concurrently on three connections,
    /// so that the slowest alone sets the time.
    /// </summary>
    private async Task<DatabaseLegs> DatabaseLegsAsync(Guid orgId, List<string> keys, string[] types, MemoryVector vector, string query,
        string keywordQuery, string[] entityNames, int limit, Activity? activity, CancellationToken cancellationToken)
    {
        var others = Interlocked.Increment(ref searching) - 1;
        try
        {
            return await DatabaseLegsAsync(orgId, keys, types, vector, query, keywordQuery, entityNames, limit, others, activity, cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref searching);
        }
    }

    private async Task<DatabaseLegs> DatabaseLegsAsync(Guid orgId, List<string> keys, string[] types, MemoryVector vector, string query,
        string keywordQuery, string[] entityNames, int limit, int otherSearches, Activity? activity, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var hnsw = MemoryHnswSettings.From(settings);
        var size = await statistics.ScopeSizeAsync(keys, cancellationToken).ConfigureAwait(false);
        var plan = MemorySemanticQuery.Choose(size, limit, hnsw);
        var oneTrip = plan == MemorySemanticPlan.Exact && size is { } known && known.ScopeRows <= settings.OneRoundTripMaxScopeRows
            && otherSearches >= settings.OneRoundTripMinOtherSearches;
        activity?.SetTag("aspireai.memory.legs", oneTrip ? "one_round_trip" : "concurrent");
        if (!oneTrip)
        {
            var semanticTask = SearchInTransactionAsync(batch => AddSemantic(batch, keys, types, vector, limit, hnsw, plan), cancellationToken);
            var keywordTask = keywordQuery.Length > 0
                ? KeywordAsync(orgId, keys, types, vector, query, keywordQuery, limit, cancellationToken) : Task.FromResult(new List<Candidate>());
            var entityTask = entityNames.Length > 0
                ? SearchAsync(EntityCommand(keys, types, vector, entityNames, limit), cancellationToken) : Task.FromResult(new List<Candidate>());
            await Task.WhenAll(semanticTask, keywordTask, entityTask).ConfigureAwait(false);
            return new(semanticTask.Result, keywordTask.Result, entityTask.Result);
        }

        var keyword = keywordQuery.Length > 0
            ? await KeywordCommandAsync(orgId, keys, types, vector, query, keywordQuery, limit, cancellationToken).ConfigureAwait(false)
            : null;
        var lists = await LegsInTransactionAsync(batch =>
        {
            AddSemantic(batch, keys, types, vector, limit, hnsw, plan);
            // Each of the next statements is planned as on its own connection: the keyword leg once (its generic plan,
            // still set), with sequential scans allowed; the entity leg by PostgreSQL's own choice.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_seqscan = DEFAULT"));
            if (keyword is not null)
            {
                batch.BatchCommands.Add(keyword);
            }
            if (entityNames.Length > 0)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(PlanCache.DefaultPlans));
                batch.BatchCommands.Add(EntityCommand(keys, types, vector, entityNames, limit));
            }
        }, cancellationToken).ConfigureAwait(false);
        var next = 1;
        return new(lists[0], keyword is not null ? lists[next++] : [], entityNames.Length > 0 ? lists[next] : []);
    }

    private static void AddSemantic(NpgsqlBatch batch, List<string> keys, string[] types, MemoryVector vector, int limit, MemoryHnswSettings hnsw, MemorySemanticPlan plan) =>
        MemorySemanticQuery.Add(batch, hnsw, $"{CandidateColumns}, 1 - (m.embedding <=> $1) AS similarity, 0::real, 0, 0, {CipherColumns}",
            vector, keys, types, limit, plan);

    // Planned once per connection: both GIN indexes lead with the scope key, so the one plan PostgreSQL makes without
    // the values (the two GIN scans, OR-ed) serves a scope of 3 memories and one of 100,000 alike (measured on the
    // 1M-memory data: 0.04 ms to plan it again, against 0.4-0.5 ms for a plan for the values). Left to itself,
    // PostgreSQL kept planning it on every call (the generic plan looks costlier than the custom ones), most of
    // the leg's time.
    private async Task<List<Candidate>> KeywordAsync(Guid orgId, List<string> keys, string[] types, MemoryVector vector, string query, string keywordQuery,
        int limit, CancellationToken cancellationToken)
    {
        var select = await KeywordCommandAsync(orgId, keys, types, vector, query, keywordQuery, limit, cancellationToken).ConfigureAwait(false);
        return await SearchInTransactionAsync(batch =>
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(PlanCache.GenericPlans));
            batch.BatchCommands.Add(select);
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlBatchCommand> KeywordCommandAsync(Guid orgId, List<string> keys, string[] types, MemoryVector vector, string query,
        string keywordQuery, int limit, CancellationToken cancellationToken)
    {
        // Encrypted memories are found through their blind index (the keyed HMACs of their words, see FieldCipher.Tokens)
        // and ranked by the share of the query's words they contain; plain rows left from before encryption still
        // match through their full-text vector. The inner LIMIT bounds the ranking work when a word is very common, and
        // words in very many memories only rank the rows the others find (MemoryStatistics).
        var tokens = await cipher.TokensAsync(orgId, query, cancellationToken).ConfigureAwait(false);
        var match = await statistics.MatchAsync(tokens, keys, cancellationToken).ConfigureAwait(false);
        // The similarity is computed for the ranked LIMIT rows only, not for every match: reading a row's embedding
        // costs a TOAST lookup when the row is stored out of line (rows written before migration 0023).
        var select = new NpgsqlBatchCommand($"""
            SELECT {CandidateColumns},
                   CASE WHEN m.embedding_model = $3 THEN 1 - (m.embedding <=> $2) END AS similarity,
                   m.rank, 0, 0, {CipherColumns}
            FROM (
                SELECT m.*,
                       CASE WHEN m.key_id IS NULL THEN ts_rank_cd(m.tsv, m.query)
                            ELSE (SELECT count(*) FROM unnest(m.text_bi) t WHERE t = ANY($8))::real / greatest(cardinality($8), 1) END AS rank
                FROM (
                    SELECT m.*, q AS query FROM memories m, to_tsquery('english', $1) q
                    WHERE (m.text_bi {match.Operator} $9 OR m.tsv @@ q) AND m.scope_key = ANY($4) AND {MemorySql.Current} AND m.type = ANY($5)
                    LIMIT $6
                ) m
                ORDER BY rank DESC, m.updated_at DESC
                LIMIT $7
            ) m
            ORDER BY m.rank DESC, m.updated_at DESC
            """);
        select.Parameters.Add(new() { Value = keywordQuery });
        select.Parameters.Add(MemorySql.Vector(vector.Values));
        select.Parameters.Add(new() { Value = vector.Model });
        select.Parameters.Add(MemorySql.TextArray(keys));
        select.Parameters.Add(MemorySql.TextArray(types));
        select.Parameters.Add(new() { Value = options.Value.MatchScanLimit });
        select.Parameters.Add(new() { Value = limit });
        select.Parameters.Add(MemorySql.Bytes(tokens));
        select.Parameters.Add(MemorySql.Bytes(match.Tokens));
        return select;
    }

    private NpgsqlBatchCommand EntityCommand(List<string> keys, string[] types, MemoryVector vector, string[] names, int limit)
    {
        var select = new NpgsqlBatchCommand($"""
            WITH ent AS (SELECT id FROM entities WHERE normalized_name = ANY($1)),
            links AS (
                SELECT me.memory_id FROM memory_entities me JOIN ent ON ent.id = me.entity_id
                WHERE me.scope_key = ANY($2)
                LIMIT $6
            ),
            hits AS (SELECT memory_id, count(*)::int AS matches FROM links GROUP BY memory_id),
            -- The similarity only for the LIMIT rows kept, as in the keyword leg.
            top AS (
                SELECT m.*, hits.matches FROM hits JOIN memories m ON m.id = hits.memory_id
                WHERE {MemorySql.Current} AND m.type = ANY($5)
                ORDER BY hits.matches DESC, m.updated_at DESC
                LIMIT $7
            )
            SELECT {CandidateColumns},
                   CASE WHEN m.embedding_model = $4 THEN 1 - (m.embedding <=> $3) END AS similarity,
                   0::real, m.matches, (SELECT count(*)::int FROM ent), {CipherColumns}
            FROM top m
            ORDER BY m.matches DESC, m.updated_at DESC
            """);
        select.Parameters.Add(MemorySql.TextArray(names));
        select.Parameters.Add(MemorySql.TextArray(keys));
        select.Parameters.Add(MemorySql.Vector(vector.Values));
        select.Parameters.Add(new() { Value = vector.Model });
        select.Parameters.Add(MemorySql.TextArray(types));
        select.Parameters.Add(new() { Value = options.Value.MatchScanLimit });
        select.Parameters.Add(new() { Value = limit });
        return select;
    }

    // Session memories live in Redis: score them here, the same way. An unreachable Redis costs the session's
    // memories for this turn, not the turn.
    private async Task<List<Candidate>> SessionAsync(Guid userId, string sessionId, string[] types, MemoryVector vector, string query, string[] entityNames,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<SessionMemoryEntry> entries;
        try
        {
            entries = await sessions.ReadAsync(userId, sessionId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogSessionUnavailable(ex);
            return [];
        }
        var queryWords = MemoryText.ContentWords(query);
        var candidates = new List<Candidate>();
        foreach (var entry in entries.Where(e => types.Contains(MemoryNames.Of(e.Type))))
        {
            var text = " " + string.Join(' ', MemoryText.Words(entry.Text)) + " ";
            candidates.Add(new Candidate
            {
                Id = entry.Id,
                Scope = MemoryScope.Session,
                Type = entry.Type,
                Text = entry.Text,
                Importance = entry.Importance,
                SessionId = sessionId,
                CreatedAt = entry.UpdatedAt,
                UpdatedAt = entry.UpdatedAt,
                LastAccessedAt = entry.LastAccessedAt,
                FromSession = true,
                Similarity = entry.EmbeddingModel == vector.Model && entry.Embedding.Length == vector.Values.Length
                    ? System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(vector.Values, entry.Embedding) : null,
                KeywordRaw = queryWords.Count == 0 ? 0 : MemoryText.Containment(queryWords, MemoryText.ContentWords(entry.Text)),
                EntityMatches = entityNames.Count(name => text.Contains(" " + name + " ", StringComparison.Ordinal)),
                EntityCount = entityNames.Length,
            });
        }
        return [.. candidates.OrderByDescending(c => c.Similarity ?? 0)];
    }

    // The entity leg: look-ups by entity serve a scope of 3 memories and one of 100,000 alike, and PostgreSQL's own
    // choice settles on a generic plan (planning it on every call was most of its time). No SET LOCAL, so no
    // transaction, and no COMMIT round trip.
    private async Task<List<Candidate>> SearchAsync(NpgsqlBatchCommand select, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(select);
        return await ReadCandidatesAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    // A leg's batch in its own transaction, which its SET LOCALs need: BEGIN … COMMIT in one pipelined batch, so one
    // round trip (a read-only COMMIT waits for nothing). A batch that fails leaves its transaction open, and the pool
    // rolls it back when the connection returns (as for the Workers' claims).
    private async Task<List<Candidate>> SearchInTransactionAsync(Action<NpgsqlBatch> fill, CancellationToken cancellationToken) =>
        [.. (await LegsInTransactionAsync(fill, cancellationToken).ConfigureAwait(false)).SelectMany(leg => leg)];

    // The same, one list per SELECT the batch holds (the one-round-trip search's three legs).
    private async Task<List<List<Candidate>>> LegsInTransactionAsync(Action<NpgsqlBatch> fill, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
        fill(batch);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        return await ReadLegsAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    private async Task<List<Candidate>> ReadCandidatesAsync(NpgsqlBatch batch, CancellationToken cancellationToken) =>
        [.. (await ReadLegsAsync(batch, cancellationToken).ConfigureAwait(false)).SelectMany(leg => leg)];

    // One list per SELECT of the batch, in its order.
    private async Task<List<List<Candidate>>> ReadLegsAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        var legs = new List<List<Candidate>>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        do
        {
            if (reader.FieldCount < 14)
            {
                continue; // the SET LOCAL results
            }
            var candidates = new List<Candidate>();
            legs.Add(candidates);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add(new Candidate
                {
                    Id = reader.GetGuid(0),
                    Scope = MemoryNames.ParseScope(reader.GetString(1)),
                    Type = MemoryNames.ParseType(reader.GetString(2)),
                    Text = await cipher.OpenAsync(MemorySql.ReadText(reader, 3, 14, 15), EncryptedField.MemoryText, reader.GetGuid(0), cancellationToken)
                        .ConfigureAwait(false),
                    Importance = reader.GetFloat(4),
                    AgentId = reader.IsDBNull(5) ? null : reader.GetString(5),
                    SessionId = reader.IsDBNull(6) ? null : reader.GetString(6),
                    CreatedAt = reader.GetFieldValue<DateTimeOffset>(7),
                    UpdatedAt = reader.GetFieldValue<DateTimeOffset>(8),
                    LastAccessedAt = reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                    Similarity = reader.IsDBNull(10) ? null : reader.GetDouble(10),
                    KeywordRaw = reader.GetFloat(11),
                    EntityMatches = reader.GetInt32(12),
                    EntityCount = reader.GetInt32(13),
                });
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        return legs;
    }

    /// <summary>
    /// Names the query might mention: its word n-grams (1 to 3 words) that are not only stopwords, normalised as
    /// entity names are. Only those that exist in the entity index match anything.
    /// </summary>
    internal static string[] EntityCandidates(string query)
    {
        var words = MemoryText.Words(query);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var n = 1; n <= 3; n++)
        {
            for (var i = 0; i + n <= words.Length; i++)
            {
                var gram = words.AsSpan(i, n);
                var hasContent = false;
                foreach (var word in gram)
                {
                    hasContent |= word.Length > 1 && !TextNormalizer.IsStopword(word);
                }
                if (hasContent)
                {
                    names.Add(string.Join(' ', gram.ToArray()));
                }
            }
        }
        return [.. names.Take(64)];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session memory is unavailable (Redis); retrieving without it")]
    private partial void LogSessionUnavailable(Exception exception);

    private sealed record DatabaseLegs(List<Candidate> Semantic, List<Candidate> Keyword, List<Candidate> Entity);

    private sealed class Candidate
    {
        public Guid Id { get; init; }
        public MemoryScope Scope { get; init; }
        public MemoryType Type { get; init; }
        public required string Text { get; init; }
        public float Importance { get; init; }
        public string? AgentId { get; init; }
        public string? SessionId { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset UpdatedAt { get; init; }
        public DateTimeOffset? LastAccessedAt { get; init; }
        public double? Similarity { get; init; }
        public bool FromSession { get; init; }
        public double KeywordRaw { get; set; }
        public int EntityMatches { get; set; }
        public int EntityCount { get; set; }
        public int? SemanticRank { get; set; }
        public int? KeywordRank { get; set; }
        public int? EntityRank { get; set; }
    }
}
