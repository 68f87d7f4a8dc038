using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AspireAi.LocalServers;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Encryption;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Workers.Documents;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

// Documents benchmarks on a private Postgres 15 + pgvector (127.0.0.1, temporary data directory):
//  1. ingestion throughput in chunks/s with the offline embedder, through the real job handler (parse, chunk, embed,
//     binary COPY into document_chunks with the HNSW and GIN indexes present), one and two documents at a time;
//  2. hybrid query latency (embed the query, HNSW + full text, RRF) at 100,000 chunks, through DocumentRetriever;
//  3. recall@10 of the HNSW index against exact search (the recall monitor's measurement).
// Usage: dotnet run -c Release --project bench/AspireAi.DocumentsBench [-- --chunks 100000 --queries 500] [--ingest-only]
//        dotnet run -c Release --project bench/AspireAi.DocumentsBench -- --bombs   (ten .docx bombs at once: peak RSS)
//        dotnet run -c Release --project bench/AspireAi.DocumentsBench -- --embedder minilm [--documents 6] [--doc-chunks 100] [--sweep]
//          (ingestion with all-MiniLM-L6-v2 against the same model embedding the same chunks alone, in the same run)
var totalChunks = Option("--chunks", 100_000);
var queryCount = Option("--queries", 500);
var miniLm = OptionText("--embedder", "hashing") switch
{
    "minilm" => true,
    "hashing" => false,
    var other => throw new ArgumentException($"--embedder is minilm or hashing, not {other}."),
};
const int IngestDocuments = 40;
const int ChunksPerIngestDocument = 250;
const int ChunksPerLoadDocument = 500;

var work = Directory.CreateTempSubdirectory("aspireai-docbench-").FullName;
await using var postgres = new PostgresServer(new PostgresServerOptions
{
    DataDirectory = Path.Combine(work, "pg"), Password = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()),
    Port = NativeProcess.FreeTcpPort(), Durable = true,
});
await postgres.StartAsync();
await using (var migrations = NpgsqlDataSource.Create(postgres.ConnectionString))
{
    await new DatabaseMigrator(migrations, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["ConnectionStrings:postgres"] = postgres.ConnectionString,
    // A fresh database every run, so a fresh master key.
    ["Encryption:MasterKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
    ["Logging:LogLevel:Default"] = "Warning",
    // The hashing embedder unless asked otherwise: the throughput and latency figures of docs/benchmarks.md measure
    // the store around the model, and MiniLM would make a 100,000-chunk load take most of an hour.
    ["Llm:Offline:Embedder"] = miniLm ? nameof(OfflineEmbedder.MiniLM) : nameof(OfflineEmbedder.Hashing),
});
builder.Services.AddProblemDetails();
// The model behind a stopwatch: how much of an ingestion's wall time the model was running tells whether anything
// else held it up (registered first, so the offline provider's own registration leaves it in place).
var modelClock = new ModelClock();
if (miniLm)
{
    builder.Services.AddKeyedSingleton<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>(OfflineModels.ServiceKey, (sp, _) =>
    {
        var llm = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<LlmOptions>>().Value;
        return new TimedEmbeddingGenerator(new AspireAi.Offline.MiniLmEmbeddingGenerator(llm.Offline, llm.EmbeddingBatchSize), modelClock);
    });
}

builder.AddDatabase();
builder.AddDocuments();
builder.AddDocumentJobs();
using var host = builder.Build();
var services = host.Services;
var dataSource = services.GetRequiredService<NpgsqlDataSource>();
var store = services.GetRequiredService<DocumentStore>();
var (user, admin) = await CreateUsersAsync(dataSource);
var random = new Random(42);
var corpus = new Corpus(random);

Console.WriteLine($"Postgres 15 + pgvector on 127.0.0.1; {Environment.ProcessorCount} cores; data in {work}");
Console.WriteLine();

if (args.Contains("--bombs"))
{
    await BombsAsync(services, store, dataSource, user, corpus);
    return;
}

if (miniLm)
{
    await ModelShareAsync(services, store, dataSource, user, corpus, random, modelClock, Option("--documents", 6), Option("--doc-chunks", 100), args.Contains("--sweep"));
    return;
}

// ---- 1. Ingestion ------------------------------------------------------------------------------------------------
Console.WriteLine($"== Ingestion: {IngestDocuments} documents x ~{ChunksPerIngestDocument} chunks (markdown, 256-token chunks, 40-token overlap)");
var phases = MeasurePhases(services, corpus.Document(ChunksPerIngestDocument, new Random(7)));
Console.WriteLine($"   in-process phases for one document: parse+clean {phases.Parse:0.0} ms, chunk {phases.Chunk:0.0} ms, " +
    $"embed {phases.Embed:0.0} ms ({phases.Chunks} chunks: {phases.Chunks / (phases.Embed / 1000):N0} chunks/s embedding alone)");
foreach (var parallel in new[] { 1, 2 })
{
    var ids = new List<Guid>();
    for (var i = 0; i < IngestDocuments / 2; i++)
    {
        var text = corpus.Document(ChunksPerIngestDocument, random);
        ids.Add((await store.CreateAsync(user, new NewDocument($"Ingest {parallel}-{i}", null, DocumentFormats.Markdown, Encoding.UTF8.GetBytes(text),
            DocumentScope.User, []), CancellationToken.None)).Id);
    }

    var clock = Stopwatch.StartNew();
    await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (id, token) =>
        await RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = id }, token));
    clock.Stop();
    var chunks = await ScalarAsync(dataSource, "SELECT count(*) FROM document_chunks WHERE document_id = ANY($1)", ids.ToArray());
    var failed = await ScalarAsync(dataSource, "SELECT count(*) FROM documents WHERE id = ANY($1) AND status <> 'ready'", ids.ToArray());
    Console.WriteLine($"   {parallel} at a time: {chunks:N0} chunks in {clock.Elapsed.TotalSeconds:0.00} s = {chunks / clock.Elapsed.TotalSeconds:N0} chunks/s" +
        (failed > 0 ? $" ({failed} documents not ready!)" : ""));
}

