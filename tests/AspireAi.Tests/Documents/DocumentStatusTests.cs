using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Offline;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using AspireAi.Workers.Documents;

namespace AspireAi.Tests.Documents;

/// <summary>
/// What a client sees while a document is ingested (statuses, progress, failure), and what every retrieval logs and
/// measures. The ingestion handler runs here with an embedder the test controls, on a document inserted without a
/// job, so the shared Workers host never races it.
/// </summary>
public sealed class DocumentStatusTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const int BatchSize = 4;

    [Fact]
    public async Task A_client_polling_the_document_sees_parsing_then_embedding_with_rising_progress_then_ready()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        // Twelve sections, so twelve chunks and three embedding batches.
        var text = string.Join("\n\n", Enumerable.Range(0, 12).Select(i => $"# Part {i}\n\nPart {i} of the status test {Guid.NewGuid():N}."));
        var id = await InsertDocumentAsync(user.Id, text);
        var history = await StatusHistory.StartAsync(factory, id);
        var embedder = new GatedEmbeddingGenerator();

        var run = RunIngestionAsync(id, embedder, attempt: 1, maxAttempts: 3);

        // The first batch is held: the parse is done and its chunks are counted, none embedded yet.
        Assert.True(await embedder.Calls.WaitAsync(DocumentsTestData.Timeout), "the embedder was never called");
        var embedding = await GetAsync(client, id);
        Assert.Equal(("embedding", 12, 0), Progress(embedding));

        // Progress is written at most every 500 ms; holding the batch that long lets the next write through.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        embedder.Release();
        Assert.True(await embedder.Calls.WaitAsync(DocumentsTestData.Timeout), "the second batch was never embedded"); // held in turn
        var progressed = await PollAsync(client, id, d => d.GetProperty("embeddedChunks").GetInt32() > 0);
        Assert.Equal("embedding", progressed.GetProperty("status").GetString());
        Assert.InRange(progressed.GetProperty("embeddedChunks").GetInt32(), BatchSize, 11);

        embedder.ReleaseAll();
        await run;

        var ready = await GetAsync(client, id);
        Assert.Equal(("ready", 12, 12), Progress(ready));
        Assert.Equal("offline-embed-1", ready.GetProperty("embeddingModel").GetString());
        // Every status the document went through, in order, as committed (the parsing step is too short to poll).
        Assert.Equal(["parsing", "embedding", "ready"], (await history.ReadAsync()).Distinct());
    }

    [Fact]
    public async Task When_embedding_always_fails_the_last_attempt_marks_the_document_failed_with_the_reason()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = await InsertDocumentAsync(user.Id, $"A document the embedding provider never accepts {Guid.NewGuid():N}.");
        var embedder = new GatedEmbeddingGenerator { Failure = new HttpRequestException("embedding provider unavailable (503)") };
        embedder.ReleaseAll();

        // The handler rethrows so that the job becomes dead; the document is not left "embedding" for ever.
        await Assert.ThrowsAnyAsync<Exception>(() => RunIngestionAsync(id, embedder, attempt: 1, maxAttempts: 1));

        var failed = await GetAsync(client, id);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var reason = failed.GetProperty("failureReason").GetString();
        Assert.StartsWith("Ingestion failed after 1 attempt: ", reason, StringComparison.Ordinal);
        Assert.Contains("embedding provider unavailable (503)", reason, StringComparison.Ordinal);
        Assert.Equal(0, failed.GetProperty("embeddedChunks").GetInt32());
        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM document_chunks WHERE document_id = $1", id));
    }

    [Fact]
    public async Task Every_retrieval_logs_trace_model_top_k_scores_and_latency_but_not_the_query()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var code = DocumentsTestData.Unique("LOG");
        await DocumentsTestData.IngestTextAsync(client, "Lighthouse", $"The lighthouse keeper {code} lights the lamp at dusk.");
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information));
        using var meters = new MeterScope();
        var retriever = CreateRetriever(loggerFactory, meters);
        using var activity = new Activity("test.retrieval").SetIdFormat(ActivityIdFormat.W3C).Start();

        var query = $"Who lights the lighthouse lamp {code}?";
        var result = await retriever.SearchAsync(user.Id, user.OrgId, new DocumentSearchRequest(query, TopK: 3, Scope: DocumentScope.User), CancellationToken.None);

        Assert.False(result.LowConfidence);
        var hit = Assert.Single(result.Hits);
        var line = Assert.Single(logs.Entries, e => e.Message.StartsWith("Retrieval ", StringComparison.Ordinal)).Message;
        Assert.Contains($"trace={activity.TraceId}", line, StringComparison.Ordinal);
        Assert.Contains("model=all-MiniLM-L6-v2 top_k=3 source=api", line, StringComparison.Ordinal);
        Assert.Contains("outcome=ok results=1", line, StringComparison.Ordinal);
        Assert.Contains(FormattableString.Invariant($"scores(similarity/rrf)=[{hit.Similarity:0.000}/{hit.Score:0.0000}]"), line, StringComparison.Ordinal);
        Assert.Contains(FormattableString.Invariant($"best={result.BestSimilarity:0.000}"), line, StringComparison.Ordinal);
        Assert.Matches(@"latency_ms=\d+\.\d ", line);
        // The query is user content ([UserContent]): never written as is, here without any redactor at all.
        Assert.Contains("query=", line, StringComparison.Ordinal);
        Assert.DoesNotContain(code, line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(logs.Entries, e => e.Message.StartsWith("Low-confidence", StringComparison.Ordinal));
        Assert.Equal(0, meters.LowConfidence);
    }

    [Fact]
    public async Task A_low_confidence_retrieval_returns_nothing_counts_it_and_logs_why()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await DocumentsTestData.IngestTextAsync(client, "Tomatoes", $"Tomato seedlings need warmth and light {Guid.NewGuid():N}.");
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Information));
        using var meters = new MeterScope();
        var retriever = CreateRetriever(loggerFactory, meters);
        using var activity = new Activity("test.low-confidence").SetIdFormat(ActivityIdFormat.W3C).Start();

        var result = await retriever.SearchAsync(user.Id, user.OrgId,
            new DocumentSearchRequest("Which year did the Byzantine empire fall?", TopK: 5, Scope: DocumentScope.User, Source: "tool"), CancellationToken.None);

        Assert.True(result.LowConfidence);
        Assert.Empty(result.Hits);
        Assert.True(result.BestSimilarity < result.Threshold);
        Assert.Equal(1, meters.LowConfidence);
        Assert.Equal(["tool"], meters.LowConfidenceSources);
        var warning = Assert.Single(logs.Entries, e => e.Message.StartsWith("Low-confidence retrieval", StringComparison.Ordinal)).Message;
        Assert.Contains($"trace={activity.TraceId}", warning, StringComparison.Ordinal);
        Assert.Contains(FormattableString.Invariant($"best similarity {result.BestSimilarity:0.000} is under 0.250 for all-MiniLM-L6-v2"), warning, StringComparison.Ordinal);
        var line = Assert.Single(logs.Entries, e => e.Message.StartsWith("Retrieval ", StringComparison.Ordinal)).Message;
        Assert.Contains("source=tool", line, StringComparison.Ordinal);
        Assert.Contains("outcome=low_confidence results=0", line, StringComparison.Ordinal);
    }

    private DocumentRetriever CreateRetriever(ILoggerFactory loggerFactory, MeterScope meters)
    {
        // The Api's own embedder (the default, MiniLM): the documents were ingested through the Api with it.
        var options = Options.Create(new DocumentsOptions());
        var embedder = new DocumentEmbedder(factory.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>(),
            factory.Services.GetRequiredService<IOptions<LlmOptions>>(), options);
        return new DocumentRetriever(factory.DataSource, embedder, factory.Services.GetRequiredService<FieldCipher>(), meters.Telemetry, options,
            loggerFactory.CreateLogger<DocumentRetriever>());
    }

    // Inserted like DocumentStore does, minus the job: only this test's handler ingests it.
    private async Task<Guid> InsertDocumentAsync(Guid userId, string text)
    {
        var id = Guid.CreateVersion7();
        var content = Encoding.UTF8.GetBytes(text);
        await using var command = factory.DataSource.CreateCommand("""
            WITH d AS (
                INSERT INTO documents (id, org_id, owner_user_id, scope, scope_key, title, format, size_bytes, content_sha256, metadata)
                SELECT $1, org_id, id, 'user', id, 'Status test', 'md', $3, $4, '{"titleGiven":true}' FROM users WHERE id = $2
                RETURNING id
            )
            INSERT INTO document_sources (document_id, content) SELECT id, $5 FROM d
            """);
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = (long)content.Length });
        command.Parameters.Add(new() { Value = SHA256.HashData(content) });
        command.Parameters.Add(new() { Value = content });
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
        return id;
    }

    // Runs the handler the way the worker does: in the job's transaction, committed when it succeeds.
    private async Task RunIngestionAsync(Guid documentId, GatedEmbeddingGenerator generator, int attempt, int maxAttempts)
    {
        var workers = await DocumentsTestData.WorkersAsync();
        var options = Options.Create(new DocumentsOptions { EmbeddingBatchSize = BatchSize });
        // The hashing double under the gate: instant, so the test controls the pace alone.
        var llm = Options.Create(new LlmOptions { Offline = { Embedder = OfflineEmbedder.Hashing } });
        var handler = new DocumentIngestionHandler(factory.DataSource, new DocumentEmbedder(generator, llm, options),
            DocumentsTestData.Get<FieldCipher>(workers), DocumentsTestData.Get<DocumentsTelemetry>(workers), options, NullLogger<DocumentIngestionHandler>.Instance);
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var now = DateTimeOffset.UtcNow;
        var context = new JobContext(new JobInfo(0, DocumentJobs.Ingest, attempt, maxAttempts, 0, null, now, now),
            JsonSerializer.SerializeToElement(new { documentId }), connection, transaction, "test", DocumentsTestData.Get<IJobQueue>(workers));
        await handler.HandleAsync(context, CancellationToken.None);
        await transaction.CommitAsync();
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, Guid id) =>
        await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}");

    private static async Task<JsonElement> PollAsync(HttpClient client, Guid id, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow + DocumentsTestData.Timeout;
        while (true)
        {
            var document = await GetAsync(client, id);
            if (done(document))
            {
                return document;
            }

            Assert.True(DateTime.UtcNow < deadline, $"document {id} stayed {document.GetRawText()}");
            await Task.Delay(50);
        }
    }

    private static (string?, int, int) Progress(JsonElement document) => (
        document.GetProperty("status").GetString(), document.GetProperty("chunkCount").GetInt32(), document.GetProperty("embeddedChunks").GetInt32());

    /// <summary>The hashing embedder, one call at a time when the test lets it through; or always failing.</summary>
    private sealed class GatedEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
    {
        private readonly OfflineEmbeddingGenerator _inner = new();
        private readonly SemaphoreSlim _gate = new(0);
        private volatile bool _open;

        /// <summary>Released once per call, when the call reaches the gate.</summary>
        public SemaphoreSlim Calls { get; } = new(0);

        public Exception? Failure { get; init; }

        public void Release() => _gate.Release();

        public void ReleaseAll()
        {
            _open = true;
            _gate.Release(100);
        }

        public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
            CancellationToken cancellationToken = default)
        {
            Calls.Release();
            if (!_open)
            {
                await _gate.WaitAsync(cancellationToken);
            }

            if (Failure is not null)
            {
                throw Failure;
            }

            return await _inner.GenerateAsync(values, options, cancellationToken);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => _inner.GetService(serviceType, serviceKey);

        public void Dispose()
        {
            _inner.Dispose();
            _gate.Dispose();
            Calls.Dispose();
        }
    }

    /// <summary>A DocumentsTelemetry of the test's own, and a listener on its low-confidence counter only.</summary>
    private sealed class MeterScope : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MeterListener _listener = new();
        private readonly List<string?> _sources = [];

        public MeterScope()
        {
            var meterFactory = _services.GetRequiredService<IMeterFactory>();
            Telemetry = new DocumentsTelemetry(meterFactory);
            // Only this factory's meter: the Api under test counts its own retrievals on a meter of the same name.
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == meterFactory && instrument.Name == "aspireai.documents.retrieval.low_confidence")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                lock (_sources)
                {
                    foreach (var tag in tags)
                    {
                        if (tag.Key == "source")
                        {
                            _sources.AddRange(Enumerable.Repeat(tag.Value as string, (int)value));
                        }
                    }
                }
            });
            _listener.Start();
        }

        public DocumentsTelemetry Telemetry { get; }

        public int LowConfidence
        {
            get
            {
                lock (_sources)
                {
                    return _sources.Count;
                }
            }
        }

        public IReadOnlyList<string?> LowConfidenceSources
        {
            get
            {
                lock (_sources)
                {
                    return [.. _sources];
                }
            }
        }

        public void Dispose()
        {
            _listener.Dispose();
            Telemetry.Dispose();
            _services.Dispose();
        }
    }

    /// <summary>
    /// Every status a document is given, in commit order, recorded by a trigger: the short steps (parsing) are seen
    /// even though no poll could catch them reliably. The trigger records every document's changes and is created once
    /// and left in the test database: dropping it takes an exclusive lock on <c>documents</c>, which under the whole
    /// suite waited behind other tests' transactions past the command timeout.
    /// </summary>
    private sealed class StatusHistory(ApiFactory factory, Guid documentId)
    {
        public static async Task<StatusHistory> StartAsync(ApiFactory factory, Guid documentId)
        {
            await using var command = factory.DataSource.CreateCommand("""
                CREATE TABLE IF NOT EXISTS test_document_status_history (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, document_id uuid NOT NULL, status text NOT NULL);
                CREATE OR REPLACE FUNCTION test_record_document_status() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO test_document_status_history (document_id, status) VALUES (NEW.id, NEW.status);
                    RETURN NEW;
                END $$;
                DO $$
                BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'test_document_status_history' AND tgrelid = 'documents'::regclass) THEN
                        CREATE TRIGGER test_document_status_history AFTER UPDATE OF status ON documents FOR EACH ROW
                            WHEN (OLD.status IS DISTINCT FROM NEW.status)
                            EXECUTE FUNCTION test_record_document_status();
                    END IF;
                END $$;
                """);
            await command.ExecuteNonQueryAsync();
            return new StatusHistory(factory, documentId);
        }

        public async Task<List<string>> ReadAsync()
        {
            await using var command = factory.DataSource.CreateCommand("SELECT status FROM test_document_status_history WHERE document_id = $1 ORDER BY seq");
            command.Parameters.Add(new() { Value = documentId });
            var statuses = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                statuses.Add(reader.GetString(0));
            }

            return statuses;
        }
    }
}
