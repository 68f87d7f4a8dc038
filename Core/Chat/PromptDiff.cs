using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace AspireAi.Core.Chat;

/// <summary>One line of a diff: <c>unchanged</c>, <c>removed</c> (only in the old version) or <c>added</c>, with its
/// 1-based line number in each version it appears in.</summary>
public sealed record PromptDiffLine(string Kind, int? OldLine, int? NewLine, string Text);

/// <summary>Line diffs between prompt versions (DiffPlex's line differ; whitespace counts, since it reaches the model).</summary>
public static class PromptDiff
{
    public static IReadOnlyList<PromptDiffLine> Lines(string oldText, string newText)
    {
        ArgumentNullException.ThrowIfNull(oldText);
        ArgumentNullException.ThrowIfNull(newText);
        var model = new InlineDiffBuilder().BuildDiffModel(oldText, newText, ignoreWhitespace: false);
        var lines = new List<PromptDiffLine>(model.Lines.Count);
        int oldLine = 0, newLine = 0;
        foreach (var line in model.Lines)
        {
            switch (line.Type)
            {
                case ChangeType.Deleted:
                    lines.Add(new PromptDiffLine("removed", ++oldLine, null, line.Text));
                    break;
                case ChangeType.Inserted:
                    lines.Add(new PromptDiffLine("added", null, ++newLine, line.Text));
                    break;
                case ChangeType.Unchanged:
                    lines.Add(new PromptDiffLine("unchanged", ++oldLine, ++newLine, line.Text));
                    break;
                default:
                    // The inline builder only yields the three kinds above; anything else carries no line of either text.
                    break;
            }
        }
        return lines;
    }
}
