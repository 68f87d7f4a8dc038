using System.IO.Packaging;
using System.Text;
using System.Xml;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Word documents (.docx) to the pipeline's text with DocumentFormat.OpenXml: paragraphs in order, headings (by
/// style name "heading N"/"Title" or outline level) as <c>#</c> lines, list paragraphs as "- ", tables row by row.
/// External relationships (linked images, hyperlinks) are never followed.
/// </summary>
internal static class DocxText
{
    public static ParsedDocument Extract(byte[] content, int maxChars, DocumentParseLimits limits, CancellationToken cancellationToken)
    {
        if (content.Length < 4 || content[0] != 0x50 || content[1] != 0x4B)
        {
            throw new DocumentParseException("The file is not a valid .docx document: it is not a ZIP package.");
        }

        // Before OpenXml sees a byte: its loader recurses per XML level and expands parts whole.
        PackageInspector.Inspect(content, limits, cancellationToken);
        try
        {
            using var stream = new MemoryStream(content, writable: false);
            using var document = WordprocessingDocument.Open(stream, isEditable: false,
                new OpenSettings { AutoSave = false, MaxCharactersInPart = maxChars * 20L });
            var body = document.MainDocumentPart?.Document?.Body
                ?? throw new DocumentParseException("The file is not a valid .docx document: it has no main document body.");
            var styles = HeadingLevels(document.MainDocumentPart!.StyleDefinitionsPart);
            var output = new StringBuilder();
            Walk(body, styles, output, maxChars * 2L, cancellationToken);

            var metadata = new Dictionary<string, object>();
            var properties = document.PackageProperties;
            if (!string.IsNullOrWhiteSpace(properties.Creator))
            {
                metadata["author"] = Truncate(properties.Creator);
            }

            if (properties.Created is { } created)
            {
                metadata["created"] = created.ToUniversalTime();
            }

            var title = string.IsNullOrWhiteSpace(properties.Title) ? null : properties.Title;
            var text = output.ToString();
            title ??= text.Split('\n').FirstOrDefault(l => l.StartsWith('#'))?.TrimStart('#').Trim();
            return new ParsedDocument(text, title, metadata);
        }
        catch (DocumentParseException)
        {
            throw;
        }
        catch (Exception ex) when (ex is OpenXmlPackageException or FileFormatException or InvalidDataException or XmlException
            or IOException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw new DocumentParseException($"The file is not a valid .docx document: {ex.Message}", ex);
        }
    }

    // Style id -> heading level (1-6), from the style names Word writes in English whatever the UI language.
    private static Dictionary<string, int> HeadingLevels(StyleDefinitionsPart? part)
    {
        var levels = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var style in part?.Styles?.Elements<Style>() ?? [])
        {
            if (style.StyleId?.Value is not { } id)
            {
                continue;
            }

            var name = style.StyleName?.Val?.Value?.Trim().ToLowerInvariant() ?? "";
            if (name == "title")
            {
                levels[id] = 1;
            }
            else if (name.StartsWith("heading ", StringComparison.Ordinal) && int.TryParse(name.AsSpan(8), out var level) && level is >= 1 and <= 9)
            {
                levels[id] = Math.Min(level, 6);
            }
            else if (style.StyleParagraphProperties?.OutlineLevel?.Val?.Value is { } outline && outline < 9)
            {
                levels[id] = Math.Min(outline + 1, 6);
            }
        }

        return levels;
    }

    // Iterative (an explicit stack, children pushed in reverse to keep document order): content controls nest
    // without limit in the format, and a recursive walk would take the thread's stack as deep as the file goes.
    private static void Walk(OpenXmlElement root, Dictionary<string, int> headingStyles, StringBuilder output, long budget, CancellationToken cancellationToken)
    {
        var pending = new Stack<OpenXmlElement>();
        PushChildren(pending, root);
        while (pending.TryPop(out var element))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (output.Length > budget)
            {
                throw new DocumentParseException("The document holds more text than a document may have (Documents:MaxTextChars).");
            }

            switch (element)
            {
                case Paragraph paragraph:
                    AppendParagraph(paragraph, headingStyles, output);
                    break;
                case Table table:
                    foreach (var row in table.Elements<TableRow>())
                    {
                        var cells = row.Elements<TableCell>().Select(cell => TextCleaner.OneLine(string.Join(' ',
                            cell.Descendants<Paragraph>().Select(ParagraphText))) ?? "");
                        output.Append("| ").AppendJoin(" | ", cells).Append(" |\n");
                    }

                    output.Append('\n');
                    break;
                default:
                    PushChildren(pending, element); // content controls, custom XML, smart tags
                    break;
            }
        }
    }

    private static void PushChildren(Stack<OpenXmlElement> pending, OpenXmlElement element)
    {
        for (var child = element.LastChild; child is not null; child = child.PreviousSibling())
        {
            pending.Push(child);
        }
    }

    private static void AppendParagraph(Paragraph paragraph, Dictionary<string, int> headingStyles, StringBuilder output)
    {
        var text = ParagraphText(paragraph);
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        var properties = paragraph.ParagraphProperties;
        var level = properties?.OutlineLevel?.Val?.Value is { } outline && outline < 9 ? Math.Min(outline + 1, 6) : 0;
        if (level == 0 && properties?.ParagraphStyleId?.Val?.Value is { } styleId)
        {
            level = headingStyles.GetValueOrDefault(styleId);
        }

        if (level > 0 && TextCleaner.OneLine(text) is { } heading)
        {
            output.Append('\n').Append('#', level).Append(' ').Append(heading).Append("\n\n");
        }
        else if (properties?.NumberingProperties is not null)
        {
            output.Append("- ").Append(text).Append('\n');
        }
        else
        {
            output.Append(text).Append("\n\n");
        }
    }

    private static string ParagraphText(Paragraph paragraph)
    {
        var text = new StringBuilder();
        foreach (var element in paragraph.Descendants())
        {
            switch (element)
            {
                case Text t:
                    text.Append(t.Text);
                    break;
                case TabChar:
                    text.Append(' ');
                    break;
                case Break or CarriageReturn:
                    text.Append('\n');
                    break;
                case NoBreakHyphen:
                    text.Append('-');
                    break;
            }
        }

        return text.ToString();
    }

    private static string Truncate(string value) => value.Length <= 200 ? value : value[..200];
}
