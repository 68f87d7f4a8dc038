namespace AspireAi.Core.Documents.Chunking;

/// <summary>A span of the source text: <c>[Start, End)</c>.</summary>
public readonly record struct TextSpan(int Start, int End)
{
    public int Length => End - Start;
}

/// <summary>
/// Splits text into sentences: after <c>. ! ? …</c> (and their CJK forms) followed by white space, at blank lines,
/// and before list items, quotes and table rows. Common abbreviations ("e.g.", "Dr.") and initials ("J. Smith") do
/// not end a sentence, nor does a full stop followed by a lowercase word. Every non-white character of the input lies
/// in exactly one returned span, so splitting never loses text.
/// </summary>
public static class SentenceSplitter
{
    private static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "e.g", "i.e", "cf", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "no", "nos", "fig", "figs",
        "approx", "inc", "ltd", "co", "corp", "dept", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "mt", "ft", "vol", "p", "pp", "ch", "sec", "art", "al", "u.s", "u.k", "a.m", "p.m",
    };

    /// <summary>The sentences of <paramref name="text"/>[<paramref name="start"/>..<paramref name="end"/>), trimmed.</summary>
    public static List<TextSpan> Split(string text, int start, int end)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spans = new List<TextSpan>();
        var sentenceStart = start;
        for (var i = start; i < end; i++)
        {
            var c = text[i];
            if (c == '\n')
            {
                if (IsParagraphBreak(text, i, end) || StartsBlockItem(text, i + 1, end))
                {
                    Add(spans, text, sentenceStart, i);
                    sentenceStart = i + 1;
                }
                continue;
            }

            if (!IsTerminator(c))
            {
                continue;
            }

            // Runs such as "?!" or "..." and closing quotes or brackets belong to the sentence they end.
            var after = i + 1;
            while (after < end && (IsTerminator(text[after]) || IsCloser(text[after])))
            {
                after++;
            }

            if (after < end && !char.IsWhiteSpace(text[after]))
            {
                continue; // "3.14", "example.com", "a.b"
            }

            if (c == '.' && (IsAbbreviation(text, sentenceStart, i) || NextWordIsLowercase(text, after, end)))
            {
                continue;
            }

            Add(spans, text, sentenceStart, after);
            sentenceStart = after;
            i = after - 1;
        }

        Add(spans, text, sentenceStart, end);
        return spans;
    }

    private static bool IsTerminator(char c) => c is '.' or '!' or '?' or '…' or '。' or '！' or '？';

    private static bool IsCloser(char c) => c is '"' or '\'' or ')' or ']' or '}' or '»' or '”' or '’';

    private static bool IsParagraphBreak(string text, int newline, int end)
    {
        for (var j = newline + 1; j < end; j++)
        {
            if (text[j] == '\n')
            {
                return true;
            }

            if (!char.IsWhiteSpace(text[j]))
            {
                return false;
            }
        }

        return true;
    }

    // "- item", "* item", "+ item", "1. item", "2) item", "> quote", "| cell |".
    private static bool StartsBlockItem(string text, int at, int end)
    {
        while (at < end && text[at] is ' ' or '\t')
        {
            at++;
        }

        if (at >= end)
        {
            return false;
        }

        var c = text[at];
        if (c is '>' or '|')
        {
            return true;
        }

        if (c is '-' or '*' or '+' or '•')
        {
            return at + 1 < end && text[at + 1] == ' ';
        }

        var digits = at;
        while (digits < end && char.IsAsciiDigit(text[digits]) && digits - at < 4)
        {
            digits++;
        }

        return digits > at && digits + 1 < end && text[digits] is '.' or ')' && text[digits + 1] == ' ';
    }

    private static bool IsAbbreviation(string text, int sentenceStart, int dot)
    {
        var wordStart = dot;
        while (wordStart > sentenceStart && !char.IsWhiteSpace(text[wordStart - 1]) && text[wordStart - 1] is not '(' and not '"')
        {
            wordStart--;
        }

        var word = text.AsSpan(wordStart, dot - wordStart);
        if (word.Length == 1 && char.IsUpper(word[0]))
        {
            return true; // an initial: "J. R. R. Tolkien"
        }

        return word.Length > 0 && Abbreviations.Contains(word.ToString());
    }

    private static bool NextWordIsLowercase(string text, int from, int end)
    {
        while (from < end && char.IsWhiteSpace(text[from]) && text[from] != '\n')
        {
            from++;
        }

        return from < end && char.IsLower(text[from]);
    }

    private static void Add(List<TextSpan> spans, string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        if (end > start)
        {
            spans.Add(new TextSpan(start, end));
        }
    }
}
