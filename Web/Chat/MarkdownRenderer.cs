using System.Globalization;
using AspireAi.Web.ApiClients;
using Markdig;
using Markdig.Helpers;
using Markdig.Parsers;
using Markdig.Parsers.Inlines;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace AspireAi.Web.Chat;

// Renders model output as HTML that is safe to put into the page. The text is untrusted (a model can be
// prompted, through a document or a tool result, to emit anything), so:
// - raw HTML is not passed through but shown as text (DisableHtml);
// - links keep only http, https and mailto targets; any other (javascript:, data:, relative) becomes text;
// - images are not loaded but become links, because an image URL is fetched without a click and could
//   carry data out of the conversation in its query string;
// - no extension that adds attributes (GenericAttributes) or raw markup is enabled.
// Citation markers [S1], [S2] … (the n-th citation of the message, see Core/Documents/README.md) become links to
// the cited passage. They are recognised by the parser, not found in the HTML afterwards, so a marker in code, in
// a link's text or in an attribute stays text; a marker without a matching citation stays text too.
internal sealed class MarkdownRenderer
{
    private static readonly string[] AllowedSchemes = [Uri.UriSchemeHttp, Uri.UriSchemeHttps, Uri.UriSchemeMailto];

    private readonly MarkdownPipeline _pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseEmphasisExtras()
        .UseTaskLists()
        .UseAutoLinks()
        .UseSoftlineBreakAsHardlineBreak()
        .Use<CitationMarkerExtension>()
        .Build();

    /// <summary>Where a citation links to: Web's page of the cited chunk; null unless both ids are ids.</summary>
    public static string? CitationHref(ChatCitation citation)
    {
        ArgumentNullException.ThrowIfNull(citation);
        // Ids go into a URL path: only well-formed ones, written in one canonical form, ever do.
        return Guid.TryParse(citation.DocumentId, out var documentId) && Guid.TryParse(citation.ChunkId, out var chunkId)
            ? $"documents/{documentId:D}/chunks/{chunkId:D}"
            : null;
    }

    public string ToHtml(string? markdown, IReadOnlyList<ChatCitation>? citations = null)
    {
        try
        {
            return Render(markdown ?? string.Empty, citations);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or InsufficientExecutionStackException)
        {
            // Markdig refuses input nested past its depth limit (~128 levels); a stored answer like that must not
            // break its conversation page for good, so it is shown as what it is: encoded plain text.
            return PlainText(markdown ?? string.Empty);
        }
    }

    private static string PlainText(string text) =>
        "<p>" + System.Net.WebUtility.HtmlEncode(text).ReplaceLineEndings("<br />\n") + "</p>\n";

    private string Render(string markdown, IReadOnlyList<ChatCitation>? citations)
    {
        var document = Markdown.Parse(markdown, _pipeline);
        Sanitize(document);
        // After Sanitize, which would drop these relative links: they are built here from the citations, not taken
        // from the model's text.
        LinkCitations(document, citations ?? []);

        using var writer = new StringWriter();
        var renderer = new HtmlRenderer(writer);
        _pipeline.Setup(renderer);
        renderer.Render(document);
        writer.Flush();
        return writer.ToString();
    }

    private static void Sanitize(MarkdownDocument document)
    {
        // Materialised first: the loop replaces inlines in the tree it walks.
        foreach (var autolink in document.Descendants<AutolinkInline>().ToList())
        {
            if (!IsAllowed(autolink.Url))
            {
                autolink.ReplaceBy(new LiteralInline(autolink.Url));
            }
        }

        foreach (var link in document.Descendants<LinkInline>().ToList())
        {
            if (link.IsImage)
            {
                link.IsImage = false;
                if (link.FirstChild is null)
                {
                    link.AppendChild(new LiteralInline(string.IsNullOrWhiteSpace(link.Title) ? link.Url ?? "image" : link.Title));
                }
            }

            if (!IsAllowed(link.Url))
            {
                Unwrap(link);
                continue;
            }

            var attributes = link.GetAttributes();
            attributes.AddPropertyIfNotExist("rel", "nofollow noopener noreferrer");
            attributes.AddPropertyIfNotExist("target", "_blank");
        }
    }

