using System.Text;
using System.Text.RegularExpressions;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>The file formats the ingestion pipeline reads.</summary>
public static class DocumentFormats
{
    public const string Text = "txt";
    public const string Markdown = "md";
    public const string Html = "html";
    public const string Docx = "docx";
    public const string Pdf = "pdf";

    public static IReadOnlyList<string> All { get; } = [Text, Markdown, Html, Docx, Pdf];

    /// <summary>"txt, md, html, docx, pdf", for error messages.</summary>
    public static string Supported => string.Join(", ", All);

    public static bool IsValid(string? format) => format is not null && All.Contains(format, StringComparer.Ordinal);

    /// <summary>The format named by a file name's extension, else by the content type; null when neither is supported.</summary>
    public static string? Detect(string? fileName, string? contentType)
    {
        var extension = Path.GetExtension(fileName ?? "").TrimStart('.').ToLowerInvariant();
        var byExtension = extension switch
        {
            "txt" or "text" or "log" or "csv" => Text,
            "md" or "markdown" or "mdown" or "mkd" => Markdown,
            "html" or "htm" or "xhtml" => Html,
            "docx" => Docx,
            "pdf" => Pdf,
            _ => null,
        };
        if (byExtension is not null)
        {
            return byExtension;
        }

        var mediaType = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        return mediaType switch
        {
            "text/plain" => Text,
            "text/markdown" or "text/x-markdown" => Markdown,
            "text/html" or "application/xhtml+xml" => Html,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Docx,
            "application/pdf" => Pdf,
            _ => null,
        };
    }
}

/// <summary>The text of a document, cleaned, with headings as markdown <c>#</c> lines, plus what the parser learned.</summary>
/// <param name="Text">Cleaned text; headings are lines starting with one to six <c>#</c>.</param>
/// <param name="Title">A title found in the document (HTML &lt;title&gt;, docx properties, first heading), if any.</param>
/// <param name="Metadata">Facts for <c>documents.metadata</c> (never content).</param>
public sealed record ParsedDocument(string Text, string? Title, IReadOnlyDictionary<string, object> Metadata)
{
    /// <summary>For paged formats (PDF): where each page with text starts in <see cref="Text"/>, in page order.</summary>
    public IReadOnlyList<DocumentPage>? Pages { get; init; }
}

/// <summary>The file cannot be read as its format. The message is the reason shown to the user.</summary>
public sealed class DocumentParseException : Exception
{
    public DocumentParseException() { }

    public DocumentParseException(string message) : base(message) { }

    public DocumentParseException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>Parses and cleans an uploaded file. Pure and synchronous: no network, no URL is ever fetched.</summary>
public static class DocumentParser
{
    /// <exception cref="DocumentParseException">The content is not a readable document of <paramref name="format"/>.</exception>
    public static ParsedDocument Parse(ReadOnlySpan<byte> content, string format, int maxChars) =>
        Parse(content.ToArray(), format, maxChars, new DocumentParseLimits(), CancellationToken.None);

    /// <summary>Parses within <paramref name="limits"/>: a file that crosses one fails with a reason naming it.</summary>
    /// <exception cref="DocumentParseException">The content is not a readable document of <paramref name="format"/>, or crossed a limit.</exception>
    public static ParsedDocument Parse(byte[] content, string format, int maxChars, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(limits);
        // Parsing is synchronous CPU work; the walkers and the package inspection check this token as they go, and
        // every regex has its own match timeout, so a hostile file cannot hold a worker longer than the limit.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limits.ParseTimeout);
        try
        {
            return ParseWithin(content, format, maxChars, limits, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new DocumentParseException(
                $"Parsing the document took longer than {limits.ParseTimeout.TotalSeconds:N0} s (Documents:Limits:ParseTimeout).");
        }
        catch (RegexMatchTimeoutException ex)
        {
            throw new DocumentParseException("Parsing the document took too long: a line of its text could not be read in time.", ex);
        }
    }

    private static ParsedDocument ParseWithin(byte[] content, string format, int maxChars, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        var parsed = format switch
        {
            DocumentFormats.Docx => DocxText.Extract(content, maxChars, limits, cancellationToken),
            DocumentFormats.Pdf => PdfText.Extract(content, maxChars, limits, cancellationToken),
            DocumentFormats.Text or DocumentFormats.Markdown or DocumentFormats.Html => ExtractText(DecodeText(content), format, maxChars, cancellationToken),
            _ => throw new DocumentParseException($"The format '{format}' is not supported. Supported formats: {DocumentFormats.Supported}."),
        };
        var text = TextCleaner.Clean(parsed.Text);
        if (text.Length > maxChars)
        {
            throw new DocumentParseException(
                $"The document holds {text.Length:N0} characters of text; the limit is {maxChars:N0} (Documents:MaxTextChars).");
        }

        if (text.Length == 0)
        {
            throw new DocumentParseException("The document contains no text.");
        }

        // Strings the parsers lift from the file (author, language) go to jsonb, which refuses \u0000 like text does.
        var metadata = new Dictionary<string, object>();
        foreach (var (key, value) in parsed.Metadata)
        {
            if ((value is string raw ? TextCleaner.OneLine(raw) : value) is { } clean)
            {
                metadata[key] = clean;
            }
        }

        if (parsed.Pages is not null && !string.Equals(text, parsed.Text, StringComparison.Ordinal))
        {
            // Page offsets point into the parser's text; cleaning is expected to leave a PDF's (already clean) text alone.
            throw new InvalidOperationException("Cleaning moved the text of a paged document; its page offsets would be wrong.");
        }

        metadata["characters"] = text.Length;
        metadata["words"] = CountWords(text);
        return parsed with { Text = text, Metadata = metadata, Title = TextCleaner.OneLine(parsed.Title) };
    }

    /// <summary>Text, title and metadata of decoded text in one of the text formats (txt, md, html), before cleaning.</summary>
    internal static ParsedDocument ExtractText(string text, string format, int maxChars, CancellationToken cancellationToken = default) => format switch
    {
        DocumentFormats.Markdown => MarkdownText.Extract(text, cancellationToken),
        DocumentFormats.Html => HtmlText.Extract(text, maxChars, cancellationToken),
        _ => new ParsedDocument(text, null, new Dictionary<string, object>()),
    };

    /// <summary>
    /// Decodes text bytes: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, and otherwise
    /// Windows-1252-like Latin-1 for legacy files. Binary content is refused.
    /// </summary>
    public static string DecodeText(ReadOnlySpan<byte> content)
    {
        if (content.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            content = content[3..];
        }
        else if (content.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return Encoding.Unicode.GetString(content[2..]);
        }
        else if (content.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return Encoding.BigEndianUnicode.GetString(content[2..]);
        }

        if (content.IndexOf((byte)0) >= 0)
        {
            throw new DocumentParseException("The file is not text: it contains binary data.");
        }

        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(content);
        }
    }

    private static int CountWords(string text)
    {
        var words = 0;
        var inWord = false;
        foreach (var c in text)
        {
            var letter = char.IsLetterOrDigit(c);
            if (letter && !inWord)
            {
                words++;
            }

            inWord = letter;
        }

        return words;
    }
}
