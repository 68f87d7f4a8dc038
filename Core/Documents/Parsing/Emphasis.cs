using System.Globalization;
using System.Text;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Removes Markdown emphasis markers (<c>**</c>, <c>__</c>, <c>~~</c>, <c>*</c>, <c>_</c>) from one line, keeping the
/// words, in time linear in the line's length. It finds what the pattern
/// <c>(\*\*|__|~~|\*|(?&lt;!\w)_)(?=\S)(.+?)(?&lt;=\S)\1</c> finds (leftmost opener, delimiters in that order, nearest
/// closer), which the project used before: that pattern needs a back-reference, so it ran on the backtracking engine,
/// and a line of openers that never close (<c>_a _a _a …</c>) made it rescan the rest of the line from each one.
/// </summary>
internal static class Emphasis
{
    private static readonly string[] Delimiters = ["**", "__", "~~", "*", "_"];

    public static string Strip(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.AsSpan().IndexOfAny("*_~") < 0)
        {
            return line;
        }

        // For each delimiter, the nearest closer at or after every position: a closer is the delimiter right after a
        // non-space character. Built right to left once, so finding a closer is one array read, never a scan.
        var closers = new int[Delimiters.Length][];
        for (var d = 0; d < Delimiters.Length; d++)
        {
            closers[d] = NearestClosers(line, Delimiters[d]);
        }

        var output = new StringBuilder(line.Length);
        var i = 0;
        while (i < line.Length)
        {
            var matched = false;
            for (var d = 0; d < Delimiters.Length && !matched; d++)
            {
                var delimiter = Delimiters[d];
                var contentStart = i + delimiter.Length;
                if (!IsOpener(line, i, delimiter) || contentStart >= line.Length || char.IsWhiteSpace(line[contentStart]))
                {
                    continue;
                }

                // ".+?" holds at least one character, so the closer starts one past the content's start at the earliest.
                var closer = contentStart + 1 < line.Length ? closers[d][contentStart + 1] : -1;
                if (closer < 0)
                {
                    continue;
                }

                output.Append(line, contentStart, closer - contentStart);
                i = closer + delimiter.Length;
                matched = true;
            }

            if (!matched)
            {
                output.Append(line[i]);
                i++;
            }
        }

        return output.ToString();
    }

    private static bool IsOpener(string line, int at, string delimiter)
    {
        if (string.CompareOrdinal(line, at, delimiter, 0, delimiter.Length) != 0)
        {
            return false;
        }

        // A single underscore opens only where it does not continue a word (snake_case stays as it is).
        return delimiter != "_" || at == 0 || !IsWordChar(line[at - 1]);
    }

    private static int[] NearestClosers(string line, string delimiter)
    {
        var nearest = new int[line.Length + 1];
        nearest[line.Length] = -1;
        for (var j = line.Length - 1; j >= 0; j--)
        {
            var closes = j > 0 && !char.IsWhiteSpace(line[j - 1])
                && j + delimiter.Length <= line.Length
                && string.CompareOrdinal(line, j, delimiter, 0, delimiter.Length) == 0;
            nearest[j] = closes ? j : nearest[j + 1];
        }

        return nearest;
    }

    // What \w matches in .NET: letters, decimal digits, connector punctuation (the underscore) and combining marks.
    private static bool IsWordChar(char c) => char.GetUnicodeCategory(c) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark => true,
        _ => c is '\u200C' or '\u200D',
    };
}
