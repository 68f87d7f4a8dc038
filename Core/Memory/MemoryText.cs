using AspireAi.Core.Common;
using System.Security.Cryptography;
using System.Text;

namespace AspireAi.Core.Memory;

/// <summary>Text helpers shared by extraction, consolidation, dedupe and retrieval.</summary>
public static class MemoryText
{
    /// <summary>
    /// The dedupe key: sha256 of the text lowercased, accent-folded and stripped of punctuation and extra spaces, so
    /// "Works at Acme Corp." and "works at  acme corp" are one memory.
    /// </summary>
    public static string Hash(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(TextNormalizer.Normalize(text))));

    /// <summary>Normalised words (lowercase, folded, no punctuation).</summary>
    public static string[] Words(string? text) => TextNormalizer.Words(text);

    /// <summary>Distinct stemmed content words (stopwords dropped).</summary>
    public static IReadOnlySet<string> ContentWords(string? text) =>
        TextNormalizer.ContentWords(text).Select(Canonical).ToHashSet(StringComparer.Ordinal);

    /// <summary>The normalised form of an entity name ("ACME Corp." → "acme corp").</summary>
    public static string NormalizeName(string name) => TextNormalizer.Normalize(name);

    /// <summary>Trims, joins lines and collapses whitespace; null when nothing is left.</summary>
    public static string? Clean(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text.Trim())
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                space = builder.Length > 0;
                continue;
            }
            if (space)
            {
                builder.Append(' ');
                space = false;
            }
            builder.Append(c);
        }
        return builder.Length == 0 ? null : builder.ToString();
    }

    /// <summary>|a ∩ b| / |a ∪ b|; 0 when both are empty.</summary>
    public static double Jaccard(IReadOnlySet<string> a, IReadOnlySet<string> b)
    {
        if (a.Count == 0 && b.Count == 0)
        {
            return 0;
        }
        var common = a.Count(b.Contains);
        return common / (double)(a.Count + b.Count - common);
    }

    /// <summary>|a ∩ b| / |a|: how much of <paramref name="a"/> is contained in <paramref name="b"/>.</summary>
    public static double Containment(IReadOnlySet<string> a, IReadOnlySet<string> b) =>
        a.Count == 0 ? 0 : a.Count(b.Contains) / (double)a.Count;

    // A few verb forms the light stemmer leaves apart ("works"/"working" -> "work" already; "lives"/"lived" not).
    private static string Canonical(string word) => word switch
    {
        "worked" => "work",
        "lived" or "live" or "liv" => "live",
        "used" or "use" or "us" => "use",
        "preferred" or "prefer" => "prefer",
        "liked" or "like" => "like",
        "joined" or "join" => "join",
        _ => word,
    };
}
