using System.Text;

namespace AspireAi.Core.Common;

// Lowercasing, accent folding and punctuation stripping for the offline model. The app runs with
// InvariantGlobalization, where string.Normalize(FormD) leaves "é" alone, so accents are folded with a table
// covering Latin-1 Supplement, Latin Extended-A and -B; other scripts pass through unchanged.
public static class TextNormalizer
{
    private const int FoldStart = 0xC0;

    // One ASCII letter per code point from U+00C0 to U+024F (space: no letter, e.g. × and ÷).
    private const string FoldTable =
        "aaaaaaaceeeeiiiidnooooo ouuuuytsaaaaaaaceeeeiiiidnooooo ouuuuyty" +
        "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkk lllllll" +
        "lllnnnnnnn  oooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs" +
        "                  f             oo             uu               " +
        "    dddlllnnnaaiioouuuuuuuuuu aaaa    ggkkoooo  jdddgg  nnaa    " +
        "aaaaeeeeiiiioooorrrruuuusstt  hh      aaeeooooooooyy            " +
        "                ";

    private static readonly HashSet<string> StopwordSet = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on", "at", "by", "for", "with",
        "from", "into", "about", "as", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did",
        "have", "has", "had", "i", "me", "my", "mine", "we", "us", "our", "you", "your", "yours", "he", "him", "his",
        "she", "her", "it", "its", "they", "them", "their", "this", "that", "these", "those", "what", "which", "who",
        "whom", "whose", "when", "where", "why", "how", "can", "could", "would", "should", "will", "shall", "may",
        "might", "must", "not", "no", "yes", "please", "tell", "know", "just", "also", "very", "there", "here", "any",
        "some", "all", "up", "out", "s", "t", "im", "ive", "id", "dont", "doesnt", "didnt", "cant", "wont", "isnt",
        "thanks", "thank", "hi", "hello", "hey", "ok", "okay", "let", "lets", "get", "got", "like", "want", "need",
    };

    public static bool IsStopword(string word) => StopwordSet.Contains(word);

    /// <summary>Lowercase, accent-folded text with every run of non-letters/digits replaced by one space.</summary>
    public static string Normalize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var builder = new StringBuilder(text.Length);
        var pendingSpace = false;
        foreach (var raw in text)
        {
            // Apostrophes join ("don't" -> "dont") rather than split, so contractions stay one word.
            if (raw is '\'' or '\u2019')
            {
                continue;
            }

            var folded = Fold(char.ToLowerInvariant(raw));
            if (folded.Length == 0 || !char.IsLetterOrDigit(folded[0]))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }

            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }

            builder.Append(folded);
        }

        return builder.ToString();
    }

    public static string[] Words(string? text) =>
        Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Distinct stemmed content words (stopwords and one-letter words dropped), in order of appearance.</summary>
    public static IReadOnlyList<string> ContentWords(string? text) =>
        [.. Words(text).Where(word => word.Length > 1 && !IsStopword(word)).Select(Stem).Distinct(StringComparer.Ordinal)];

    /// <summary>Light English stemming: enough for "documents" to meet "document" and "stories" to meet "story".</summary>
    public static string Stem(string word)
    {
        if (word.Length > 4 && word.EndsWith("ies", StringComparison.Ordinal))
        {
            return string.Concat(word.AsSpan(0, word.Length - 3), "y");
        }

        if (word.Length > 5 && word.EndsWith("ing", StringComparison.Ordinal))
        {
            return word[..^3];
        }

        if (word.Length > 3 && word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) && !word.EndsWith("us", StringComparison.Ordinal))
        {
            return word[..^1];
        }

        return word;
    }

    private static string Fold(char c)
    {
        switch (c)
        {
            case 'ß': return "ss";
            case 'Æ': return "ae";
            case 'Œ': return "oe";
            case 'Þ': return "th";
            case 'Ĳ': return "ij";
            case 'æ': return "ae";
            case 'œ': return "oe";
            case 'þ': return "th";
            case 'ĳ': return "ij";
            default: break;
        }

        if (c < FoldStart || c - FoldStart >= FoldTable.Length)
        {
            return c.ToString();
        }

        var letter = FoldTable[c - FoldStart];
        return letter == ' ' ? string.Empty : letter.ToString();
    }
}