if (args.Contains("--ingest-only"))
{
    return;
}

// ---- 2. Load to the target size (index rebuilt after the bulk load, as one would for a migration) -------------------
var existing = await ScalarAsync(dataSource, "SELECT count(*) FROM document_chunks");
var toLoad = (int)Math.Max(0, totalChunks - existing);
Console.WriteLine();
Console.WriteLine($"== Loading {toLoad:N0} more chunks into the organisation's scope (HNSW dropped during the load, then rebuilt)");
// Rebuilt afterwards exactly as the migrations define it (including any later ALTER INDEX ... SET).
string hnswDefinition;
await using (var definition = dataSource.CreateCommand("SELECT pg_get_indexdef('document_chunks_embedding_idx'::regclass)"))
{
    hnswDefinition = (string)(await definition.ExecuteScalarAsync())!;
}
await ExecuteAsync(dataSource, "DROP INDEX document_chunks_embedding_idx");
var load = Stopwatch.StartNew();
var loadIds = new List<Guid>();
for (var loaded = 0; loaded < toLoad; loaded += ChunksPerLoadDocument)
{
    var text = corpus.Document(Math.Min(ChunksPerLoadDocument, toLoad - loaded), random);
    loadIds.Add((await store.CreateAsync(admin, new NewDocument($"Org document {loaded / ChunksPerLoadDocument}", null, DocumentFormats.Markdown,
        Encoding.UTF8.GetBytes(text), DocumentScope.Org, []), CancellationToken.None)).Id);
}

await Parallel.ForEachAsync(loadIds, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (id, token) =>
    await RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = id }, token));
var withoutIndex = load.Elapsed;
var indexClock = Stopwatch.StartNew();
await ExecuteAsync(dataSource, $"""
    SET maintenance_work_mem = '1GB';
    SET max_parallel_maintenance_workers = 2;
    {hnswDefinition};
    """);
await ExecuteAsync(dataSource, "VACUUM ANALYZE document_chunks");
await ExecuteAsync(dataSource, "VACUUM ANALYZE documents");
var total = await ScalarAsync(dataSource, "SELECT count(*) FROM document_chunks");
Console.WriteLine($"   ingested in {withoutIndex.TotalSeconds:0.0} s ({toLoad / withoutIndex.TotalSeconds:N0} chunks/s without the HNSW index); " +
    $"index built in {indexClock.Elapsed.TotalSeconds:0.0} s; {total:N0} chunks in the store");

