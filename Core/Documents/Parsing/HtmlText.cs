using System.Text;
using HtmlAgilityPack;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// HTML to the pipeline's text with HtmlAgilityPack: headings become <c>#</c> lines, block elements line breaks,
/// list items "- ", table cells " | "; scripts, styles, navigation and forms are dropped. Nothing referenced by
/// the page (images, frames, links, stylesheets) is ever fetched.
/// </summary>
internal static class HtmlText
{
    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase)
    {
        "script", "style", "noscript", "template", "svg", "canvas", "head", "nav", "form", "button", "select",
        "iframe", "object", "embed", "audio", "video", "map", "input", "textarea",
    };

    private static readonly HashSet<string> Blocks = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre", "ul", "ol", "dl",
        "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "address", "details", "summary",
        "hr", "body", "html", "caption", "fieldset", "center",
    };

    public static ParsedDocument Extract(string html, int maxChars, CancellationToken cancellationToken = default)
    {
        var document = new HtmlDocument { OptionMaxNestedChildNodes = 1000 };
        try
        {
            document.LoadHtml(html);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            throw new DocumentParseException($"The HTML could not be read: {ex.Message}", ex);
        }

        var title = document.DocumentNode.SelectSingleNode("//title")?.InnerText;
        var output = new StringBuilder();
        Walk(document.DocumentNode, output, maxChars * 2L, cancellationToken);
        var metadata = new Dictionary<string, object>();
        if (document.DocumentNode.SelectSingleNode("//html[@lang]")?.GetAttributeValue("lang", null) is { Length: > 0 and < 20 } lang)
        {
            metadata["language"] = lang;
        }

        var text = output.ToString();
        title = HtmlEntity.DeEntitize(title ?? "");
        if (string.IsNullOrWhiteSpace(title))
        {
            title = text.Split('\n').FirstOrDefault(l => l.StartsWith('#'))?.TrimStart('#').Trim();
        }

        return new ParsedDocument(text, title, metadata);
    }

    // Iterative: an explicit stack of nodes to visit and text to write once a block's children are done, so no
    // nesting in a page can take the thread's stack with it.
    private static void Walk(HtmlNode root, StringBuilder output, long budget, CancellationToken cancellationToken)
    {
        var pending = new Stack<(HtmlNode? Node, string? Text)>();
        PushChildren(pending, root);
        while (pending.TryPop(out var item))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (output.Length > budget)
            {
                throw new DocumentParseException("The HTML holds more text than a document may have (Documents:MaxTextChars).");
            }

            if (item.Node is not { } child)
            {
                output.Append(item.Text);
                continue;
            }

            switch (child.NodeType)
            {
                case HtmlNodeType.Text:
                    output.Append(HtmlEntity.DeEntitize(child.InnerText));
                    continue;
                case HtmlNodeType.Element:
                    break;
                default:
                    continue;
            }

            var name = child.Name;
            if (Skipped.Contains(name) || child.GetAttributeValue("hidden", null) is not null
                || child.GetAttributeValue("aria-hidden", "") == "true")
            {
                continue;
            }

            if (name.Length == 2 && name[0] is 'h' or 'H' && name[1] is >= '1' and <= '6')
            {
                var heading = TextCleaner.OneLine(HtmlEntity.DeEntitize(child.InnerText));
                if (heading is not null)
                {
                    output.Append("\n\n").Append('#', name[1] - '0').Append(' ').Append(heading).Append("\n\n");
                }

                continue;
            }

            switch (name.ToLowerInvariant())
            {
                case "br":
                    output.Append('\n');
                    continue;
                case "li":
                    output.Append("\n- ");
                    PushChildren(pending, child);
                    continue;
                case "td" or "th":
                    output.Append(" | ");
                    PushChildren(pending, child);
                    continue;
                case "img":
                    // The alternative text describes the image; the image itself is never loaded.
                    if (child.GetAttributeValue("alt", "") is { Length: > 0 } alt)
                    {
                        output.Append(' ').Append(HtmlEntity.DeEntitize(alt)).Append(' ');
                    }

                    continue;
            }

            if (Blocks.Contains(name))
            {
                output.Append("\n\n");
                pending.Push((null, "\n\n"));
            }

            PushChildren(pending, child);
        }
    }

    private static void PushChildren(Stack<(HtmlNode? Node, string? Text)> pending, HtmlNode node)
    {
        for (var child = node.LastChild; child is not null; child = child.PreviousSibling)
        {
            pending.Push((child, null));
        }
    }
}
