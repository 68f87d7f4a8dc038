using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Jobs;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using AspireAi.Workers.Documents;

namespace AspireAi.Tests.Documents;

/// <summary>
/// Helpers for document tests. Ingestion runs in one in-process Workers host (the real JobWorker with the
/// documents handlers) shared by every documents test; each test uploads its own documents as its own users.
/// </summary>
internal static class DocumentsTestData
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly Lazy<Task<IHost>> SharedWorkers = new(StartWorkersAsync);

    /// <summary>The Workers host that ingests documents (started once, on first use).</summary>
    public static Task<IHost> WorkersAsync() => SharedWorkers.Value;

    /// <summary>A Workers host of the test's own, with extra settings; stop and dispose it.</summary>
    public static async Task<IHost> StartWorkersAsync(IReadOnlyDictionary<string, string?>? settings)
    {
        var servers = await TestServers.GetAsync();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = servers.PostgresConnectionString,
            ["Encryption:MasterKey"] = TestServers.EncryptionMasterKey,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Jobs:Workers"] = "2",
            ["Jobs:PollInterval"] = "00:00:01",
            [$"Jobs:Types:{DocumentJobs.Ingest}:BackoffBase"] = "00:00:00.200",
            [$"Jobs:Types:{DocumentJobs.Ingest}:BackoffCap"] = "00:00:00.500",
            // Tests run these handlers themselves, when they want to.
            [$"Jobs:Recurring:{DocumentJobs.Reembed}:Enabled"] = "false",
            [$"Jobs:Recurring:{DocumentJobs.RecallMonitor}:Enabled"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        // The Workers service gets ProblemDetails from AddServiceDefaults; Core's exception handlers need it.
        builder.Services.AddProblemDetails();
        builder.AddDatabase();
        builder.AddJobWorkers();
        builder.AddDocumentJobs();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static Task<IHost> StartWorkersAsync() => StartWorkersAsync(null);

    public static async Task<JsonElement> UploadTextAsync(HttpClient client, string title, string text, string? scope = null,
        HttpStatusCode expected = HttpStatusCode.Accepted, string? format = null, string[]? tags = null)
    {
        using var response = await client.PostAsJsonAsync("/v1/documents", new { title, text, scope, format, tags });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {expected}, got {(int)response.StatusCode}: {body}");
        return JsonElement.Parse(body);
    }

    public static async Task<HttpResponseMessage> UploadFileAsync(HttpClient client, string fileName, byte[] content, string? contentType = null,
        IReadOnlyDictionary<string, string>? fields = null, string path = "/v1/documents")
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        if (contentType is not null)
        {
            file.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        form.Add(file, "file", fileName);
        foreach (var (name, value) in fields ?? new Dictionary<string, string>())
        {
            form.Add(new StringContent(value, Encoding.UTF8), name);
        }

        return await client.PostAsync(path, form);
    }

    /// <summary>Polls the document until it is ready or failed, and returns it.</summary>
    public static async Task<JsonElement> WaitUntilDoneAsync(HttpClient client, Guid id, TimeSpan? timeout = null)
    {
        await WorkersAsync();
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var document = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}");
            if (document.GetProperty("status").GetString() is DocumentStatus.Ready or DocumentStatus.Failed)
            {
                return document;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Document {id} is still {document.GetProperty("status").GetString()} after {timeout ?? Timeout}.");
            }

            await Task.Delay(100);
        }
    }

    public static async Task<JsonElement> IngestTextAsync(HttpClient client, string title, string text, string? scope = null, string[]? tags = null)
    {
        var accepted = await UploadTextAsync(client, title, text, scope, tags: tags);
        var document = await WaitUntilDoneAsync(client, accepted.GetProperty("id").GetGuid());
        Assert.Equal(DocumentStatus.Ready, document.GetProperty("status").GetString());
        return document;
    }

    public static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A real .docx with a title, a heading, paragraphs and a table.</summary>
    public static byte[] Docx(string title, string heading, params string[] paragraphs)
    {
        using var stream = new MemoryStream();
        using (var document = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            document.PackageProperties.Title = title;
            var main = document.AddMainDocumentPart();
            var styles = main.AddNewPart<StyleDefinitionsPart>();
            styles.Styles = new Styles(
                new Style(new StyleName { Val = "heading 1" }, new StyleParagraphProperties(new OutlineLevel { Val = 0 }))
                {
                    Type = StyleValues.Paragraph,
                    StyleId = "Heading1",
                });
            var body = new Body(new Paragraph(new ParagraphProperties(new ParagraphStyleId { Val = "Heading1" }), new Run(new Text(heading))));
            foreach (var paragraph in paragraphs)
            {
                body.Append(new Paragraph(new Run(new Text(paragraph) { Space = SpaceProcessingModeValues.Preserve })));
            }

            body.Append(new Table(new TableRow(
                new TableCell(new Paragraph(new Run(new Text("Cell A")))),
                new TableCell(new Paragraph(new Run(new Text("Cell B")))))));
            main.Document = new Document(body);
        }

        return stream.ToArray();
    }

    public static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 12)].ToUpperInvariant();

    public static IServiceProvider Services(IHost host) => host.Services;

    public static T Get<T>(IHost host) where T : notnull => host.Services.GetRequiredService<T>();
}