// ---- 3. Hybrid query latency -------------------------------------------------------------------------------------
var retriever = services.GetRequiredService<DocumentRetriever>();
var questions = await SampleQuestionsAsync(dataSource, services.GetRequiredService<FieldCipher>(), queryCount, random);
Console.WriteLine();
Console.WriteLine($"== Hybrid query latency over {total:N0} chunks ({questions.Count} questions drawn from chunk text, after 30 warm-up queries; one at a time)");
foreach (var (label, scope) in new[] { ("all chunks visible (user + org scopes)", (string?)null), ("own documents only (scope=user)", DocumentScope.User) })
{
    foreach (var question in questions.Take(30))
    {
        await retriever.SearchAsync(user.UserId, user.OrgId, new DocumentSearchRequest(question, 5, Scope: scope), CancellationToken.None);
    }

    var latencies = new List<double>();
    var lowConfidence = 0;
    foreach (var question in questions)
    {
        var clock = Stopwatch.StartNew();
        var result = await retriever.SearchAsync(user.UserId, user.OrgId, new DocumentSearchRequest(question, 5, Scope: scope), CancellationToken.None);
        latencies.Add(clock.Elapsed.TotalMilliseconds);
        lowConfidence += result.LowConfidence ? 1 : 0;
    }

    latencies.Sort();
    Console.WriteLine($"   {label}: p50 {Percentile(latencies, 0.50):0.0} ms, p95 {Percentile(latencies, 0.95):0.0} ms, " +
        $"p99 {Percentile(latencies, 0.99):0.0} ms, max {latencies[^1]:0.0} ms; low-confidence {lowConfidence}/{questions.Count}");
}

var unrelated = Enumerable.Range(0, 100).Select(i => Corpus.Unrelated[i % Corpus.Unrelated.Length] + (i < Corpus.Unrelated.Length ? "" : $" {i}")).ToList();
var unrelatedLow = 0;
var unrelatedBest = new List<double>();
foreach (var question in unrelated)
{
    var result = await retriever.SearchAsync(user.UserId, user.OrgId, new DocumentSearchRequest(question, 5), CancellationToken.None);
    unrelatedLow += result.LowConfidence ? 1 : 0;
    unrelatedBest.Add(result.BestSimilarity ?? 0);
}

unrelatedBest.Sort();
Console.WriteLine($"   unrelated questions (not about the corpus): low-confidence {unrelatedLow}/{unrelated.Count}; " +
    $"best similarity p50 {Percentile(unrelatedBest, 0.5):0.000}, max {unrelatedBest[^1]:0.000} (threshold {services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DocumentsOptions>>().Value.Retrieval.MinSimilarity:0.00})");

// ---- 4. Recall@10 and ef_search ----------------------------------------------------------------------------------
Console.WriteLine();
Console.WriteLine("== HNSW recall@10 against exact search (recall monitor, 100 sample queries) and hybrid p95 by hnsw.ef_search");
var documentsOptions = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DocumentsOptions>>().Value;
var configuredEf = documentsOptions.Retrieval.EfSearch;
foreach (var ef in new[] { 40, 100, 200, 400 })
{
    documentsOptions.Retrieval.EfSearch = ef;
    var monitor = await RunHandlerAsync<RecallMonitorHandler>(services, DocumentJobs.RecallMonitor, new { }, CancellationToken.None,
        new Dictionary<string, string?> { ["Documents:RecallMonitor:SampleQueries"] = "100" });
    var measured = monitor.LastMeasurement!;
    var latencies = new List<double>();
    foreach (var question in questions.Take(150))
    {
        var clock = Stopwatch.StartNew();
        await retriever.SearchAsync(user.UserId, user.OrgId, new DocumentSearchRequest(question, 5), CancellationToken.None);
        latencies.Add(clock.Elapsed.TotalMilliseconds);
    }

    latencies.Sort();
    Console.WriteLine($"   ef_search {ef,3}{(ef == configuredEf ? " (default)" : "")}: recall@{measured.K} {measured.FilteredRecall:0.000} scope-filtered, " +
        $"{measured.GlobalRecall:0.000} whole index, nearest found {measured.NearestFound:P0}; hybrid p50 {Percentile(latencies, 0.5):0.0} ms, p95 {Percentile(latencies, 0.95):0.0} ms");
}

