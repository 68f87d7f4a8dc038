using System.Diagnostics.Metrics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using AspireAi.Workers.Documents;

namespace AspireAi.Tests.Documents;

/// <summary>The ingestion pipeline run by the real job worker: formats, failures, scale, re-embedding, the recall monitor.</summary>
public sealed class DocumentIngestionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Docx_and_html_are_parsed_into_headed_chunks_and_give_their_titles()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var docx = DocumentsTestData.Docx("Quarterly report", "Revenue", "Revenue grew by twelve percent in the third quarter.", "Costs stayed flat.");
        using var docxUpload = await DocumentsTestData.UploadFileAsync(client, "report.docx", docx);
        const string Html = """
            <html lang="en"><head><title>Team &amp; Rota</title><style>p { color: red }</style></head>
            <body><nav>Home | About</nav><h1>Rota</h1><p>Anna works on <b>Mondays</b>.</p>
            <script>alert('never')</script><ul><li>Ben: Tuesday</li><li>Cleo: Friday</li></ul>
            <img src="https://example.com/tracker.png" alt="Team photo"></body></html>
            """;
        using var htmlUpload = await DocumentsTestData.UploadFileAsync(client, "rota.html", Encoding.UTF8.GetBytes(Html), "text/html");

        var report = await DocumentsTestData.WaitUntilDoneAsync(client, (await docxUpload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        var rota = await DocumentsTestData.WaitUntilDoneAsync(client, (await htmlUpload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());

        Assert.Equal(("ready", "Quarterly report", "docx"), (report.GetProperty("status").GetString(), report.GetProperty("title").GetString(), report.GetProperty("format").GetString()));
        var reportChunk = (await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{report.GetProperty("id").GetGuid()}/chunks")).GetProperty("items")[0];
        Assert.Equal("Revenue", reportChunk.GetProperty("heading").GetString());
        Assert.Equal("Revenue grew by twelve percent in the third quarter.\n\nCosts stayed flat.\n\n| Cell A | Cell B |", reportChunk.GetProperty("content").GetString());

        Assert.Equal(("ready", "Team & Rota"), (rota.GetProperty("status").GetString(), rota.GetProperty("title").GetString()));
        var rotaChunk = (await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{rota.GetProperty("id").GetGuid()}/chunks")).GetProperty("items")[0];
        Assert.Equal("Rota", rotaChunk.GetProperty("heading").GetString());
        Assert.Equal("Anna works on Mondays.\n\n- Ben: Tuesday\n- Cleo: Friday\n\nTeam photo", rotaChunk.GetProperty("content").GetString());
        Assert.Equal("en", rota.GetProperty("metadata").GetProperty("language").GetString());
    }

    [Fact]
    public async Task A_malformed_docx_fails_with_a_reason_while_the_worker_keeps_ingesting()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var notZip = await DocumentsTestData.UploadFileAsync(client, "broken.docx", Encoding.UTF8.GetBytes("this is not a word document"));
        using var truncated = await DocumentsTestData.UploadFileAsync(client, "truncated.docx", DocumentsTestData.Docx("t", "h", "p")[..200]);
        using var wrongZip = await DocumentsTestData.UploadFileAsync(client, "other.docx", ZipWith("readme.txt", "hello"));
        var good = await DocumentsTestData.UploadTextAsync(client, "Good", $"A healthy document {Guid.NewGuid()}.");

        var failures = new List<JsonElement>();
        foreach (var response in new[] { notZip, truncated, wrongZip })
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            failures.Add(await DocumentsTestData.WaitUntilDoneAsync(client, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid()));
        }

        var ready = await DocumentsTestData.WaitUntilDoneAsync(client, good.GetProperty("id").GetGuid());

        Assert.All(failures, f =>
        {
            Assert.Equal("failed", f.GetProperty("status").GetString());
            Assert.StartsWith("The file is not a valid .docx document", f.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, f.GetProperty("chunkCount").GetInt32());
        });
        Assert.Contains("not a ZIP package", failures[0].GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        // A bad file is the document's failure, not the job's: no retries, nothing dead.
        foreach (var failure in failures)
        {
            Assert.Equal(1, await DocumentsTestData.CountAsync(factory.DataSource,
                "SELECT count(*) FROM jobs WHERE type = 'documents.ingest' AND payload->>'documentId' = $1 AND status = 'succeeded' AND attempts = 1",
                failure.GetProperty("id").GetGuid().ToString()));
        }
    }

    [Fact]
    public async Task Binary_content_and_documents_without_text_fail_with_their_reason()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var binary = await DocumentsTestData.UploadFileAsync(client, "data.txt", [0x00, 0x01, 0x02, 0xFF, 0x00, 0x10]);
        var headingOnly = await DocumentsTestData.UploadTextAsync(client, "Nothing", "# Only a heading", format: "md");

        var binaryDocument = await DocumentsTestData.WaitUntilDoneAsync(client, (await binary.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        var empty = await DocumentsTestData.WaitUntilDoneAsync(client, headingOnly.GetProperty("id").GetGuid());

        Assert.Equal(("failed", "The file is not text: it contains binary data."),
            (binaryDocument.GetProperty("status").GetString(), binaryDocument.GetProperty("failureReason").GetString()));
        Assert.Equal(("failed", "The document contains no text."), (empty.GetProperty("status").GetString(), empty.GetProperty("failureReason").GetString()));
    }

    [Fact]
    public async Task A_five_thousand_chunk_document_is_ingested_completely()
    {
        const int Chunks = 5_000;
        var (client, user) = await factory.CreateUserClientAsync();
        // One short section per chunk: headings are hard chunk boundaries.
        var text = new StringBuilder();
        for (var i = 0; i < Chunks; i++)
        {
            text.Append("## Item ").Append(i).Append("\n\nInventory line ").Append(i).Append(" holds part number P").Append(i * 7).Append(".\n\n");
        }

        var accepted = await DocumentsTestData.UploadTextAsync(client, "Inventory", text.ToString(), format: "md");
        var document = await DocumentsTestData.WaitUntilDoneAsync(client, accepted.GetProperty("id").GetGuid(), TimeSpan.FromSeconds(120));

        Assert.Equal("ready", document.GetProperty("status").GetString());
        Assert.Equal((Chunks, Chunks), (document.GetProperty("chunkCount").GetInt32(), document.GetProperty("embeddedChunks").GetInt32()));
        Assert.Equal(Chunks, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(DISTINCT ordinal) FROM document_chunks WHERE document_id = $1 AND scope_key = $2 AND embedding_model = 'all-MiniLM-L6-v2'",
            accepted.GetProperty("id").GetGuid(), user.Id));
        var search = await DocumentsApiTests.SearchAsync(client, "Which inventory line holds part number P34958?");
        Assert.Equal("Item 4994", search.GetProperty("results")[0].GetProperty("heading").GetString());
    }

    [Fact]
    public async Task After_a_change_of_embedding_model_queries_never_mix_models_and_the_reembed_job_migrates_the_chunks()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var code = DocumentsTestData.Unique("EMB");
        var document = await DocumentsTestData.IngestTextAsync(client, "Legacy", $"The vault password hint is {code}. Ask the night guard.");
        var id = document.GetProperty("id").GetGuid();
        var query = $"vault password hint {code}";
        // The query finds the document while its chunks are of the current model, by vector and by keyword: the
        // absence below is the model filter, not a query that finds nothing.
        var current = (await DocumentsApiTests.SearchAsync(client, query)).GetProperty("results").EnumerateArray()
            .Single(h => h.GetProperty("documentId").GetGuid() == id);
        Assert.Equal(1, current.GetProperty("vectorRank").GetInt32());
        Assert.True(current.GetProperty("fullTextMatch").GetBoolean());

        // As if this document had been embedded by a model that is no longer configured.
        await using (var legacy = factory.DataSource.CreateCommand("""
            UPDATE document_chunks SET embedding_model = 'legacy-model-0' WHERE document_id = $1;
            """))
        {
            legacy.Parameters.Add(new() { Value = id });
            await legacy.ExecuteNonQueryAsync();
        }

        await using (var legacyDocument = factory.DataSource.CreateCommand("UPDATE documents SET embedding_model = 'legacy-model-0' WHERE id = $1"))
        {
            legacyDocument.Parameters.Add(new() { Value = id });
            await legacyDocument.ExecuteNonQueryAsync();
        }

        // A query never mixes models: the old model's chunk is neither compared by vector nor returned by keyword,
        // although its text still matches the query.
        var before = await DocumentsApiTests.SearchAsync(client, query);
        Assert.DoesNotContain(id, DocumentsApiTests.Hits(before));
        Assert.All(before.GetProperty("results").EnumerateArray(), h => Assert.NotEqual(JsonValueKind.Null, h.GetProperty("similarity").ValueKind));
        var tokens = await TestCipher.For(factory.DataSource).TokensAsync(user.OrgId, query, CancellationToken.None);
        Assert.Equal(1, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM document_chunks WHERE document_id = $1 AND embedding_model = 'legacy-model-0' AND content_bi @> $2",
            id, tokens));

        var workers = await DocumentsTestData.WorkersAsync();
        await RunJobAsync<ReembedHandler>(workers, DocumentJobs.Reembed);

        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM document_chunks WHERE document_id = $1 AND embedding_model <> 'all-MiniLM-L6-v2'", id));
        Assert.Equal(1, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM documents WHERE id = $1 AND embedding_model = 'all-MiniLM-L6-v2' AND owner_user_id = $2", id, user.Id));
        var after = await DocumentsApiTests.SearchAsync(client, query);
        var found = after.GetProperty("results").EnumerateArray().First(h => h.GetProperty("documentId").GetGuid() == id);
        Assert.Equal(1, found.GetProperty("vectorRank").GetInt32());
        Assert.True(found.GetProperty("similarity").GetDouble() > 0.2);
    }

    [Fact]
    public async Task The_recall_monitor_compares_hnsw_with_exact_search_and_exports_recall_at_10()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var text = string.Join("\n\n", Enumerable.Range(0, 30).Select(i => $"## Topic {i}\n\nFact number {i} concerns subject {Guid.NewGuid():N}."));
        await DocumentsTestData.IngestTextAsync(client, "Facts", text);
        var workers = await DocumentsTestData.WorkersAsync();
        var measurements = new List<(double Value, string? Kind)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DocumentsTelemetry.Name && instrument.Name == "aspireai.documents.hnsw.recall")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "query.kind")
                {
                    measurements.Add((value, tag.Value as string));
                }
            }
        });
        listener.Start();

        var handler = await RunJobAsync<RecallMonitorHandler>(workers, DocumentJobs.RecallMonitor);
        listener.RecordObservableInstruments();

        var measurement = handler.LastMeasurement!;
        Assert.Equal(("all-MiniLM-L6-v2", 10), (measurement.Model, measurement.K));
        Assert.True(measurement.Samples > 0);
        Assert.InRange(measurement.FilteredRecall, 0.8, 1.0);
        Assert.InRange(measurement.GlobalRecall, 0.0, 1.0); // the whole shared test index: other tests' near-identical chunks tie
        Assert.InRange(measurement.NearestFound, 0.9, 1.0);
        Assert.Contains(measurements, m => m.Kind == "filtered" && m.Value == measurement.FilteredRecall);
        Assert.Contains(measurements, m => m.Kind == "global" && m.Value == measurement.GlobalRecall);

        // The run is kept for the retrieval-quality report (committed with the job).
        await using var kept = factory.DataSource.CreateCommand("""
            SELECT count(*) FROM recall_measurements
            WHERE model = $1 AND k = $2 AND samples = $3 AND filtered_recall = $4 AND global_recall = $5 AND nearest_found = $6
            """);
        foreach (var value in new object[] { measurement.Model, measurement.K, measurement.Samples, measurement.FilteredRecall, measurement.GlobalRecall, measurement.NearestFound })
        {
            kept.Parameters.Add(new() { Value = value });
        }
        Assert.Equal(1L, (long)(await kept.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task The_vector_column_is_as_wide_as_the_embeddings()
    {
        Assert.Equal(EmbeddingDefaults.Dimensions, await EmbeddingDimensionsCheck.ReadWidthAsync(factory.DataSource, CancellationToken.None));
    }

    // Runs a handler the way the worker does: in a transaction that commits with the job's effects.
    private async Task<T> RunJobAsync<T>(IHost workers, string type) where T : IJobHandler
    {
        using var scope = workers.Services.CreateScope();
        var handler = scope.ServiceProvider.GetRequiredService<T>();
        var queue = scope.ServiceProvider.GetRequiredService<IJobQueue>();
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var now = DateTimeOffset.UtcNow;
        var context = new JobContext(new JobInfo(0, type, 1, 1, 0, null, now, now), JsonElement.Parse("{}"), connection, transaction, "test", queue);
        await handler.HandleAsync(context, CancellationToken.None);
        await transaction.CommitAsync();
        return handler;
    }

    private static byte[] ZipWith(string name, string content)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = new StreamWriter(zip.CreateEntry(name).Open());
            entry.Write(content);
        }

        return stream.ToArray();
    }
}