    private static void LinkCitations(MarkdownDocument document, IReadOnlyList<ChatCitation> citations)
    {
        foreach (var marker in document.Descendants<CitationMarkerInline>().ToList())
        {
            var citation = marker.Number >= 1 && marker.Number <= citations.Count ? citations[marker.Number - 1] : null;
            if (citation is null || CitationHref(citation) is not { } href || IsInsideLink(marker))
            {
                marker.ReplaceBy(new LiteralInline(marker.Marker));
                continue;
            }

            var link = new LinkInline(href, string.IsNullOrWhiteSpace(citation.Title) ? "" : citation.Title);
            link.AppendChild(new LiteralInline(string.Create(CultureInfo.InvariantCulture, $"[{marker.Number}]")));
            var attributes = link.GetAttributes();
            attributes.AddClass("citation-ref");
            attributes.AddProperty("data-testid", "citation-ref");
            attributes.AddProperty("data-citation", marker.Number.ToString(CultureInfo.InvariantCulture));
            marker.ReplaceBy(link);
        }
    }

    // A link inside a link is not valid HTML, and the outer target is the model's: the marker stays text there.
    private static bool IsInsideLink(Inline inline)
    {
        for (var parent = inline.Parent; parent is not null; parent = parent.Parent)
        {
            if (parent is LinkInline)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAllowed(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && AllowedSchemes.Contains(uri.Scheme, StringComparer.OrdinalIgnoreCase)
        // Uri accepts some inputs a browser reads differently; the written form must start with the scheme too.
        && url!.StartsWith(uri.Scheme + ":", StringComparison.OrdinalIgnoreCase);

    // Keeps a link's text, drops the link.
    private static void Unwrap(LinkInline link)
    {
        var children = new List<Inline>();
        for (var child = link.FirstChild; child is not null; child = child.NextSibling)
        {
            children.Add(child);
        }

        foreach (var child in children)
        {
            child.Remove();
            link.InsertBefore(child);
        }

        link.Remove();
    }

    // [S1] is claimed before the link parser sees it, so a model cannot turn a marker into its own link with a
    // reference definition ("[S1]: https://elsewhere").
    private sealed class CitationMarkerExtension : IMarkdownExtension
    {
        public void Setup(MarkdownPipelineBuilder pipeline)
        {
            if (!pipeline.InlineParsers.Contains<CitationMarkerParser>())
            {
                pipeline.InlineParsers.InsertBefore<LinkInlineParser>(new CitationMarkerParser());
            }
        }

        public void Setup(MarkdownPipeline pipeline, IMarkdownRenderer renderer)
        {
        }
    }

    private sealed class CitationMarkerParser : InlineParser
    {
        private const int MaxDigits = 4;

        public CitationMarkerParser() => OpeningCharacters = ['['];

        public override bool Match(InlineProcessor processor, ref StringSlice slice)
        {
            if (slice.PeekChar(1) != 'S')
            {
                return false;
            }

            var length = 2;
            var number = 0;
            while (length < 2 + MaxDigits && char.IsAsciiDigit(slice.PeekChar(length)))
            {
                number = number * 10 + (slice.PeekChar(length) - '0');
                length++;
            }

            if (length == 2 || slice.PeekChar(length) != ']')
            {
                return false;
            }

            length++;
            var start = processor.GetSourcePosition(slice.Start, out var line, out var column);
            processor.Inline = new CitationMarkerInline(number, slice.Text.Substring(slice.Start, length))
            {
                Span = new SourceSpan(start, start + length - 1),
                Line = line,
                Column = column,
            };
            slice.Start += length;
            return true;
        }
    }

    // Lives only between parsing and LinkCitations, which replaces every one.
    private sealed class CitationMarkerInline(int number, string marker) : LeafInline
    {
        public int Number { get; } = number;

        public string Marker { get; } = marker;
    }
}