documentsOptions.Retrieval.EfSearch = configuredEf;
return;

// Ten decompression bombs (each 512 MB of XML in about half a megabyte, expanding ~1000 times) and one ordinary document are ingested
// at once through the real handler, as the Workers would with ten job slots; the process's peak resident set
// (VmHWM) is read before and after. Every bomb must fail with its reason and the ordinary document must be ready.
static async Task BombsAsync(IServiceProvider services, DocumentStore store, NpgsqlDataSource dataSource, CurrentUser user, Corpus corpus)
{
    const int Bombs = 10;
    const long BombBytes = 512L << 20;
    // Each bomb differs (its first words), or the store would take the next nine for duplicates of the first.
    var bombs = Enumerable.Range(0, Bombs).Select(i => BombDocx(BombBytes, $"Bomb number {i}")).ToList();
    Console.WriteLine($"== {Bombs} .docx bombs of {bombs[0].Length / 1024.0:N0} KB (each expands to {BombBytes / (1024 * 1024):N0} MB) + 1 ordinary document, all at once");
    var ids = new List<Guid>();
    for (var i = 0; i < Bombs; i++)
    {
        ids.Add((await store.CreateAsync(user, new NewDocument($"Bomb {i}", $"bomb-{i}.docx", DocumentFormats.Docx, bombs[i], DocumentScope.User, []),
            CancellationToken.None)).Id);
    }

    // First an ordinary document alone: it loads the embedding model, the largest thing a worker holds anyway.
    var warmUp = (await store.CreateAsync(user, new NewDocument("Warm-up", null, DocumentFormats.Markdown,
        Encoding.UTF8.GetBytes(corpus.Document(50, new Random(2))), DocumentScope.User, []), CancellationToken.None)).Id;
    var idle = PeakRssMegabytes();
    await RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = warmUp }, CancellationToken.None);
    var ordinary = (await store.CreateAsync(user, new NewDocument("Ordinary", null, DocumentFormats.Markdown,
        Encoding.UTF8.GetBytes(corpus.Document(50, new Random(3))), DocumentScope.User, []), CancellationToken.None)).Id;
    GC.Collect();
    var before = PeakRssMegabytes();
    Console.WriteLine($"   peak RSS: {idle:N0} MB before any ingestion, {before:N0} MB after one ordinary document (embedding model loaded)");
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(ids.Select(id => Task.Run(() =>
        RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = id }, CancellationToken.None))));
    var bombsOnly = PeakRssMegabytes();
    Console.WriteLine($"   peak RSS after the ten bombs alone, at once: {bombsOnly:N0} MB (+{bombsOnly - before:N0} MB)");
    // Then the ten again with an ordinary document among them: it must still be ingested.
    var again = new List<Guid>();
    for (var i = 0; i < Bombs; i++)
    {
        again.Add((await store.CreateAsync(user, new NewDocument($"Bomb again {i}", $"bomb-again-{i}.docx", DocumentFormats.Docx,
            BombDocx(BombBytes, $"Bomb again {i}"), DocumentScope.User, []), CancellationToken.None)).Id);
    }

    await Task.WhenAll(again.Append(ordinary).Select(id => Task.Run(() =>
        RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = id }, CancellationToken.None))));
    ids.AddRange(again);
    clock.Stop();
    var after = PeakRssMegabytes();
    var failed = await ScalarAsync(dataSource, "SELECT count(*) FROM documents WHERE id = ANY($1) AND status = 'failed' AND failure_reason LIKE '%decompression bomb%'", ids.ToArray());
    var ready = await ScalarAsync(dataSource, "SELECT count(*) FROM documents WHERE id = $1 AND status = 'ready'", ordinary);
    Console.WriteLine($"   {failed}/{2 * Bombs} bombs failed with the decompression-bomb reason; ordinary document ready: {ready == 1}; {clock.Elapsed.TotalSeconds:0.0} s");
    Console.WriteLine($"   peak RSS after ten more bombs and one more ordinary document at once: {after:N0} MB (+{after - before:N0} MB over the warm process)");
}

