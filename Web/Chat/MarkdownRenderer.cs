using Markdig;
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
        .Build();

    public string ToHtml(string? markdown)
    {
        var document = Markdown.Parse(markdown ?? string.Empty, _pipeline);
        Sanitize(document);

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
}
