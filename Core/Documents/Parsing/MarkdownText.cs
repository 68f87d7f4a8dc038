using System.Text;
using System.Text.RegularExpressions;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Markdown to the pipeline's text: ATX headings stay (setext headings become ATX), front matter, link targets,
/// images, emphasis markers, inline HTML tags and code-fence lines go; the words stay. Links are never followed.
/// </summary>
/// <remarks>
/// Every pattern here sees user text, so none may cost more than linear time: the inline patterns, which are tried
/// from every position of a line, run on the non-backtracking engine (a line of <c>[[[[…</c> or <c>&lt;http:&lt;http:…</c>
/// made the backtracking engine rescan the rest of the line from each opener); the others are anchored at a line
/// start. Emphasis needs a back-reference, which that engine lacks, so it is a scanner of its own (<see cref="Emphasis"/>).
/// </remarks>
internal static partial class MarkdownText
{
    public static ParsedDocument Extract(string markdown, CancellationToken cancellationToken = default)
    {
        var text = markdown.ReplaceLineEndings("\n");
        var metadata = new Dictionary<string, object>();
        string? title = null;

        var frontMatter = FrontMatter().Match(text);
        if (frontMatter.Success)
        {
            var titleLine = FrontMatterTitle().Match(frontMatter.Value);
            if (titleLine.Success)
            {
                title = titleLine.Groups[1].Value.Trim().Trim('"', '\'');
            }

            text = text[frontMatter.Length..];
        }

        var output = new StringBuilder(text.Length);
        var lines = text.Split('\n');
        var inFence = false;
        for (var i = 0; i < lines.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var line = lines[i];
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal) || line.TrimStart().StartsWith("~~~", StringComparison.Ordinal))
            {
                // The fence lines go; the code between them stays as text (it is often what a user asks about).
                inFence = !inFence;
                output.Append('\n');
                continue;
            }

            if (inFence)
            {
                // Code lines are not headings even when they start with '#': indent them so they never match.
                output.Append(line.StartsWith('#') ? " " + line : line).Append('\n');
                continue;
            }

            // Setext headings: "Title\n=====" and "Section\n-------".
            if (i + 1 < lines.Length && line.Trim().Length > 0 && !line.TrimStart().StartsWith('#') && SetextUnderline().Match(lines[i + 1]) is { Success: true } underline)
            {
                output.Append(underline.Value.Trim()[0] == '=' ? "# " : "## ").Append(Inline(line.Trim())).Append("\n\n");
                i++;
                continue;
            }

            if (LinkDefinition().IsMatch(line) || HorizontalRule().IsMatch(line))
            {
                output.Append('\n');
                continue;
            }

            output.Append(Inline(line)).Append('\n');
        }

        var result = output.ToString();
        title ??= FirstHeading().Match(result) is { Success: true } heading ? heading.Groups[1].Value.Trim() : null;
        return new ParsedDocument(result, title, metadata);
    }

    private static string Inline(string line)
    {
        line = Image().Replace(line, "$1");
        line = Link().Replace(line, "$1");
        line = AutoLink().Replace(line, "$1");
        line = HtmlTag().Replace(line, "");
        line = Emphasis.Strip(line);
        line = InlineCode().Replace(line, "$1");
        return line;
    }

    [GeneratedRegex(@"\A---[ \t]*\n.*?\n(---|\.\.\.)[ \t]*(\n|\z)", RegexOptions.Singleline, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FrontMatter();

    [GeneratedRegex(@"^title:[ \t]*(.+)$", RegexOptions.Multiline | RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FrontMatterTitle();

    [GeneratedRegex(@"^ {0,3}(=+|-+)[ \t]*$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex SetextUnderline();

    [GeneratedRegex(@"^ {0,3}\[[^\]]+\]:[ \t]*\S+", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex LinkDefinition();

    [GeneratedRegex(@"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex HorizontalRule();

    [GeneratedRegex(@"!\[([^\]]*)\]\([^)]*\)", RegexOptions.NonBacktracking, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Image();

    [GeneratedRegex(@"\[([^\]]+)\](\([^)]*\)|\[[^\]]*\])", RegexOptions.NonBacktracking, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Link();

    [GeneratedRegex(@"<((?:https?|mailto):[^>\s]+)>", RegexOptions.NonBacktracking, matchTimeoutMilliseconds: 1000)]
    private static partial Regex AutoLink();

    [GeneratedRegex(@"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>", RegexOptions.NonBacktracking, matchTimeoutMilliseconds: 1000)]
    private static partial Regex HtmlTag();

    [GeneratedRegex(@"`([^`]+)`", RegexOptions.NonBacktracking, matchTimeoutMilliseconds: 1000)]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^#{1,6}[ \t]+(.+)$", RegexOptions.Multiline, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FirstHeading();
}