// Ingestion with the local model against the model alone: the same documents' chunks are embedded with nothing else
// running (DocumentEmbedder.EmbedAsync, the pipeline's own batches), then ingested through the real handler, then
// embedded alone again (the machine is shared, so its speed drifts; the two "alone" runs bracket the ingestion).
// Everything but the model (parse, chunk, encryption, COPY, HNSW and GIN maintenance, progress updates) is the
// difference between the two rates.
static async Task ModelShareAsync(IServiceProvider services, DocumentStore store, NpgsqlDataSource dataSource, CurrentUser user, Corpus corpus, Random random,
    ModelClock modelClock, int documents, int chunksPerDocument, bool sweep)
{
    var embedder = services.GetRequiredService<DocumentEmbedder>();
    var settings = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DocumentsOptions>>().Value;
    var llm = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LlmOptions>>().Value;
    Console.WriteLine($"== Ingestion with {embedder.ModelId} ({llm.Offline.EmbeddingThreads} intra-op thread(s), {settings.EmbeddingBatchSize} chunks per " +
        $"embedding call, at most {llm.EmbeddingBatchSize} rows and {AspireAi.Offline.MiniLmEmbeddingGenerator.TokensPerRun} padded positions per inference run): {documents} documents x ~{chunksPerDocument} chunks, one and two at a time");
    // Loads the model: its first use is not what is measured.
    await embedder.EmbedAsync(["warm-up"], null, CancellationToken.None);
    foreach (var parallel in new[] { 1, 2 })
    {
        var ids = new List<Guid>();
        var inputs = new List<string[]>();
        for (var i = 0; i < documents; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(corpus.Document(chunksPerDocument, random));
            ids.Add((await store.CreateAsync(user, new NewDocument($"MiniLM {parallel}-{i}", null, DocumentFormats.Markdown, bytes, DocumentScope.User, []),
                CancellationToken.None)).Id);
            // What the handler embeds for this document: parsed, chunked and headed exactly as it does.
            var parsed = DocumentParser.Parse(bytes, DocumentFormats.Markdown, settings.MaxTextChars, settings.Limits, CancellationToken.None);
            inputs.Add([.. TextChunker.Chunk(parsed.Text, settings.Chunking).Select(DocumentIngestionHandler.EmbeddingInput)]);
        }

        // Interleaved by group of `parallel` documents (alone then ingested, then the other way round), so that a change
        // in the machine's load hits both sides alike.
        var total = inputs.Sum(t => t.Length);
        var alone = TimeSpan.Zero;
        var ingest = TimeSpan.Zero;
        var modelBusy = TimeSpan.Zero;
        for (var group = 0; group * parallel < ids.Count; group++)
        {
            var groupIds = ids.Skip(group * parallel).Take(parallel).ToList();
            var groupInputs = inputs.Skip(group * parallel).Take(parallel).ToList();
            for (var step = 0; step < 2; step++)
            {
                if ((step == 0) == (group % 2 == 0))
                {
                    alone += await EmbedAloneAsync(embedder, groupInputs);
                }
                else
                {
                    var busyBefore = modelClock.Busy;
                    var clock = Stopwatch.StartNew();
                    await Task.WhenAll(groupIds.Select(id => Task.Run(() =>
                        RunHandlerAsync<DocumentIngestionHandler>(services, DocumentJobs.Ingest, new { documentId = id }, CancellationToken.None))));
                    ingest += clock.Elapsed;
                    modelBusy += modelClock.Busy - busyBefore;
                }
            }
        }

        var stored = await ScalarAsync(dataSource, "SELECT count(*) FROM document_chunks WHERE document_id = ANY($1) AND embedding_model = $2", ids.ToArray(), embedder.ModelId);
        var notReady = await ScalarAsync(dataSource, "SELECT count(*) FROM documents WHERE id = ANY($1) AND status <> 'ready'", ids.ToArray());
        var ingestRate = stored / ingest.TotalSeconds;
        var aloneRate = total / alone.TotalSeconds;
        Console.WriteLine($"   {parallel} at a time: model alone {aloneRate:N1} chunks/s ({total:N0} in {alone.TotalSeconds:0.0} s); ingestion {ingestRate:N1} chunks/s " +
            $"({stored:N0} stored in {ingest.TotalSeconds:0.0} s) = {ingestRate / aloneRate:P1} of the model alone{(notReady > 0 ? $"; {notReady} documents not ready!" : "")}");
        // Model time summed over the documents in flight, against the wall time they had (parallel x wall).
        Console.WriteLine($"      during ingestion the model ran {modelBusy.TotalSeconds / parallel / ingest.TotalSeconds:P1} of the time " +
            $"(at {stored / modelBusy.TotalSeconds * parallel:N1} chunks/s while running)");
    }

    if (!sweep)
    {
        return;
    }

    // The model's speed by rows per inference run, on chunks of the same kind (one generator per size; the session is shared).
    var sample = corpus.Document(100, random);
    var texts = TextChunker.Chunk(DocumentParser.Parse(Encoding.UTF8.GetBytes(sample), DocumentFormats.Markdown, settings.MaxTextChars, settings.Limits,
        CancellationToken.None).Text, settings.Chunking).Select(DocumentIngestionHandler.EmbeddingInput).Take(96).ToArray();
    Console.WriteLine($"== {embedder.ModelId} alone by padded positions per inference run ({texts.Length} chunks, at most {llm.EmbeddingBatchSize} rows; twice, alternating)");
    int[] budgets = [256, 512, 1024, 2048, llm.EmbeddingBatchSize * llm.Offline.EmbeddingMaxTokens];
    var rates = budgets.ToDictionary(b => b, _ => new List<double>());
    for (var round = 0; round < 2; round++)
    {
        foreach (var budget in round == 0 ? budgets : budgets.Reverse())
        {
            using var generator = new AspireAi.Offline.MiniLmEmbeddingGenerator(llm.Offline, llm.EmbeddingBatchSize, budget);
            var clock = Stopwatch.StartNew();
            await generator.GenerateAsync(texts);
            rates[budget].Add(texts.Length / clock.Elapsed.TotalSeconds);
        }
    }

    foreach (var budget in budgets)
    {
        Console.WriteLine($"   {budget,6} positions (~{budget / llm.Offline.EmbeddingMaxTokens} chunks of {llm.Offline.EmbeddingMaxTokens}): " +
            $"{string.Join(" · ", rates[budget].Select(r => r.ToString("N1", CultureInfo.InvariantCulture)))} chunks/s");
    }
}

