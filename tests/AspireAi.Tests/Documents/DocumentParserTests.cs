using System.Text;
using AspireAi.Core.Documents.Parsing;

namespace AspireAi.Tests.Documents;

/// <summary>
/// Nothing a file carries reaches PostgreSQL as U+0000 (text and jsonb refuse it): UTF-8 with NUL is binary and
/// refused, and NULs decoded from UTF-16 are cleaned out of the text, the title and the metadata.
/// </summary>
public sealed class DocumentParserTests
{
    [Fact]
    public void Nul_characters_of_a_utf16_html_file_are_cleaned_from_text_title_and_metadata()
    {
        var html = "<html lang=\"e\0n\"><head><title>Ro\0ta</title></head><body><h1>Sh\0ifts</h1><p>Anna\0 works on Monday.</p></body></html>";
        var content = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes(html)).ToArray();

        var parsed = DocumentParser.Parse(content, DocumentFormats.Html, 10_000);

        Assert.Equal("Rota", parsed.Title);
        Assert.Equal("en", parsed.Metadata["language"]);
        Assert.DoesNotContain('\0', parsed.Text);
        Assert.Contains("Anna works on Monday.", parsed.Text, StringComparison.Ordinal);
        Assert.Equal("Rota", DocumentTitle.FromContent(content, DocumentFormats.Html));
    }

    [Fact]
    public void Nul_in_utf8_text_is_binary_and_refused_with_a_reason()
    {
        var error = Assert.Throws<DocumentParseException>(() => DocumentParser.Parse("a\0b"u8.ToArray(), DocumentFormats.Text, 10_000));
        Assert.Equal("The file is not text: it contains binary data.", error.Message);
        Assert.Null(DocumentTitle.FromContent("a\0b"u8.ToArray(), DocumentFormats.Text));
    }
}
