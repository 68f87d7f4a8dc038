using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using AspireAi.Core.Encryption;
using AspireAi.Core.Identity;
using AspireAi.Core.Llm;
using AspireAi.Offline;
using AspireAi.Core.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Pgvector;

namespace AspireAi.Bench.Memory;

/// <summary>
/// Memory search latency at scale: <c>--total</c> memories (default 1,000,000), <c>--scope</c> of them (default
/// 100,000) in one user's scope and the rest spread over users of <c>--per-user</c> memories each, bulk-loaded with
/// binary COPY (vectors from the offline embedder) and indexed afterwards. Then the full hybrid retrieval of
/// <see cref="MemoryRetriever"/> (semantic, keyword and entity queries concurrently, fused) is timed for
/// <c>--queries</c> questions, excluding the embedding of the question; also the semantic query alone, a small
/// user's search among the same million rows, and the recall@10 of the HNSW index against exact search.
/// </summary>
internal static class MemorySearchHarness
{
    private const string MainEmail = "main@memory.bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var total = Int(args, "--total", 1_000_000);
        var scope = Int(args, "--scope", 100_000);
        var perUser = Int(args, "--per-user", 100);
        var queries = Int(args, "--queries", 1_000);
        var probes = Int(args, "--recall-probes", 200);
        var directory = Option(args, "--data-dir");
        var (offlineEmbedder, model) = (Option(args, "--embedder") ?? "hashing") switch
        {
            "minilm" => (OfflineEmbedder.MiniLM, OfflineModels.EmbeddingModelId),
            "minilm-int8" => (OfflineEmbedder.MiniLMInt8, OfflineModels.QuantizedEmbeddingModelId),
            "hashing" => (OfflineEmbedder.Hashing, OfflineModels.HashingEmbeddingModelId),
            var other => throw new ArgumentException($"--embedder must be minilm, minilm-int8 or hashing, not {other}."),
        };
        var miniLm = offlineEmbedder != OfflineEmbedder.Hashing;
        Console.WriteLine($"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
        // --set Memory:Key=value overrides a memory option (e.g. Memory:HnswEfSearch=200).
        var settings = args.Select((a, i) => (a, i)).Where(p => p.a == "--set" && p.i + 1 < args.Length)
            .Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1]);
        // Questions are embedded by the model the rows were loaded with. The hashing embedder loads a million rows in
        // minutes; MiniLM (--embedder minilm) is the product's default and the one recall is meant for.
        settings.TryAdd("Llm:Offline:Embedder", offlineEmbedder.ToString());
        // Each timed search that includes its embedding must really embed (repeated questions would hit the cache).
        settings.TryAdd("Llm:QueryEmbeddingCacheDuration", "00:00:00");
        await using var stack = await MemoryBenchStack.StartAsync(directory, args.Contains("--keep"), settings);
        var dataSource = stack.DataSource;

        Func<Task<MiniLmMemoryData>>? miniLmData = miniLm
            ? () => MiniLmMemoryData.BuildAsync(scope, Int(args, "--pool", 50_000),
                double.Parse(Option(args, "--jitter") ?? "0.01", CultureInfo.InvariantCulture), directory, offlineEmbedder)
            : null;
        var (orgId, mainUser, smallUser) = await EnsureLoadedAsync(dataSource, stack.Services.GetRequiredService<FieldCipher>(), total, scope, perUser,
            model, miniLmData);
        await PrintSizesAsync(dataSource);
        // A server that has been serving these users holds the table and its indexes in memory; a benchmark that
        // has just restarted PostgreSQL would otherwise measure disk reads of a cold cache.
        var prewarm = Stopwatch.StartNew();
        await using (var warm = dataSource.CreateCommand("""
            CREATE EXTENSION IF NOT EXISTS pg_prewarm;
            SELECT pg_prewarm('memories'), pg_prewarm('memories_embedding_idx'), pg_prewarm('memories_tsv_idx'), pg_prewarm('memories_text_bi_idx'),
                   pg_prewarm('memory_entities'), pg_prewarm('memory_entities_entity_scope_idx'), pg_prewarm('memories_pkey'),
                   pg_prewarm('entities');
            """))
        {
            warm.CommandTimeout = 0;
            await warm.ExecuteNonQueryAsync();
        }
        Console.WriteLine($"Prewarmed the table and its indexes into shared_buffers in {prewarm.Elapsed.TotalSeconds:F0} s.");

        var retriever = stack.Services.GetRequiredService<MemoryRetriever>();
        var embedder = stack.Services.GetRequiredService<MemoryEmbedder>();
        var production = MemoryHnswSettings.From(stack.Services.GetRequiredService<IOptions<MemoryOptions>>().Value);
        Console.WriteLine($"Model {embedder.CurrentModel}; semantic leg settings: {Describe(production)}");
        var generator = new SyntheticMemories(seed: 424242);
        var texts = Enumerable.Range(0, queries + 100).Select(_ => generator.Query()).ToList();
        var embedStart = Stopwatch.GetTimestamp();
        var vectors = await embedder.EmbedAsync(texts, CancellationToken.None);
        var embedMs = Stopwatch.GetElapsedTime(embedStart).TotalMilliseconds / texts.Count;
        Console.WriteLine($"Embedding of a question, batched: {embedMs:F3} ms (excluded from the timings without embedding)");
        await PrintPlansAsync(dataSource, stack.Services.GetRequiredService<MemoryStatistics>(), production, mainUser, smallUser, orgId, vectors[0]);

        // Recall probes: questions, and texts that read like memories (as a user's statements and the recall
        // monitor's samples do). The exact top 10 of each is computed once and compared with every setting.
        var keys = ScopeKeys(mainUser, orgId);
        var questionProbes = vectors.Skip(100).Take(probes).ToList();
        var memoryLikeProbes = (await embedder.EmbedAsync([.. Enumerable.Range(0, probes).Select(_ => generator.Next().Text)], CancellationToken.None)).ToList();
        var exactStart = Stopwatch.GetTimestamp();
        var exactQuestions = new List<List<double>>();
        foreach (var probe in questionProbes)
        {
            exactQuestions.Add(await SemanticDistancesAsync(dataSource, production, keys, probe, MemorySemanticPlan.Exact));
        }
        var exactMemoryLike = new List<List<double>>();
        foreach (var probe in memoryLikeProbes)
        {
            exactMemoryLike.Add(await SemanticDistancesAsync(dataSource, production, keys, probe, MemorySemanticPlan.Exact));
        }
        Console.WriteLine($"Exact top 10 of {2 * probes} probes in the {scope:N0}-memory scope: " +
            $"{Stopwatch.GetElapsedTime(exactStart).TotalMilliseconds / (2 * probes):F1} ms each (every row of the scope ranked, the ground truth)");

        if (args.Contains("--sweep"))
        {
            var sweepQueries = Int(args, "--sweep-queries", 300);
            Console.WriteLine();
            Console.WriteLine($"Semantic leg alone by setting: recall@10 against exact search ({probes} questions / {probes} memory-like texts, ties " +
                $"counted as hits) and latency over {sweepQueries} questions");
            Console.WriteLine("| ef_search | iterative scan | max_scan_tuples | over-fetch | recall@10 questions | recall@10 memory-like | p50 ms | p95 ms | p99 ms |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var setting in SweepSettings(Option(args, "--sweep-settings")))
            {
                var sweepQuestions = await RecallAsync(dataSource, setting, keys, questionProbes, exactQuestions);
                var sweepMemoryLike = await RecallAsync(dataSource, setting, keys, memoryLikeProbes, exactMemoryLike);
                var latency = new List<double>();
                for (var i = 0; i < 20; i++)
                {
                    await SemanticOnlyAsync(dataSource, setting, keys, vectors[i]);
                }
                for (var i = 100; i < Math.Min(texts.Count, 100 + sweepQueries); i++)
                {
                    latency.Add(await SemanticOnlyAsync(dataSource, setting, keys, vectors[i]));
                }
                latency.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {setting.EfSearch} | {Name(setting.IterativeScan)} | {setting.MaxScanTuples} | {setting.Overfetch} | {sweepQuestions:P1} | {sweepMemoryLike:P1} | " +
                    $"{Percentile(latency, 0.50):F2} | {Percentile(latency, 0.95):F2} | {Percentile(latency, 0.99):F2} |"));
            }
            Console.WriteLine();
        }

        MemoryQuery Query(Guid user, int i) => new(user, orgId, texts[i], 10, new HashSet<MemoryScope>(), new HashSet<MemoryType>(), "default", null);
        // Warm-up: JIT, connection pool, catalog caches of the pooled connections, the embedding model.
        for (var i = 0; i < 100; i++)
        {
            await retriever.SearchAsync(Query(mainUser, i), vectors[i], CancellationToken.None);
            await retriever.SearchAsync(Query(mainUser, i), CancellationToken.None);
        }

        var hybrid = new List<double>();
        var hits = 0;
        for (var i = 100; i < texts.Count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var result = await retriever.SearchAsync(Query(mainUser, i), vectors[i], CancellationToken.None);
            hybrid.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            hits += result.Items.Count > 0 ? 1 : 0;
        }
        // The whole search as the chat runs it: the question's embedding (uncached), then the hybrid retrieval.
        var withEmbedding = new List<double>();
        var embeddingOnly = new List<double>();
        for (var i = 100; i < texts.Count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var result = await retriever.SearchAsync(Query(mainUser, i), CancellationToken.None);
            withEmbedding.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            embeddingOnly.Add(result.EmbeddingTime.TotalMilliseconds);
        }
        var semantic = new List<double>();
        for (var i = 100; i < texts.Count; i++)
        {
            semantic.Add(await SemanticOnlyAsync(dataSource, production, keys, vectors[i]));
        }
        var small = new List<double>();
        for (var i = 100; i < texts.Count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await retriever.SearchAsync(Query(smallUser, i), vectors[i], CancellationToken.None);
            small.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        var concurrent = await ConcurrentAsync(retriever, texts, vectors, mainUser, orgId, clients: 4);
        var recall = await RecallAsync(dataSource, production, keys, questionProbes, exactQuestions);
        var recallMemoryLike = await RecallAsync(dataSource, production, keys, memoryLikeProbes, exactMemoryLike);

        Console.WriteLine();
        Console.WriteLine($"| search ({total:N0} memories, {scope:N0} in the user's scope, {embedder.CurrentModel}) | queries | p50 ms | p95 ms | p99 ms | mean ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine(Row("hybrid (semantic + keyword + entity, fused), 100k-memory user, embedding excluded", hybrid));
        Console.WriteLine(Row("hybrid including the question's embedding (uncached)", withEmbedding));
        Console.WriteLine(Row("  of which the embedding", embeddingOnly));
        Console.WriteLine(Row("semantic query alone (HNSW), 100k-memory user", semantic));
        Console.WriteLine(Row($"hybrid, {perUser}-memory user among the same rows", small));
        Console.WriteLine(Row("hybrid, 4 concurrent clients, 100k-memory user", concurrent));
        Console.WriteLine();
        Console.WriteLine($"Queries with results: {hits}/{hybrid.Count}. Semantic leg recall@10 against exact search ({Describe(production)}, ties counted " +
            $"as hits): {recall:P1} for {probes} questions, {recallMemoryLike:P1} for {probes} memory-like texts");
        await PrintKeywordMatchesAsync(stack.Services, orgId, keys, texts.Skip(100));
        return 0;
    }

    // How the keyword leg found rows for the timed questions: common words (Memory:KeywordCommonWordMatches) only rank.
    private static async Task PrintKeywordMatchesAsync(IServiceProvider services, Guid orgId, IReadOnlyCollection<string> keys, IEnumerable<string> questions)
    {
        var cipher = services.GetRequiredService<FieldCipher>();
        var common = services.GetRequiredService<MemoryStatistics>();
        int every = 0, rare = 0, all = 0, none = 0;
        foreach (var question in questions)
        {
            var tokens = await cipher.TokensAsync(orgId, question, CancellationToken.None);
            var match = await common.MatchAsync(tokens, keys, CancellationToken.None);
            if (match.Tokens.Length == tokens.Length && !match.RequireAll)
            {
                every++;
            }
            else if (match.RequireAll)
            {
                all++;
            }
            else if (match.Tokens.Length > 0)
            {
                rare++;
            }
            else
            {
                none++;
            }
        }
        var limit = services.GetRequiredService<IOptions<MemoryOptions>>().Value.KeywordCommonWordMatches;
        Console.WriteLine($"Keyword leg (KeywordCommonWordMatches {limit:N0}): every word finds in {every} questions; the rare words find and the " +
            $"common ones only rank in {rare}; only common words, rows holding all of them in {all}; one common word, no keyword search, in {none}");
    }

    private static string Describe(MemoryHnswSettings settings) => string.Create(CultureInfo.InvariantCulture,
        $"ef_search {settings.EfSearch}, iterative_scan {Name(settings.IterativeScan)}, max_scan_tuples {settings.MaxScanTuples}, over-fetch {settings.Overfetch}");

    private static string Name(MemoryIterativeScan scan) => scan == MemoryIterativeScan.StrictOrder ? "strict_order" : "relaxed_order";

    // "ef:mode:max_scan_tuples:overfetch" items separated by commas; by default a grid around the product's settings.
    private static IEnumerable<MemoryHnswSettings> SweepSettings(string? list)
    {
        if (list is not null)
        {
            foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = item.Split(':');
                yield return new MemoryHnswSettings(int.Parse(parts[0], CultureInfo.InvariantCulture),
                    parts[1].StartsWith('s') ? MemoryIterativeScan.StrictOrder : MemoryIterativeScan.RelaxedOrder,
                    int.Parse(parts[2], CultureInfo.InvariantCulture), int.Parse(parts[3], CultureInfo.InvariantCulture));
            }
            yield break;
        }
        foreach (var mode in new[] { MemoryIterativeScan.RelaxedOrder, MemoryIterativeScan.StrictOrder })
        {
            foreach (var ef in new[] { 40, 100, 200, 400 })
            {
                yield return new MemoryHnswSettings(ef, mode, 20_000, 1);
            }
        }
        foreach (var ef in new[] { 40, 100, 200 })
        {
            yield return new MemoryHnswSettings(ef, MemoryIterativeScan.RelaxedOrder, 20_000, 4);
        }
        yield return new MemoryHnswSettings(100, MemoryIterativeScan.RelaxedOrder, 5_000, 1);
        yield return new MemoryHnswSettings(100, MemoryIterativeScan.RelaxedOrder, 100_000, 1);
    }

    private static List<string> ScopeKeys(Guid user, Guid orgId) =>
        [MemoryScopeRef.ForUser(orgId, user).Key, MemoryScopeRef.ForAgent(orgId, "default").Key, MemoryScopeRef.ForOrg(orgId).Key];

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static string Row(string name, List<double> values)
    {
        values.Sort();
        return string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {values.Count} | {Percentile(values, 0.50):F2} | {Percentile(values, 0.95):F2} | {Percentile(values, 0.99):F2} | {values.Average():F2} |");
    }

    private static async Task<List<double>> ConcurrentAsync(MemoryRetriever retriever, List<string> texts, IReadOnlyList<MemoryVector> vectors,
        Guid user, Guid orgId, int clients)
    {
        var timings = new List<double>();
        var next = 99;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < texts.Count)
            {
                var started = Stopwatch.GetTimestamp();
                await retriever.SearchAsync(new MemoryQuery(user, orgId, texts[i], 10, new HashSet<MemoryScope>(), new HashSet<MemoryType>(), "default", null),
                    vectors[i], CancellationToken.None);
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (timings)
                {
                    timings.Add(elapsed);
                }
            }
        })));
        return timings;
    }

    // The semantic leg's statement exactly as MemoryRetriever sends it (same SQL builder and settings).
    private static async Task<double> SemanticOnlyAsync(NpgsqlDataSource dataSource, MemoryHnswSettings settings, List<string> keys, MemoryVector vector)
    {
        var started = Stopwatch.GetTimestamp();
        await SemanticDistancesAsync(dataSource, settings, keys, vector, MemorySemanticPlan.Index);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    // Tie-aware recall@10: an approximate result counts when it is as close as the exact 10th neighbour (with the
    // hashing embedder many memories tie at the same distance, and which of them the exact search lists is arbitrary).
    private static async Task<double> RecallAsync(NpgsqlDataSource dataSource, MemoryHnswSettings settings, List<string> keys, List<MemoryVector> probes,
        List<List<double>> exact)
    {
        double found = 0;
        for (var i = 0; i < probes.Count; i++)
        {
            var approximate = await SemanticDistancesAsync(dataSource, settings, keys, probes[i], MemorySemanticPlan.Index);
            var tenth = exact[i].Count == 0 ? 0 : exact[i][^1];
            found += exact[i].Count == 0 ? 1 : Math.Min(exact[i].Count, approximate.Count(d => d <= tenth + 1e-6)) / (double)exact[i].Count;
        }
        return found / probes.Count;
    }

    private static async Task<List<double>> SemanticDistancesAsync(NpgsqlDataSource dataSource, MemoryHnswSettings settings, List<string> keys,
        MemoryVector vector, MemorySemanticPlan plan)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var batch = new NpgsqlBatch(connection, transaction);
        MemorySemanticQuery.Add(batch, settings, "m.id, m.text_ct, m.embedding <=> $1", vector, keys, MemoryNames.AllTypes, 10, plan);
        var distances = new List<double>();
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            do
            {
                while (reader.FieldCount == 3 && await reader.ReadAsync())
                {
                    distances.Add(reader.GetDouble(2));
                }
            }
            while (await reader.NextResultAsync());
        }
        await transaction.CommitAsync();
        distances.Sort();
        return distances;
    }

    private static async Task PrintPlansAsync(NpgsqlDataSource dataSource, MemoryStatistics statistics, MemoryHnswSettings settings, Guid mainUser,
        Guid smallUser, Guid orgId, MemoryVector vector)
    {
        foreach (var (label, user) in new[] { ("100k-memory user", mainUser), ("small user", smallUser) })
        {
            // The product's own statement, with the plan it chooses for the scope, explained.
            var keys = ScopeKeys(user, orgId);
            var size = await statistics.ScopeSizeAsync(keys, CancellationToken.None);
            var chosen = MemorySemanticQuery.Choose(size, 10, settings);
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using var batch = new NpgsqlBatch(connection, transaction);
            MemorySemanticQuery.Add(batch, settings, "m.id", vector, keys, MemoryNames.AllTypes, 10, chosen);
            var select = batch.BatchCommands[^1];
            select.CommandText = "EXPLAIN " + select.CommandText;
            var plan = new List<string>();
            await using (var reader = await batch.ExecuteReaderAsync())
            {
                do
                {
                    while (await reader.ReadAsync())
                    {
                        plan.Add(reader.GetString(0).Trim());
                    }
                }
                while (await reader.NextResultAsync());
            }
            var scans = plan.Where(l => l.Contains(" Scan ", StringComparison.Ordinal)).Select(l => l[..l.IndexOf("  (", StringComparison.Ordinal)].TrimStart('-', '>', ' '));
            Console.WriteLine($"Semantic plan, {label} (~{size?.ScopeRows:N0} of ~{size?.TableRows:N0} rows by the statistics): {chosen}, {string.Join(" / ", scans)}");
        }
    }

    private static async Task PrintSizesAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT pg_size_pretty(pg_table_size('memories')), pg_size_pretty(pg_relation_size('memories_embedding_idx')),
                   pg_size_pretty(pg_relation_size('memories_text_bi_idx')), (SELECT count(*) FROM memory_entities), (SELECT count(*) FROM entities)
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Console.WriteLine($"Table {reader.GetString(0)}, HNSW index {reader.GetString(1)}, blind-index GIN {reader.GetString(2)}, {reader.GetInt64(3):N0} entity links, {reader.GetInt64(4):N0} entities");
    }

    // Loads once; a kept data directory already holding the same shape is reused.
    private static async Task<(Guid OrgId, Guid MainUser, Guid SmallUser)> EnsureLoadedAsync(NpgsqlDataSource dataSource, FieldCipher cipher, int total, int scope,
        int perUser, string model, Func<Task<MiniLmMemoryData>>? miniLmData)
    {
        // Only encrypted rows of the same model count: data loaded before encryption at rest is loaded again (it
        // searched another index), and so is data of the other embedder.
        await using (var check = dataSource.CreateCommand("""
            SELECT u.id, u.org_id, (SELECT count(*) FROM memories WHERE key_id IS NOT NULL AND embedding_model = $2) FROM users u WHERE u.email = $1
            """))
        {
            check.Parameters.Add(new() { Value = MainEmail });
            check.Parameters.Add(new() { Value = model });
            await using var reader = await check.ExecuteReaderAsync();
            if (await reader.ReadAsync() && reader.GetInt64(2) == total)
            {
                var (main, org) = (reader.GetGuid(0), reader.GetGuid(1));
                await reader.DisposeAsync();
                Console.WriteLine($"Reusing the loaded data: {total:N0} memories.");
                return (org, main, await SmallUserAsync(dataSource));
            }
        }

        await using (var existing = dataSource.CreateCommand("SELECT count(*) FROM users WHERE email = $1"))
        {
            existing.Parameters.Add(new() { Value = MainEmail });
            if ((long)(await existing.ExecuteScalarAsync())! > 0)
            {
                throw new InvalidOperationException("The data directory holds another load (size or embedder); use a new --data-dir.");
            }
        }
        var data = miniLmData is null ? null : await miniLmData();
        var orgId = Guid.CreateVersion7();
        var others = (int)Math.Ceiling((total - scope) / (double)perUser);
        await ExecuteAsync(dataSource, "INSERT INTO orgs (id, name) VALUES ($1, $2)", orgId, UserAccounts.DefaultOrgName);
        var users = new List<Guid>();
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            SELECT gen_random_uuid(), $1, CASE WHEN i = 0 THEN $3 ELSE 'user' || i || '@memory.bench' END, 'Bench user ' || i, 'x', 'user'
            FROM generate_series(0, $2) AS i
            RETURNING id, email
            """))
        {
            insert.Parameters.Add(new() { Value = orgId });
            insert.Parameters.Add(new() { Value = others });
            insert.Parameters.Add(new() { Value = MainEmail });
            await using var reader = await insert.ExecuteReaderAsync();
            var main = Guid.Empty;
            while (await reader.ReadAsync())
            {
                if (reader.GetString(1) == MainEmail)
                {
                    main = reader.GetGuid(0);
                }
                else
                {
                    users.Add(reader.GetGuid(0));
                }
            }
            users.Insert(0, main);
        }

        // Stored as the Api stores them: text sealed under the organisation's data key, words in the blind index.
        var dataKey = await cipher.DataKeyAsync(orgId, CancellationToken.None);
        var indexKey = await cipher.IndexKeyAsync(orgId, CancellationToken.None);
        var indexes = await DropIndexesAsync(dataSource);
        Console.WriteLine($"Loading {total:N0} memories ({scope:N0} for one user, {perUser} each for {others:N0} others) with binary COPY ...");
        var load = Stopwatch.StartNew();
        var entityIds = new Dictionary<string, long>(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow;
        const int batchSize = 20_000;
        var assigned = 0;
        var userIndex = 0;
        var userCount = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var generator = new SyntheticMemories(seed: 7);
        var random = new Random(11);
        while (assigned < total)
        {
            var rows = new List<(Guid Id, Guid User, string Text, MemoryType Type, DateTimeOffset CreatedAt, float[]? Vector, int PoolIndex, int Seed)>(batchSize);
            while (rows.Count < batchSize && assigned < total)
            {
                var limit = userIndex == 0 ? scope : perUser;
                if (userCount == limit)
                {
                    userIndex++;
                    userCount = 0;
                    seen.Clear();
                }
                // MiniLM: the measured user's distinct texts with their real vectors, the others' from the pool with noise.
                var (text, type, vector, poolIndex) = data is null ? Hashed(generator.Next())
                    : userIndex == 0 ? (data.Scope[userCount].Text, data.Scope[userCount].Type, data.ScopeVectors[userCount], -1)
                    : FromPool(data, random.Next(data.Pool.Count));
                if (!seen.Add(MemoryText.Hash(text)))
                {
                    continue; // the unique index allows one current copy of a text per scope
                }
                rows.Add((Guid.CreateVersion7(), users[userIndex], text, type, now.AddMinutes(-random.Next(525_600)), vector, poolIndex, assigned));
                userCount++;
                assigned++;
            }
            var vectors = new Vector[rows.Count];
            var hashes = new string[rows.Count];
            var sealedTexts = new byte[rows.Count][];
            var tokens = new byte[rows.Count][][];
            var entities = new IReadOnlyList<MemoryEntity>[rows.Count];
            Parallel.For(0, rows.Count, i =>
            {
                vectors[i] = new Vector(rows[i].Vector
                    ?? (rows[i].PoolIndex >= 0 ? data!.Perturbed(rows[i].PoolIndex, rows[i].Seed) : OfflineEmbeddingGenerator.Embed(rows[i].Text)));
                hashes[i] = MemoryText.Hash(rows[i].Text);
                sealedTexts[i] = FieldCipher.Seal(dataKey, EncryptedField.MemoryText, rows[i].Text).Ciphertext!;
                tokens[i] = FieldCipher.Tokens(indexKey, rows[i].Text);
                entities[i] = OfflineFactExtractor.Entities(rows[i].Text);
            });
            await EnsureEntitiesAsync(dataSource, entities.SelectMany(e => e), entityIds);

            await using var connection = await dataSource.OpenConnectionAsync();
            await using (var copy = await connection.BeginBinaryImportAsync("""
                COPY memories (id, lineage_id, org_id, user_id, scope, type, key_id, text_ct, text_bi, importance, embedding, embedding_model,
                               content_hash, created_at, updated_at, valid_from) FROM STDIN (FORMAT BINARY)
                """))
            {
                for (var i = 0; i < rows.Count; i++)
                {
                    var row = rows[i];
                    await copy.StartRowAsync();
                    await copy.WriteAsync(row.Id, NpgsqlDbType.Uuid);
                    await copy.WriteAsync(row.Id, NpgsqlDbType.Uuid);
                    await copy.WriteAsync(orgId, NpgsqlDbType.Uuid);
                    await copy.WriteAsync(row.User, NpgsqlDbType.Uuid);
                    await copy.WriteAsync("user", NpgsqlDbType.Text);
                    await copy.WriteAsync(MemoryNames.Of(row.Type), NpgsqlDbType.Text);
                    await copy.WriteAsync(dataKey.Id, NpgsqlDbType.Uuid);
                    await copy.WriteAsync(sealedTexts[i], NpgsqlDbType.Bytea);
                    await copy.WriteAsync(tokens[i], NpgsqlDbType.Array | NpgsqlDbType.Bytea);
                    await copy.WriteAsync(0.5f, NpgsqlDbType.Real);
                    // vector's binary input format (int16 dimensions, int16 unused, float4 values), sent as raw bytes.
                    await copy.WriteAsync(vectors[i], "vector");
                    await copy.WriteAsync(model, NpgsqlDbType.Text);
                    await copy.WriteAsync(hashes[i], NpgsqlDbType.Text);
                    await copy.WriteAsync(row.CreatedAt, NpgsqlDbType.TimestampTz);
                    await copy.WriteAsync(row.CreatedAt, NpgsqlDbType.TimestampTz);
                    await copy.WriteAsync(row.CreatedAt, NpgsqlDbType.TimestampTz);
                }
                await copy.CompleteAsync();
            }
            await using (var copy = await connection.BeginBinaryImportAsync("COPY memory_entities (memory_id, entity_id, scope_key) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < rows.Count; i++)
                {
                    foreach (var id in entities[i].Select(e => entityIds[MemoryText.NormalizeName(e.Name)]).Distinct())
                    {
                        await copy.StartRowAsync();
                        await copy.WriteAsync(rows[i].Id, NpgsqlDbType.Uuid);
                        await copy.WriteAsync(id, NpgsqlDbType.Bigint);
                        await copy.WriteAsync($"u:{rows[i].User:D}", NpgsqlDbType.Text);
                    }
                }
                await copy.CompleteAsync();
            }
            if (assigned % 100_000 < batchSize)
            {
                Console.WriteLine($"  {assigned:N0} rows, {load.Elapsed.TotalSeconds:F0} s");
            }
        }
        Console.WriteLine($"Loaded in {load.Elapsed.TotalSeconds:F0} s. Building indexes (maintenance_work_mem 8GB, 2 parallel workers) ...");
        foreach (var (name, definition) in indexes.OrderBy(i => i.Definition.Contains("hnsw", StringComparison.Ordinal)))
        {
            var build = Stopwatch.StartNew();
            await using var connection = await dataSource.OpenConnectionAsync();
            await using (var setting = new NpgsqlCommand("SET maintenance_work_mem = '8GB'", connection))
            {
                await setting.ExecuteNonQueryAsync();
            }
            await using var create = new NpgsqlCommand(definition, connection) { CommandTimeout = 0 };
            await create.ExecuteNonQueryAsync();
            Console.WriteLine($"  {name}: {build.Elapsed.TotalSeconds:F0} s");
        }
        await using (var vacuum = dataSource.CreateCommand("VACUUM ANALYZE memories, memory_entities, entities"))
        {
            vacuum.CommandTimeout = 0;
            await vacuum.ExecuteNonQueryAsync();
        }
        return (orgId, users[0], users[1]);
    }

    private static (string, MemoryType, float[]?, int) Hashed((string Text, MemoryType Type) next) => (next.Text, next.Type, null, -1);

    private static (string, MemoryType, float[]?, int) FromPool(MiniLmMemoryData data, int index) => (data.Pool[index].Text, data.Pool[index].Type, null, index);

    private static async Task<Guid> SmallUserAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM users WHERE email = 'user1@memory.bench'");
        return (Guid)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<(string Name, string Definition)>> DropIndexesAsync(NpgsqlDataSource dataSource)
    {
        var indexes = new List<(string, string)>();
        await using (var command = dataSource.CreateCommand("""
            SELECT indexname, indexdef FROM pg_indexes
            WHERE tablename IN ('memories', 'memory_entities') AND indexname NOT LIKE '%_pkey'
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                indexes.Add((reader.GetString(0), reader.GetString(1)));
            }
        }
        foreach (var (name, _) in indexes)
        {
            await using var drop = dataSource.CreateCommand($"DROP INDEX {name}");
            await drop.ExecuteNonQueryAsync();
        }
        return indexes;
    }

    private static async Task EnsureEntitiesAsync(NpgsqlDataSource dataSource, IEnumerable<MemoryEntity> entities, Dictionary<string, long> ids)
    {
        var missing = entities
            .Select(e => (Normalized: MemoryText.NormalizeName(e.Name), e.Name, e.Type))
            .Where(e => !ids.ContainsKey(e.Normalized))
            .DistinctBy(e => e.Normalized)
            .ToList();
        if (missing.Count == 0)
        {
            return;
        }
        await using var command = dataSource.CreateCommand("""
            INSERT INTO entities (normalized_name, name, type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
            ON CONFLICT (normalized_name) DO UPDATE SET normalized_name = excluded.normalized_name
            RETURNING id, normalized_name
            """);
        command.Parameters.Add(new() { Value = missing.Select(m => m.Normalized).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = missing.Select(m => m.Name).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = missing.Select(m => m.Type).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids[reader.GetString(1)] = reader.GetInt64(0);
        }
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        await command.ExecuteNonQueryAsync();
    }

    internal static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    internal static int Int(string[] args, string name, int fallback) =>
        Option(args, name) is { } value ? int.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;
}