static async Task<TimeSpan> EmbedAloneAsync(DocumentEmbedder embedder, List<string[]> inputs)
{
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(inputs.Select(texts => Task.Run(() => embedder.EmbedAsync(texts, null, CancellationToken.None))));
    return clock.Elapsed;
}

static long PeakRssMegabytes()
{
    var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
}

static byte[] BombDocx(long expandedBytes, string words)
{
    using var stream = new MemoryStream();
    using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
    {
        void Part(string name, string text)
        {
            using var writer = new StreamWriter(zip.CreateEntry(name).Open());
            writer.Write(text);
        }

        Part("[Content_Types].xml", """<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>""");
        Part("_rels/.rels", """<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>""");
        using var main = zip.CreateEntry("word/document.xml", System.IO.Compression.CompressionLevel.Optimal).Open();
        main.Write(Encoding.UTF8.GetBytes($"""<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{words}"""));
        var blanks = new byte[1 << 20];
        Array.Fill(blanks, (byte)' ');
        for (long written = 0; written < expandedBytes; written += blanks.Length)
        {
            main.Write(blanks);
        }

        main.Write("</w:t></w:r></w:p></w:body></w:document>"u8);
    }

    return stream.ToArray();
}

static async Task<T> RunHandlerAsync<T>(IServiceProvider services, string type, object payload, CancellationToken cancellationToken,
    IReadOnlyDictionary<string, string?>? overrides = null) where T : IJobHandler
{
    using var scope = services.CreateScope();
    var handler = scope.ServiceProvider.GetRequiredService<T>();
    if (overrides is not null && handler is RecallMonitorHandler)
    {
        var options = scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<DocumentsOptions>>().Value;
        options.RecallMonitor.SampleQueries = int.Parse(overrides["Documents:RecallMonitor:SampleQueries"]!, CultureInfo.InvariantCulture);
    }

    var dataSource = scope.ServiceProvider.GetRequiredService<NpgsqlDataSource>();
    await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
    var now = DateTimeOffset.UtcNow;
    var context = new JobContext(new JobInfo(0, type, 1, 1, 0, null, now, now), JsonSerializer.SerializeToElement(payload, JsonSerializerOptions.Web),
        connection, transaction, "bench", scope.ServiceProvider.GetRequiredService<IJobQueue>());
    await handler.HandleAsync(context, cancellationToken);
    await transaction.CommitAsync(cancellationToken);
    return handler;
}

