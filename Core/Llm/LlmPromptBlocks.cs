using System.Text;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm;

/// <summary>One line of a memories or sources block: <c>- [id] text</c>.</summary>
/// <param name="Id">Stable id the answer cites, e.g. a memory id or <c>doc12#3</c>; no <c>]</c> and no line breaks.</param>
/// <param name="Text">The memory or passage, on one line.</param>
public readonly record struct PromptBlockItem(string Id, string Text);

/// <summary>
/// The format in which retrieved context reaches the model. Memories and retrieved passages are each sent as one
/// <em>system</em> message:
/// <code>
/// ## Memories
/// Facts remembered about the user from earlier conversations. ...
/// - [m-42] The user's name is Alice.
/// - [m-43] Alice prefers answers in French.
/// </code>
/// <code>
/// ## Sources
/// Passages retrieved from the user's documents. ... Cite the passages you use as [id].
/// - [doc7#2] The warranty lasts two years from the date of purchase.
/// </code>
/// The first line is the heading (<see cref="MemoriesHeading"/> or <see cref="SourcesHeading"/>); item lines start with
/// <c>- [</c>; other lines are instructions for real models and are ignored by the offline model, which answers from
/// the items and cites their ids as <c>[id]</c>. Build the messages with <see cref="Memories"/> and <see cref="Sources"/>.
/// </summary>
public static class LlmPromptBlocks
{
    /// <summary>First line of a memories block.</summary>
    public const string MemoriesHeading = "## Memories";

    /// <summary>First line of a sources block.</summary>
    public const string SourcesHeading = "## Sources";

    /// <summary>Default instruction line under <see cref="MemoriesHeading"/>.</summary>
    public const string MemoriesInstruction =
        "Facts remembered about the user from earlier conversations. Use them when relevant; do not invent others.";

    /// <summary>Default instruction line under <see cref="SourcesHeading"/>.</summary>
    public const string SourcesInstruction =
        "Passages retrieved from the user's documents. Answer from them when they are relevant and cite the passages you use as [id].";

    /// <summary>A system message carrying memories.</summary>
    public static ChatMessage Memories(IEnumerable<PromptBlockItem> items, string instruction = MemoriesInstruction) =>
        new(ChatRole.System, Format(MemoriesHeading, items, instruction));

    /// <summary>A system message carrying retrieved passages.</summary>
    public static ChatMessage Sources(IEnumerable<PromptBlockItem> items, string instruction = SourcesInstruction) =>
        new(ChatRole.System, Format(SourcesHeading, items, instruction));

    /// <summary>Formats a block; ids lose any <c>]</c> and texts any line break so each item stays one line.</summary>
    public static string Format(string heading, IEnumerable<PromptBlockItem> items, string? instruction = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(heading);
        ArgumentNullException.ThrowIfNull(items);
        var text = new StringBuilder(heading).Append('\n');
        if (!string.IsNullOrWhiteSpace(instruction))
        {
            text.Append(OneLine(instruction)).Append('\n');
        }

        foreach (var item in items)
        {
            text.Append("- [").Append(OneLine(item.Id).Replace("]", string.Empty, StringComparison.Ordinal))
                .Append("] ").Append(OneLine(item.Text)).Append('\n');
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>Reads a block back: its heading (first line) and items; null when the text is not a block.</summary>
    public static (string Heading, IReadOnlyList<PromptBlockItem> Items)? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var lines = text.Trim().Split('\n');
        var heading = lines[0].Trim();
        if (!heading.StartsWith("## ", StringComparison.Ordinal))
        {
            return null;
        }

        var items = new List<PromptBlockItem>();
        foreach (var raw in lines.Skip(1))
        {
            var line = raw.Trim();
            if (!line.StartsWith("- [", StringComparison.Ordinal))
            {
                continue;
            }

            var close = line.IndexOf(']', 3);
            if (close < 0)
            {
                continue;
            }

            var id = line[3..close].Trim();
            var body = line[(close + 1)..].Trim();
            if (id.Length > 0 && body.Length > 0)
            {
                items.Add(new PromptBlockItem(id, body));
            }
        }

        return (heading, items);
    }

    private static string OneLine(string text) =>
        text.ReplaceLineEndings(" ").Trim();
}
