using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm;

/// <summary>
/// Rough token counts (about four characters per token, as for English with OpenAI's tokenizers) for budgets,
/// for choosing how many memories or passages fit a prompt, and for the offline model's usage reports.
/// </summary>
public static class TokenEstimator
{
    // Role markers and separators that chat formats add around every message.
    private const int PerMessageOverhead = 4;

    /// <summary>Estimated tokens of <paramref name="text"/>: 0 for empty text, otherwise at least 1.</summary>
    public static int Estimate(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : Math.Max(1, (text.Length + 3) / 4);

    /// <summary>Estimated prompt tokens of a conversation, counting text, tool calls and tool results.</summary>
    public static int Estimate(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var total = 0;
        foreach (var message in messages)
        {
            total += PerMessageOverhead;
            foreach (var content in message.Contents)
            {
                total += Estimate(LlmContent.ToPromptText(content));
            }
        }

        return total;
    }
}
