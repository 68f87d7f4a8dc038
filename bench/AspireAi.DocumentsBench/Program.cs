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
var totalChunks = Option("--chunks", 100_000);
var queryCount = Option("--queries", 500);
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
});
builder.Services.AddProblemDetails();
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
