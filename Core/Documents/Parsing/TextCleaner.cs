using System.Text;

namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// Normalises extracted text: one kind of line break, no control or invisible characters (PostgreSQL text cannot
/// hold NUL), single spaces, no trailing blanks and at most one empty line in a row.
/// </summary>
public static class TextCleaner
{
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new StringBuilder(text.Length);
        var pendingSpace = false;
        var newlines = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n')
                {
                    continue;
                }

                c = '\n';
            }

            if (c is '\u2028' or '\u2029' or '\v' or '\f' or '\u0085')
            {
                c = '\n';
            }

            if (c == '\n')
            {
                pendingSpace = false; // trailing blanks of a line go
                newlines++;
                continue;
            }

            if (c is ' ' or '\t' or '\u00A0' or '\u2007' or '\u202F' || (char.IsWhiteSpace(c) && c != '\n'))
            {
                pendingSpace = true;
                continue;
            }

            // Control characters, soft hyphens, zero-width characters, byte-order marks and lone surrogates.
            if (char.IsControl(c) || c is '\u00AD' or '\u200B' or '\u200C' or '\u200D' or '\u2060' or '\uFEFF'
                || (char.IsHighSurrogate(c) && (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])))
                || (char.IsLowSurrogate(c) && (i == 0 || !char.IsHighSurrogate(text[i - 1]))))
            {
                continue;
            }

            if (newlines > 0)
            {
                if (output.Length > 0)
                {
                    output.Append('\n', Math.Min(newlines, 2));
                }

                newlines = 0;
                pendingSpace = false;
            }
            else if (pendingSpace && output.Length > 0)
            {
                output.Append(' ');
            }

            pendingSpace = false;
            output.Append(c);
        }

        return output.ToString();
    }

    /// <summary>Text on one line with single spaces, or null when nothing is left.</summary>
    public static string? OneLine(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var cleaned = string.Join(' ', Clean(text).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return cleaned.Length == 0 ? null : cleaned;
    }
}
