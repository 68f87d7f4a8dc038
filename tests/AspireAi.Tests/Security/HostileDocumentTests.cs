using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Security;

/// <summary>
/// Files built to hurt the parser: thousands of nested content controls (a stack overflow in OpenXml's loader kills
/// the process), packages that expand a thousandfold, and Markdown lines that made the old patterns quadratic.
/// </summary>
public sealed class HostileDocumentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string MainHead = """<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Padded.</w:t></w:r></w:p>""";
    private const string MainTail = "</w:body></w:document>";

    [Fact]
    public void A_docx_of_10000_nested_content_controls_is_refused_before_OpenXml_loads_it()
    {
        var docx = NestedContentControls(10_000);
        Assert.InRange(docx.Length, 1, 8 * 1024);

        var error = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(docx, DocumentFormats.Docx, 1_000_000));

        Assert.Contains("nested more than 256 levels deep (Documents:Limits:MaxXmlDepth)", error.Message, StringComparison.Ordinal);
        Assert.Contains("word/document.xml", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Content_controls_nested_below_the_limit_are_read_by_the_iterative_walker()
    {
        // 100 content controls are 200 levels of XML (each is an sdt and its sdtContent).
        var parsed = DocumentParser.Parse(NestedContentControls(100), DocumentFormats.Docx, 1_000_000);

        Assert.Equal("Deep inside.", parsed.Text);
    }

    [Fact]
    public void A_package_that_expands_past_the_ratio_is_refused_as_soon_as_the_cap_is_crossed()
    {
        // 256 MB of XML that compresses to a few hundred KB.
        var bomb = Package(("word/document.xml", 256L * 1024 * 1024));
        Assert.InRange(bomb.Length, 1, 2 * 1024 * 1024);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(bomb, DocumentFormats.Docx, 1_000_000));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.StartsWith("The document is refused as a possible decompression bomb: it expands to more than 100 times its size (Documents:Limits:MaxExpansionRatio)",
            error.Message, StringComparison.Ordinal);
        // Streamed through a small buffer and stopped at the cap: nowhere near the 256 MB it would expand to.
        Assert.InRange(allocated, 0, 32L * 1024 * 1024);
    }

    [Fact]
    public void A_package_over_the_absolute_cap_is_refused_with_that_reason_even_when_spread_over_many_parts()
    {
        var limits = new DocumentParseLimits { MaxExpandedBytes = 3 * 1024 * 1024, MaxExpansionRatio = 100_000 };
        var package = Package(("word/document.xml", 1024 * 1024), ("word/a.bin", 1024 * 1024), ("word/b.bin", 1024 * 1024), ("word/c.bin", 1024 * 1024));

        var error = Assert.Throws<DocumentParseException>(() =>
            DocumentParser.Parse(package, DocumentFormats.Docx, 1_000_000, limits, CancellationToken.None));

        Assert.Equal("The document is refused as a possible decompression bomb: it expands to more than 3,145,728 bytes (Documents:Limits:MaxExpandedBytes); reading stopped there.",
            error.Message);
    }

    [Fact]
    public void A_parse_that_outlives_its_time_limit_fails_with_that_reason()
    {
        // A limit no parse can meet (set here directly; configuration allows one second at the least): the walker
        // notices the deadline between lines and the document fails with the limit's name.
        var limits = new DocumentParseLimits { ParseTimeout = TimeSpan.Zero };
        var markdown = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("Some *text* with [a link](https://example.com) here.\n", 200_000)));

        var error = Assert.Throws<DocumentParseException>(() =>
            DocumentParser.Parse(markdown, DocumentFormats.Markdown, 200_000_000, limits, CancellationToken.None));

        Assert.StartsWith("Parsing the document took longer than ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(" (Documents:Limits:ParseTimeout).", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("_a ")]
    [InlineData("*a ")]
    [InlineData("~~a ")]
    [InlineData("[a ")]
    [InlineData("![a ")]
    [InlineData("<http:a")]
    public void A_long_markdown_line_of_openers_that_never_close_is_read_in_linear_time(string opener)
    {
        // 60,000 openers on one line: the backtracking patterns rescanned the rest of the line from each one and ran
        // into their match timeout; the linear ones read it once.
        var line = string.Concat(Enumerable.Repeat(opener, 60_000));

        var parsed = DocumentParser.Parse(Encoding.UTF8.GetBytes(line), DocumentFormats.Markdown, 1_000_000);

        Assert.Equal(line.Trim(), parsed.Text);
    }

    [Fact]
    public void The_emphasis_scanner_finds_exactly_what_the_old_pattern_found()
    {
        var reference = new Regex(@"(\*\*|__|~~|\*|(?<![\w])_)(?=\S)(.+?)(?<=\S)\1");
        var random = new Random(18);
        const string alphabet = "*_~ ab\u00e9";
        for (var i = 0; i < 20_000; i++)
        {
            var chars = new char[random.Next(0, 24)];
            for (var c = 0; c < chars.Length; c++)
            {
                chars[c] = alphabet[random.Next(alphabet.Length)];
            }

            var line = new string(chars);
            Assert.Equal(reference.Replace(line, "$2"), Emphasis.Strip(line));
        }

        Assert.Equal("bold, italic, snake_case_name and struck", Emphasis.Strip("**bold**, _italic_, snake_case_name and ~~struck~~"));
    }

    [Fact]
    public async Task A_nested_docx_and_a_bomb_fail_with_their_reasons_while_the_worker_keeps_ingesting()
    {
        await DocumentsTestData.WorkersAsync();
        var (client, _) = await factory.CreateUserClientAsync();
        using var nested = await DocumentsTestData.UploadFileAsync(client, "nested.docx", NestedContentControls(10_000));
        using var bomb = await DocumentsTestData.UploadFileAsync(client, "bomb.docx", Package(("word/document.xml", 64L * 1024 * 1024)));
        var good = await DocumentsTestData.UploadTextAsync(client, "Still fine", $"A healthy document {Guid.NewGuid()}.");

        var nestedDone = await WaitAsync(client, nested);
        var bombDone = await WaitAsync(client, bomb);
        var goodDone = await DocumentsTestData.WaitUntilDoneAsync(client, good.GetProperty("id").GetGuid());

        Assert.Equal("failed", nestedDone.GetProperty("status").GetString());
        Assert.Contains("(Documents:Limits:MaxXmlDepth)", nestedDone.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Equal("failed", bombDone.GetProperty("status").GetString());
        Assert.Contains("decompression bomb", bombDone.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Equal("ready", goodDone.GetProperty("status").GetString());
        Assert.Equal(0L, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM document_chunks WHERE document_id = ANY($1)",
            new[] { nestedDone.GetProperty("id").GetGuid(), bombDone.GetProperty("id").GetGuid() }));
    }

    [Fact]
    public void A_pdf_whose_page_content_inflates_a_thousandfold_is_refused_before_PdfPig_reads_it()
    {
        // 128 MB of drawing operators that compress to well under a megabyte.
        var bomb = PdfWithFlateContent(128L * 1024 * 1024);
        Assert.InRange(bomb.Length, 1, 1024 * 1024);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(bomb, DocumentFormats.Pdf, 1_000_000));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.StartsWith("The document is refused as a possible decompression bomb: it expands to more than ", error.Message, StringComparison.Ordinal);
        Assert.Contains("reading stopped", error.Message, StringComparison.Ordinal);
        // Inflated through a small buffer and stopped at the cap; PdfPig would have held all 128 MB in one array.
        Assert.InRange(allocated, 0, 32L * 1024 * 1024);

        // The same file within the budget gets to PdfPig, which reads the page and finds no text on it.
        var small = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(PdfWithFlateContent(1024 * 1024), DocumentFormats.Pdf, 1_000_000));
        Assert.StartsWith("The PDF has no text layer", small.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pdf_stream_compressed_over_and_over_or_over_the_absolute_cap_is_refused_with_that_reason()
    {
        var limits = new DocumentParseLimits { MaxExpandedBytes = 3 * 1024 * 1024, MaxExpansionRatio = 100_000 };

        var overCap = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(PdfWithFlateContent(8L * 1024 * 1024), DocumentFormats.Pdf, 1_000_000, limits, CancellationToken.None));
        var layered = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse(PdfWithFlateContent(1024, layers: 5), DocumentFormats.Pdf, 1_000_000));

        Assert.Equal("The document is refused as a possible decompression bomb: it expands to more than 3,145,728 bytes (Documents:Limits:MaxExpandedBytes); reading stopped there.",
            overCap.Message);
        Assert.Equal("The PDF is refused as a possible decompression bomb: a stream is compressed 5 times over.", layered.Message);
    }

    [Fact]
    public async Task An_uploaded_pdf_bomb_fails_with_its_reason_and_leaves_no_chunks()
    {
        await DocumentsTestData.WorkersAsync();
        var (client, _) = await factory.CreateUserClientAsync();

        using var upload = await DocumentsTestData.UploadFileAsync(client, "bomb.pdf", PdfWithFlateContent(128L * 1024 * 1024), "application/pdf");
        var done = await WaitAsync(client, upload);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Contains("decompression bomb", done.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Contains("(Documents:Limits:MaxExpan", done.GetProperty("failureReason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0L, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM document_chunks WHERE document_id = $1", done.GetProperty("id").GetGuid()));
    }

    private static async Task<JsonElement> WaitAsync(HttpClient client, HttpResponseMessage upload)
    {
        Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
        var id = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return await DocumentsTestData.WaitUntilDoneAsync(client, id);
    }

    /// <summary>A minimal valid .docx whose body nests <paramref name="depth"/> content controls around one paragraph.</summary>
    internal static byte[] NestedContentControls(int depth)
    {
        var body = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            body.Append("<w:sdt><w:sdtContent>");
        }

        body.Append("<w:p><w:r><w:t>Deep inside.</w:t></w:r></w:p>");
        for (var i = 0; i < depth; i++)
        {
            body.Append("</w:sdtContent></w:sdt>");
        }

        var document = $"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>""";
        return Zip(WordParts(document));
    }

    /// <summary>A .docx whose parts expand to the given sizes (the main part is XML padded with blanks).</summary>
    internal static byte[] Package(params (string Name, long Bytes)[] parts)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in WordParts(MainHead + MainTail))
            {
                if (name == "word/document.xml")
                {
                    continue;
                }

                using var writer = zip.CreateEntry(name).Open();
                writer.Write(Encoding.UTF8.GetBytes(content));
            }

            var blanks = new byte[1024 * 1024];
            Array.Fill(blanks, (byte)' ');
            foreach (var (name, size) in parts)
            {
                using var entry = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
                var isMain = name == "word/document.xml";
                var head = isMain ? Encoding.UTF8.GetBytes(MainHead) : [];
                var tail = isMain ? Encoding.UTF8.GetBytes(MainTail) : [];
                entry.Write(head);
                for (var written = (long)head.Length + tail.Length; written < size; written += blanks.Length)
                {
                    entry.Write(blanks, 0, (int)Math.Min(blanks.Length, size - written));
                }

                entry.Write(tail);
            }
        }

        return stream.ToArray();
    }

    private static (string Name, string Content)[] WordParts(string document) =>
    [
        ("[Content_Types].xml", """<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"""),
        ("_rels/.rels", """<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"""),
        ("word/document.xml", document),
    ];

    private static byte[] Zip((string Name, string Content)[] parts)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in parts)
            {
                using var entry = zip.CreateEntry(name, CompressionLevel.SmallestSize).Open();
                entry.Write(Encoding.UTF8.GetBytes(content));
            }
        }

        return stream.ToArray();
    }

    /// <summary>
    /// A well-formed one-page PDF (with its cross-reference table) whose page content is <paramref name="inflatedBytes"/>
    /// of line-drawing operators, Flate-compressed <paramref name="layers"/> times.
    /// </summary>
    internal static byte[] PdfWithFlateContent(long inflatedBytes, int layers = 1)
    {
        var block = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0 0 m 10 10 l S\n", 4096)));
        byte[] data;
        // The first layer straight from the blocks: the inflated content is never held whole.
        using (var first = new MemoryStream())
        {
            using (var zlib = new ZLibStream(first, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (var written = 0L; written < inflatedBytes; written += block.Length)
                {
                    zlib.Write(block, 0, (int)Math.Min(block.Length, inflatedBytes - written));
                }
            }

            data = first.ToArray();
        }

        for (var layer = 1; layer < layers; layer++)
        {
            using var packed = new MemoryStream();
            using (var zlib = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true))
            {
                zlib.Write(data);
            }

            data = packed.ToArray();
        }

        var filters = string.Join(' ', Enumerable.Repeat("/FlateDecode", layers));
        using var pdf = new MemoryStream();
        var offsets = new List<long>();
        void Write(string text) => pdf.Write(Encoding.ASCII.GetBytes(text));
        Write("%PDF-1.7\n");
        offsets.Add(pdf.Position);
        Write("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
        offsets.Add(pdf.Position);
        Write("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
        offsets.Add(pdf.Position);
        Write("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>\nendobj\n");
        offsets.Add(pdf.Position);
        Write($"4 0 obj\n<< /Length {data.Length} /Filter [{filters}] >>\nstream\n");
        pdf.Write(data);
        Write("\nendstream\nendobj\n");
        var xref = pdf.Position;
        Write($"xref\n0 {offsets.Count + 1}\n0000000000 65535 f \n");
        foreach (var offset in offsets)
        {
            Write($"{offset:D10} 00000 n \n");
        }

        Write($"trailer\n<< /Size {offsets.Count + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n");
        return pdf.ToArray();
    }
}
