namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// A title for a text sent without one (JSON upload or the Web's paste form, where the title is optional): the
/// document's own title (markdown front matter or first heading, HTML &lt;title&gt; or first heading), else its first line,
/// cut at a word to <see cref="MaxChars"/>. The upload answers with it at once; ingestion may still replace it with
/// the title the parser finds in the whole document (the title was not given).
/// </summary>
public static class DocumentTitle
{
    /// <summary>Long enough to tell documents apart in a list, short enough not to be the whole first paragraph.</summary>
    public const int MaxChars = 80;

    // A title is at the start; parsing all of a 10 MB upload during the request to find it is not worth it.
    private const int HeadChars = 8 * 1024;

    /// <summary>The derived title, or null when the content holds no text (or is not a text format).</summary>
    public static string? FromContent(ReadOnlySpan<byte> content, string format)
    {
        if (format is not (DocumentFormats.Text or DocumentFormats.Markdown or DocumentFormats.Html))
        {
            return null;
        }

        try
        {
            // Decoded whole (cheap next to reading the body): a byte cut could split a character and change the encoding guess.
            var text = DocumentParser.DecodeText(content);
            var head = text.Length <= HeadChars ? text : text[..HeadChars];
            var parsed = DocumentParser.ExtractText(head, format, HeadChars * 2);
            var firstLine = TextCleaner.Clean(parsed.Text).Split('\n').Select(l => l.TrimStart('#').Trim()).FirstOrDefault(l => l.Length > 0);
            return Cap(TextCleaner.OneLine(parsed.Title) ?? TextCleaner.OneLine(firstLine));
        }
        catch (Exception ex) when (ex is DocumentParseException or System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            // Not readable as its format: ingestion will fail it with the reason; the fallback title does meanwhile.
            return null;
        }
    }

    private static string? Cap(string? title)
    {
        if (title is null || title.Length <= MaxChars)
        {
            return title;
        }

        var cut = title.LastIndexOf(' ', MaxChars - 1);
        return string.Concat(title.AsSpan(0, cut > MaxChars / 2 ? cut : MaxChars - 1).TrimEnd(), "…");
    }
}
