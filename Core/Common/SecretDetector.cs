using System.Text.RegularExpressions;

namespace AspireAi.Core.Common;

/// <summary>
/// Keeps secrets and "don't remember this" content out of memory. Runs before anything is stored: the extraction
/// input is redacted (so a model cannot paraphrase a secret past the filter), every fact is checked again, and
/// direct writes (API, PUT, the remember tool) are refused when they carry one.
/// </summary>
public static partial class SecretDetector
{
    /// <summary>What replaces a secret in redacted text; a fact containing it is never stored.</summary>
    public const string Placeholder = "[redacted]";

    /// <summary>The kind of secret found first, or null when the text looks clean.</summary>
    public static string? Find(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (text.Contains(Placeholder, StringComparison.OrdinalIgnoreCase))
        {
            return "redacted";
        }
        foreach (var (kind, pattern) in Patterns)
        {
            if (pattern.IsMatch(text))
            {
                return kind;
            }
        }
        if (CardCandidate().Matches(text).Any(m => IsCardNumber(m.Value)))
        {
            return "card_number";
        }
        return null;
    }

    /// <summary>True when <paramref name="text"/> contains a secret.</summary>
    public static bool ContainsSecret(string? text) => Find(text) is not null;

    /// <summary>The text with every secret replaced by <see cref="Placeholder"/>.</summary>
    public static string Redact(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = text;
        foreach (var (_, pattern) in Patterns)
        {
            result = pattern.Replace(result, m => m.Groups["secret"].Success
                ? string.Concat(m.Value.AsSpan(0, m.Groups["secret"].Index - m.Index), Placeholder)
                : Placeholder);
        }
        return CardCandidate().Replace(result, m => IsCardNumber(m.Value) ? Placeholder : m.Value);
    }

    /// <summary>
    /// True when the user asks that something not be remembered ("don't remember this", "off the record"). The whole
    /// message is then left out of extraction: guessing which part they meant is not worth the risk.
    /// </summary>
    public static bool IsOptOut(string? text) => !string.IsNullOrEmpty(text) && OptOut().IsMatch(text);

    /// <summary>Luhn check of 13 to 19 digits (spaces and dashes allowed), as card numbers use.</summary>
    public static bool IsCardNumber(string candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        Span<int> digits = stackalloc int[19];
        var count = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c))
            {
                if (count == digits.Length)
                {
                    return false;
                }
                digits[count++] = c - '0';
            }
            else if (c is not (' ' or '-'))
            {
                return false;
            }
        }
        if (count < 13)
        {
            return false;
        }
        var sum = 0;
        for (var i = 0; i < count; i++)
        {
            var d = digits[count - 1 - i];
            if (i % 2 == 1)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }
            sum += d;
        }
        return sum % 10 == 0;
    }

    private static readonly (string Kind, Regex Pattern)[] Patterns =
    [
        ("private_key", PrivateKey()),
        ("api_key", ApiKey()),
        ("jwt", Jwt()),
        ("bearer_token", Bearer()),
        ("password", Password()),
        ("credential_assignment", Assignment()),
        ("national_id", NationalId()),
        ("iban", Iban()),
        ("high_entropy_token", HighEntropy()),
    ];

    [GeneratedRegex(@"-----BEGIN [A-Z ]*PRIVATE KEY-----", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PrivateKey();

    // Vendor key shapes: OpenAI/Anthropic (sk-...), AWS access keys, GitHub, Slack, Google, Stripe live/test keys.
    [GeneratedRegex(@"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_\-]{30,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,})",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex ApiKey();

    [GeneratedRegex(@"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Jwt();

    [GeneratedRegex(@"\bbearer\s+(?<secret>[A-Za-z0-9_\-\.=+/]{16,})", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Bearer();

    // "my password is hunter2", "password: x", "passcode 1234", "PIN is 0000": the word says what follows is secret.
    [GeneratedRegex(@"\b(?:pass(?:word|wd|phrase|code)|pwd|pin(?:\s+(?:code|number))?)\b(?:\s+(?:for|to|of|on|at)\s+[\w.@-]+)?\s*(?:\bis\b|\bwas\b|=|:|->)\s*(?<secret>[""']?\S{3,})",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Password();

    [GeneratedRegex(@"\b(?:api[_\s-]?key|secret(?:[_\s-]?key)?|access[_\s-]?token|auth[_\s-]?token|client[_\s-]?secret|private[_\s-]?key|token)\b\s*(?:is|=|:)\s*(?<secret>[""']?[A-Za-z0-9_\-\.=+/]{8,})",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Assignment();

    // US social security numbers (the common shape of a national id in English text).
    [GeneratedRegex(@"\b\d{3}-\d{2}-\d{4}\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex NationalId();

    [GeneratedRegex(@"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3})?\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Iban();

    // Long random-looking tokens (mixed letters and digits, 32+ characters) such as keys of unknown vendors.
    [GeneratedRegex(@"\b(?=[A-Za-z0-9_\-]{32,}\b)(?=[A-Za-z_\-]*\d)(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex HighEntropy();

    [GeneratedRegex(@"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex CardCandidate();

    [GeneratedRegex(@"\b(?:(?:do\s*n[o']?t|do\s+not|never|please\s+don'?t)\s+(?:remember|memori[sz]e|store|save|keep|record|note)(?:\s+(?:this|that|it|any|anything|what|the\s+following)\b|\s*[.!:]|\s*$)|off\s+the\s+record\b|keep\s+(?:this|that|it)\s+between\s+us\b|forget\s+(?:this|what\s+i\s+(?:just\s+)?said)\s+(?:after|once|right))",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex OptOut();
}