static (double Parse, double Chunk, double Embed, int Chunks) MeasurePhases(IServiceProvider services, string markdown)
{
    var bytes = Encoding.UTF8.GetBytes(markdown);
    var clock = Stopwatch.StartNew();
    var parsed = DocumentParser.Parse(bytes, DocumentFormats.Markdown, 20_000_000);
    var parse = clock.Elapsed.TotalMilliseconds;
    clock.Restart();
    var chunks = TextChunker.Chunk(parsed.Text, new ChunkingOptions());
    var chunk = clock.Elapsed.TotalMilliseconds;
    var embedder = services.GetRequiredService<DocumentEmbedder>();
    clock.Restart();
    embedder.EmbedAsync([.. chunks.Select(c => c.Content)], null, CancellationToken.None).GetAwaiter().GetResult();
    return (parse, chunk, clock.Elapsed.TotalMilliseconds, chunks.Count);
}

static async Task<List<string>> SampleQuestionsAsync(NpgsqlDataSource dataSource, FieldCipher cipher, int count, Random random)
{
    // A question shares some words with one passage: a sentence of a random chunk with a few of its words dropped.
    var sentences = new List<string>();
    await using var command = dataSource.CreateCommand("SELECT id, content, key_id, content_ct FROM document_chunks TABLESAMPLE SYSTEM (5) LIMIT $1");
    command.Parameters.Add(new() { Value = count });
    await using var reader = await command.ExecuteReaderAsync();
    while (await reader.ReadAsync())
    {
        var content = await cipher.OpenAsync(DocumentStore.ReadContent(reader, 1, 2, 3), EncryptedField.ChunkContent, reader.GetGuid(0), CancellationToken.None);
        var spans = SentenceSplitter.Split(content, 0, content.Length);
        var span = spans[random.Next(spans.Count)];
        var words = content[span.Start..span.End].Split(' ').Where(_ => random.NextDouble() > 0.3).Take(10);
        sentences.Add("What about " + string.Join(' ', words).TrimEnd('.') + "?");
    }

    return sentences;
}

static async Task<(CurrentUser User, CurrentUser Admin)> CreateUsersAsync(NpgsqlDataSource dataSource)
{
    var orgId = Guid.CreateVersion7();
    var userId = Guid.CreateVersion7();
    var adminId = Guid.CreateVersion7();
    await ExecuteAsync(dataSource, $"""
        INSERT INTO orgs (id, name) VALUES ('{orgId}', 'bench');
        INSERT INTO users (id, org_id, email, display_name, password_hash, role) VALUES
            ('{userId}', '{orgId}', 'user@bench.local', 'Bench user', 'x', 'user'),
            ('{adminId}', '{orgId}', 'admin@bench.local', 'Bench admin', 'x', 'admin');
        """);
    return (new CurrentUser(userId, orgId, AspireAiRoles.User, "user@bench.local"), new CurrentUser(adminId, orgId, AspireAiRoles.Admin, "admin@bench.local"));
}

static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
{
    await using var command = dataSource.CreateCommand(sql);
    command.CommandTimeout = 0;
    await command.ExecuteNonQueryAsync();
}

