using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Documents.Chunking;
using AspireAi.Core.Documents.Ingestion;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Encryption;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Documents;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace AspireAi.Tests.Documents;

public sealed class PdfIngestionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    /// <summary>A PDF whose pages hold the given lines (text, height from the bottom), drawn in the order given; no lines = a page without text.</summary>
    internal static byte[] Pdf(params (string Text, double Y)[][] pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var lines in pages)
        {
            var page = builder.AddPage(PageSize.A4);
            foreach (var (text, y) in lines)
            {
                page.AddText(text, 10, new PdfPoint(50, y), font);
            }
        }
        return builder.Build();
    }

    // Lines of one paragraph, top down from y, 14 points apart.
    private static (string, double)[] Paragraph(double y, params string[] lines) => [.. lines.Select((l, i) => (l, y - 14 * i))];

    private static string[] Sentences(string topic, int count) =>
        [.. Enumerable.Range(1, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"Fact {i} about {topic} is written on this line of the page."))];

    [Fact]
    public void Text_comes_in_reading_order_page_by_page_and_pages_without_text_are_reported()
    {
        // Page 1 draws its lower paragraph first; reading order puts the upper one first.
        var pdf = Pdf(
            [.. Paragraph(300, "The second paragraph comes after the first one."), .. Paragraph(750, "The first paragraph opens the report.")],
            [],
            Paragraph(750, "Page three holds the conclusion of the report."));

        var parsed = DocumentParser.Parse(pdf, DocumentFormats.Pdf, 100_000);

        Assert.Equal("The first paragraph opens the report.\n\nThe second paragraph comes after the first one.\n\nPage three holds the conclusion of the report.", parsed.Text);
        Assert.Equal(new[] { new DocumentPage(1, 0), new DocumentPage(3, parsed.Text.IndexOf("Page three", StringComparison.Ordinal)) }, parsed.Pages);
        Assert.Equal(3, parsed.Metadata["pages"]);
        Assert.Equal(new[] { 2 }, (IEnumerable<int>)parsed.Metadata["pagesWithoutText"]);
        Assert.Contains("not searchable: 2", (string)parsed.Metadata["warning"], StringComparison.Ordinal);
    }

    [Fact]
    public void A_pdf_without_any_text_layer_or_not_a_pdf_at_all_is_refused_with_the_reason()
    {
        var scanned = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(Pdf([], []), DocumentFormats.Pdf, 100_000));
        Assert.Equal("The PDF has no text layer: its 2 page(s) look scanned (images only), and text recognition (OCR) is not supported.", scanned.Message);

        var broken = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse("%PDF-1.7 this is not really a PDF"u8, DocumentFormats.Pdf, 100_000));
        Assert.Equal("The file is not a readable PDF.", broken.Message);

        var tooLong = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(Pdf(Paragraph(750, Sentences("size", 10))), DocumentFormats.Pdf, 100));
        Assert.Contains("Documents:MaxTextChars", tooLong.Message, StringComparison.Ordinal);
        Assert.Equal(DocumentFormats.Pdf, DocumentFormats.Detect("Report.PDF", null));
        Assert.Equal(DocumentFormats.Pdf, DocumentFormats.Detect("upload", "application/pdf"));
    }

    [Fact]
    public void The_parse_deadline_stops_a_pdf_between_its_pages()
    {
        var pdf = Pdf([("First page.", 700)], [("Second page.", 700)]);
        using var expired = new CancellationTokenSource();
        expired.Cancel();

        Assert.Throws<OperationCanceledException>(() => PdfText.Extract(pdf, 100_000, expired.Token));
        Assert.Contains("Second page.", PdfText.Extract(pdf, 100_000, CancellationToken.None).Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_chunk_knows_the_page_it_starts_on_and_the_page_it_runs_onto()
    {
        DocumentPage[] pages = [new(1, 0), new(2, 100), new(5, 200)];

        Assert.Equal("""{"page":1}""", DocumentIngestionHandler.ChunkMetadata(new TextChunk(0, null, "x", 1, 0, 90, false), pages));
        Assert.Equal("""{"page":1,"pageEnd":2}""", DocumentIngestionHandler.ChunkMetadata(new TextChunk(1, null, "x", 1, 50, 150, false), pages));
        Assert.Equal("""{"splitSentence":true,"page":5}""", DocumentIngestionHandler.ChunkMetadata(new TextChunk(2, null, "x", 1, 200, 250, true), pages));
        Assert.Equal("{}", DocumentIngestionHandler.ChunkMetadata(new TextChunk(0, null, "x", 1, 0, 90, false), null));
    }

    [Fact]
    public async Task An_uploaded_pdf_is_chunked_with_page_numbers_that_search_and_chat_citations_show()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var code = DocumentsTestData.Unique("VAULT");
        var pdf = Pdf(
            Paragraph(800, Sentences("the warehouse", 30)),
            [],
            Paragraph(800, [.. Sentences("the garden", 28), $"The vault code of the museum is {code}."]));

        using var upload = await DocumentsTestData.UploadFileAsync(client, "museum.pdf", pdf, "application/pdf", new Dictionary<string, string> { ["title"] = "Museum report" });
        Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
        var id = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var document = await DocumentsTestData.WaitUntilDoneAsync(client, id);

        Assert.Equal("ready", document.GetProperty("status").GetString());
        Assert.Equal("pdf", document.GetProperty("format").GetString());
        var metadata = document.GetProperty("metadata");
        Assert.Equal(3, metadata.GetProperty("pages").GetInt32());
        Assert.Equal(new[] { 2 }, metadata.GetProperty("pagesWithoutText").EnumerateArray().Select(p => p.GetInt32()));

        // Every chunk has a page; page 1's text is on page 1 and the code on page 3, never on the page without text.
        await using var command = factory.DataSource.CreateCommand(
            "SELECT content, key_id, content_ct, (metadata->>'page')::int, (metadata->>'pageEnd')::int FROM document_chunks WHERE document_id = $1 ORDER BY ordinal");
        command.Parameters.Add(new() { Value = id });
        var chunks = new List<(string Content, int? Page, int? PageEnd)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                chunks.Add(((await TestCipher.OpenAsync(factory.DataSource, reader, 0, EncryptedField.ChunkContent))!,
                    reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetInt32(4)));
            }
        }
        Assert.True(chunks.Count >= 2, $"{chunks.Count} chunks");
        Assert.All(chunks, c => Assert.NotNull(c.Page));
        Assert.All(chunks, c => Assert.NotEqual(2, c.Page));
        Assert.Equal(1, chunks[0].Page);
        var withCode = Assert.Single(chunks, c => c.Content.Contains(code, StringComparison.Ordinal));
        Assert.Equal(3, withCode.PageEnd ?? withCode.Page);

        // Search results and chat citations carry the page.
        var search = await DocumentsApiTests.SearchAsync(client, $"vault code of the museum {code}");
        var hit = search.GetProperty("results").EnumerateArray().First(h => h.GetProperty("documentId").GetGuid() == id);
        Assert.Equal(withCode.Page, hit.GetProperty("page").GetInt32());

        var conversation = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = $"What is the vault code of the museum ({code})?" }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        var citation = reply.GetProperty("citations").EnumerateArray().First(c => c.GetProperty("documentId").GetGuid() == id);
        Assert.Equal(withCode.Page, citation.GetProperty("page").GetInt32());
        Assert.Contains(code, reply.GetProperty("content").GetString(), StringComparison.Ordinal);
    }
}
