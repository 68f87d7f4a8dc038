using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace AspireAi.Core.Llm;

/// <summary>
/// Token counts from the model family's own tokenizer (tiktoken via Microsoft.ML.Tokenizers): o200k_base for the
/// GPT-4o generation, and for the offline model and any model it does not know; cl100k_base for GPT-4, GPT-3.5
/// and the text-embedding-3 models. Used for budgets, for choosing how many memories or passages fit a prompt,
/// for chunk sizes, and for usage when a provider reports none.
/// </summary>
public static class TokenCounter
{
    // What OpenAI's chat format adds around every message (<|start|>role ... <|end|>).
    private const int PerMessageOverhead = 3;

    private static readonly Lazy<Tokenizer> Default = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    // Model names come from configuration, so the set stays small.
    private static readonly ConcurrentDictionary<string, Tokenizer> ByModel = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Tokens of <paramref name="text"/> for <paramref name="model"/> (the default encoding when null).</summary>
    public static int Count(string? text, string? model = null) =>
        string.IsNullOrEmpty(text) ? 0 : For(model).CountTokens(text);

    /// <summary>Tokens of a span of text in the default encoding (no copy of the text is made).</summary>
    public static int Count(ReadOnlySpan<char> text) => text.IsEmpty ? 0 : Default.Value.CountTokens(text);

    /// <summary>
    /// How many leading characters of <paramref name="text"/> make at most <paramref name="maxTokens"/> tokens in the
    /// default encoding (never cutting inside a token).
    /// </summary>
    public static int PrefixLength(ReadOnlySpan<char> text, int maxTokens) =>
        Default.Value.GetIndexByTokenCount(text, maxTokens, out _, out _);

    /// <summary>Prompt tokens of a conversation, counting text, tool calls and tool results.</summary>
    public static int Count(IEnumerable<ChatMessage> messages, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var tokenizer = For(model);
        var total = 0;
        foreach (var message in messages)
        {
            total += PerMessageOverhead;
            foreach (var content in message.Contents)
            {
                var text = LlmContent.ToPromptText(content);
                total += string.IsNullOrEmpty(text) ? 0 : tokenizer.CountTokens(text);
            }
        }

        return total;
    }

    private static Tokenizer For(string? model) =>
        string.IsNullOrEmpty(model)
            ? Default.Value
            : ByModel.GetOrAdd(model, static name =>
            {
                try
                {
                    return TiktokenTokenizer.CreateForModel(name);
                }
                catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
                {
                    // Not an OpenAI model name (the offline model, a local server's model): the current default.
                    return Default.Value;
                }
            });
}
