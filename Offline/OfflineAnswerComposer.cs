using AspireAi.Core.Llm;
using AspireAi.Core.Common;
using System.Text;
using System.Text.RegularExpressions;

namespace AspireAi.Offline;

// Writes the offline model's answer from what the request carries: tool results of this turn, the memories that
// answer the question (by meaning when the local embedder scored them, else by shared words) and the passages that
// share words with it (cited as [id]), or an honest "I can't know that" otherwise.
internal static partial class OfflineAnswerComposer
{
    public const string Label = "(offline model)";
    private const int MaxItems = 3;

    // all-MiniLM-L6-v2 rates a memory that answers a question about the user at a cosine of about 0.2–0.4 even when
    // they share no word ("Where is home for me these days?" / "Lives in Porto" 0.20); the best memory leads and those
    // close behind it follow.
    private const double MinSimilarity = 0.15;
    private const double BehindBest = 0.1;

    private static readonly HashSet<string> Greetings = new(StringComparer.Ordinal)
    {
        "hi", "hello", "hey", "morning", "evening", "afternoon", "bonjour", "hallo", "hola", "greetings",
    };

    private static readonly HashSet<string> SelfWords = new(StringComparer.Ordinal) { "me", "my", "i", "myself", "mine" };

    /// <param name="conversation">The request.</param>
    /// <param name="memorySimilarity">Cosine similarity of the question to each memory of the request, or null.</param>
    public static string Compose(OfflineConversation conversation, IReadOnlyList<double>? memorySimilarity)
    {
        var answer = new StringBuilder(Label);
        var userWords = TextNormalizer.ContentWords(conversation.UserText).ToHashSet(StringComparer.Ordinal);
        var said = false;

        foreach (var outcome in conversation.ToolResults)
        {
            answer.Append(' ').Append(outcome.Failed
                ? $"The {outcome.ToolName} tool reported a problem: {LlmContent.Truncate(OneLine(outcome.Text), 300)}."
                : $"The {outcome.ToolName} tool returned: {LlmContent.Truncate(OneLine(outcome.Text), 300)}".TrimEnd('.') + ".");
            said = true;
        }

        var memories = memorySimilarity is null
            ? Relevant(conversation.Memories, userWords)
            : ByMeaning(conversation.Memories, memorySimilarity, userWords, AsksAboutSelf(conversation.UserText));
        if (memories.Count == 0 && conversation.Memories.Count > 0 && AsksAboutSelf(conversation.UserText))
        {
            // "What do you know about me?" shares no content word with any memory, yet every memory answers it.
            memories = [.. conversation.Memories.Take(MaxItems).Select(item => (item, item.Text))];
        }

        if (memories.Count > 0)
        {
            answer.Append(" From what I remember about you:");
            foreach (var (item, text) in memories)
            {
                answer.Append(' ').Append(EndSentence(text)).Append(" [").Append(item.Id).Append(']');
            }

            said = true;
        }

        var sources = Relevant(conversation.Sources, userWords);
        if (sources.Count > 0)
        {
            answer.Append(" According to your documents:");
            foreach (var (item, excerpt) in sources)
            {
                answer.Append(' ').Append(EndSentence(excerpt)).Append(" [").Append(item.Id).Append(']');
            }

            said = true;
        }

        if (!said)
        {
            answer.Append(' ').Append(Fallback(conversation, userWords));
        }

        return answer.ToString();
    }

    private static string Fallback(OfflineConversation conversation, HashSet<string> userWords)
    {
        var words = TextNormalizer.Words(conversation.UserText);
        if (words.Length == 0)
        {
            return "How can I help you today?";
        }

        if (words.Length <= 4 && words.Any(Greetings.Contains))
        {
            return "Hello! I'm the built-in offline model: I answer from your memories, your documents and tool results. How can I help?";
        }

        if (conversation.Sources.Count > 0)
        {
            return "I couldn't find anything about that in the retrieved passages of your documents.";
        }

        var topic = userWords.Count > 0 ? string.Join(", ", userWords.Take(5)) : LlmContent.Truncate(conversation.UserText, 80);
        return $"No language model is connected, so I can only answer from your memories, your documents and tools. " +
            $"I have nothing on {topic} yet.";
    }

    // Items sharing the most content words with the question, best first, each cut to its best sentence or two.
    private static List<(PromptBlockItem Item, string Text)> Relevant(IReadOnlyList<PromptBlockItem> items, HashSet<string> userWords)
    {
        if (userWords.Count == 0)
        {
            return [];
        }

        return [.. items
            .Select((item, order) => (item, order, score: TextNormalizer.ContentWords(item.Text).Count(userWords.Contains)))
            .Where(candidate => candidate.score > 0)
            .OrderByDescending(candidate => candidate.score)
            .ThenBy(candidate => candidate.order)
            .Take(MaxItems)
            .Select(candidate => (candidate.item, BestExcerpt(candidate.item.Text, userWords)))];
    }

    // Memories that share words with the question, and, for a question about the user, those the embedder rates
    // closest to it; best first by similarity. A question about something else ("the capital of France") is not
    // answered from memories it merely resembles.
    private static List<(PromptBlockItem Item, string Text)> ByMeaning(IReadOnlyList<PromptBlockItem> items, IReadOnlyList<double> similarity,
        HashSet<string> userWords, bool aboutSelf)
    {
        var scored = items
            .Select((item, order) => (item, order, words: TextNormalizer.ContentWords(item.Text).Count(userWords.Contains),
                similarity: order < similarity.Count ? similarity[order] : 0))
            .ToList();
        var best = scored.Count == 0 ? 0 : scored.Max(c => c.similarity);
        return [.. scored
            .Where(c => c.words > 0 || (aboutSelf && c.similarity >= MinSimilarity && c.similarity >= best - BehindBest))
            .OrderByDescending(c => c.similarity + (0.15 * Math.Min(c.words, 3)))
            .ThenBy(c => c.order)
            .Take(MaxItems)
            .Select(c => (c.item, BestExcerpt(c.item.Text, userWords)))];
    }

    private static string BestExcerpt(string text, HashSet<string> userWords)
    {
        var sentences = SentenceBoundary().Split(OneLine(text)).Where(s => s.Length > 0).ToArray();
        if (sentences.Length <= 2)
        {
            return LlmContent.Truncate(OneLine(text), 300);
        }

        var best = sentences
            .Select((sentence, index) => (index, score: TextNormalizer.ContentWords(sentence).Count(userWords.Contains)))
            .OrderByDescending(candidate => candidate.score)
            .ThenBy(candidate => candidate.index)
            .First().index;
        var excerpt = best + 1 < sentences.Length ? sentences[best] + " " + sentences[best + 1] : sentences[best];
        return LlmContent.Truncate(excerpt, 300);
    }

    private static bool AsksAboutSelf(string text) =>
        TextNormalizer.Words(text).Any(SelfWords.Contains);

    private static string EndSentence(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length == 0 || trimmed[^1] is '.' or '!' or '?' or '…' ? trimmed : trimmed + ".";
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    [GeneratedRegex(@"(?<=[.!?])\s+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex SentenceBoundary();
}