static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
{
    await using var command = dataSource.CreateCommand(sql);
    foreach (var parameter in parameters)
    {
        command.Parameters.Add(new() { Value = parameter });
    }

    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

string OptionText(string name, string fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1].ToLowerInvariant() : fallback;
}

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>
/// Synthetic documents with a natural-language shape: a Zipf-distributed vocabulary of 20,000 pronounceable words
/// plus English function words, sentences of 6-28 words, paragraphs of 2-6 sentences, a heading every few paragraphs.
/// </summary>
internal sealed class Corpus
{
    public static readonly string[] Unrelated =
    [
        "What is the capital of Australia?", "How do I bake sourdough bread?", "Who won the football world cup in 1998?",
        "Tell me a joke about penguins", "What is the boiling point of water at altitude?", "How many moons does Jupiter have?",
        "Recommend a good science fiction novel", "What time zone is Tokyo in?", "How do I change a bicycle tyre?",
        "Explain quantum entanglement simply",
    ];

    private static readonly string[] Function =
        ["the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "as", "by", "it", "was", "are", "from", "at", "this", "be", "or"];

    private static readonly string[] Syllables =
        ["ka", "lo", "mi", "ter", "san", "vel", "dor", "pri", "an", "os", "el", "un", "bra", "cos", "ti", "ne", "ra", "ven", "gal", "sho",
         "pe", "lin", "mar", "tu", "quo", "re", "sil", "fen", "ha", "zo"];

    private readonly string[] _vocabulary;
    private readonly double[] _cumulative;

    public Corpus(Random random)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (words.Count < 20_000)
        {
            var length = random.Next(2, 5);
            var word = new StringBuilder();
            for (var i = 0; i < length; i++)
            {
                word.Append(Syllables[random.Next(Syllables.Length)]);
            }

            words.Add(word.ToString());
        }

        _vocabulary = [.. words];
        _cumulative = new double[_vocabulary.Length];
        var sum = 0d;
        for (var i = 0; i < _vocabulary.Length; i++)
        {
            sum += 1d / (i + 1);
            _cumulative[i] = sum;
        }

        for (var i = 0; i < _cumulative.Length; i++)
        {
            _cumulative[i] /= sum;
        }
    }

    /// <summary>Markdown of roughly <paramref name="chunks"/> chunks of the default size.</summary>
    public string Document(int chunks, Random random)
    {
        var text = new StringBuilder();
        // ~1,000 characters per 256-token chunk, less the overlap.
        var target = chunks * 860;
        var paragraph = 0;
        while (text.Length < target)
        {
            if (paragraph++ % 5 == 0)
            {
                text.Append("## ").Append(Sentence(random, 2, 5).TrimEnd('.')).Append("\n\n");
            }

            var sentences = random.Next(2, 7);
            for (var i = 0; i < sentences; i++)
            {
                text.Append(Sentence(random, 6, 28)).Append(' ');
            }

            text.Append("\n\n");
        }

        return text.ToString();
    }

    private string Sentence(Random random, int min, int max)
    {
        var count = random.Next(min, max + 1);
        var words = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            words.Add(random.NextDouble() < 0.35 ? Function[random.Next(Function.Length)] : Word(random));
        }

        words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
        return string.Join(' ', words) + ".";
    }

    private string Word(Random random)
    {
        var at = Array.BinarySearch(_cumulative, random.NextDouble());
        return _vocabulary[Math.Min(at < 0 ? ~at : at, _vocabulary.Length - 1)];
    }
}

/// <summary>Total time spent inside the model, summed over concurrent calls.</summary>
internal sealed class ModelClock
{
    private long _ticks;

    public TimeSpan Busy => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

    public void Add(TimeSpan elapsed) => Interlocked.Add(ref _ticks, elapsed.Ticks);
}

internal sealed class TimedEmbeddingGenerator(Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>> inner, ModelClock clock)
    : Microsoft.Extensions.AI.DelegatingEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>(inner)
{
    public override async Task<Microsoft.Extensions.AI.GeneratedEmbeddings<Microsoft.Extensions.AI.Embedding<float>>> GenerateAsync(IEnumerable<string> values,
        Microsoft.Extensions.AI.EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await base.GenerateAsync(values, options, cancellationToken);
        }
        finally
        {
            clock.Add(Stopwatch.GetElapsedTime(started));
        }
    }
}
