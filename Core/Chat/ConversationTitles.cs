using System.Text;
using Npgsql;

namespace AspireAi.Core.Chat;

/// <summary>
/// Names a conversation that was created without a title after its first complete exchange: the question, cleaned
/// of markdown and cut at a word, or the answer's first line when the question has no words. The update joins the
/// batch that completes the exchange, so the title and the answer commit together; a rename before that wins
/// (title_pending is cleared).
/// </summary>
public static class ConversationTitles
{
    public const int MaxLength = 60;
    public const string Placeholder = "New conversation";

    /// <summary>The update that names the conversation if it still waits for a title; null when the exchange has no words.</summary>
    public static NpgsqlBatchCommand? Command(Guid conversationId, string question, string answer)
    {
        if (FromExchange(question, answer) is not { } title)
        {
            return null;
        }
        var command = new NpgsqlBatchCommand("""
            UPDATE conversations SET title = $2, title_pending = false
            WHERE id = $1 AND title_pending
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = title });
        return command;
    }

    /// <summary>The title for a first exchange; null when neither side has a word in it.</summary>
    public static string? FromExchange(string question, string answer) =>
        Shorten(Clean(question)) ?? Shorten(Clean(FirstLine(answer)));

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";

    // Markdown punctuation and runs of white space would only be noise in a list of titles.
    private static string Clean(string text)
    {
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                space = builder.Length > 0;
                continue;
            }
            if (c is '#' or '*' or '`' or '>' or '_' or '~')
            {
                continue;
            }
            if (space)
            {
                builder.Append(' ');
                space = false;
            }
            builder.Append(c);
        }
        return builder.ToString();
    }

    private static string? Shorten(string text)
    {
        if (!text.Any(char.IsLetterOrDigit))
        {
            return null;
        }
        if (text.Length <= MaxLength)
        {
            return text;
        }
        var cut = text.LastIndexOf(' ', MaxLength - 1);
        // One very long word: cut inside it rather than leave almost nothing.
        var head = cut >= MaxLength / 2 ? text[..cut] : text[..(MaxLength - 1)];
        return head.TrimEnd(',', ';', ':', '.', '-') + "…";
    }
}
