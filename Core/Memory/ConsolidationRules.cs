using System.Text.RegularExpressions;

namespace AspireAi.Core.Memory;

/// <summary>A current memory shown to consolidation, under the short id the model sees.</summary>
public sealed record ConsolidationCandidate(string ShortId, MemoryRecord Memory, double Similarity);

/// <summary>
/// Deterministic consolidation: the offline model's answer, the fallback when a model's answer cannot be used, and
/// the source of the guards applied to every model decision (<see cref="Guard"/>):
/// identical or near-identical → NOOP; a retraction → DELETE of the memory it names (or NOOP); the same single-valued
/// predicate with another object ("works at X" / "works at Y") or a more detailed version of a memory → UPDATE;
/// otherwise ADD.
/// </summary>
public static partial class ConsolidationRules
{
    private const double NearIdentical = 0.8;
    private const double RetractionMatch = 0.6;

    public static MemoryDecision Decide(MemoryFact fact, IReadOnlyList<(string ShortId, string Text)> candidates)
    {
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentNullException.ThrowIfNull(candidates);
        var hash = MemoryText.Hash(fact.Text);
        var words = MemoryText.ContentWords(fact.Text);
        var scored = candidates.Select(c => (c.ShortId, c.Text, Words: MemoryText.ContentWords(c.Text), Hash: MemoryText.Hash(c.Text))).ToList();

        if (scored.FirstOrDefault(c => c.Hash == hash) is { ShortId: not null } same)
        {
            return fact.Retraction
                ? new MemoryDecision(MemoryOperation.Delete, same.ShortId, null, "The user retracted this memory.")
                : new MemoryDecision(MemoryOperation.Noop, same.ShortId, null, "The same memory already exists.");
        }

        if (fact.Retraction)
        {
            var target = scored
                .Select(c => (c.ShortId, Match: MemoryText.Containment(words, c.Words), Overlap: MemoryText.Jaccard(words, c.Words)))
                .Where(c => c.Match >= RetractionMatch)
                .OrderByDescending(c => c.Match).ThenByDescending(c => c.Overlap)
                .FirstOrDefault();
            return target.ShortId is not null
                ? new MemoryDecision(MemoryOperation.Delete, target.ShortId, null, "The user retracted this memory.")
                : new MemoryDecision(MemoryOperation.Noop, null, null, "Nothing matching the retraction is remembered.");
        }

        if (words.Count > 0)
        {
            foreach (var c in scored)
            {
                if (MemoryText.Jaccard(words, c.Words) >= NearIdentical)
                {
                    return new MemoryDecision(MemoryOperation.Noop, c.ShortId, null, "A memory with the same meaning exists.");
                }
            }
            foreach (var c in scored)
            {
                if (c.Words.Count > words.Count && MemoryText.Containment(words, c.Words) >= 1)
                {
                    return new MemoryDecision(MemoryOperation.Noop, c.ShortId, null, "A more detailed memory already says this.");
                }
            }
        }

        var key = SingleValuedKey(fact.Text);
        if (key is not null && scored.FirstOrDefault(c => SingleValuedKey(c.Text) == key) is { ShortId: not null } previous)
        {
            return new MemoryDecision(MemoryOperation.Update, previous.ShortId, fact.Text, $"Replaces the previous value of '{key}'.");
        }

        foreach (var c in scored)
        {
            if (c.Words.Count >= 2 && words.Count > c.Words.Count && MemoryText.Containment(c.Words, words) >= 1)
            {
                return new MemoryDecision(MemoryOperation.Update, c.ShortId, fact.Text, "Adds detail to an existing memory.");
            }
        }

        if (fact.Type == MemoryType.Procedural)
        {
            foreach (var c in scored)
            {
                if (MemoryText.Jaccard(words, c.Words) >= 0.5)
                {
                    return new MemoryDecision(MemoryOperation.Update, c.ShortId, fact.Text, "A newer version of the same instruction.");
                }
            }
        }

        return new MemoryDecision(MemoryOperation.Add, null, fact.Text, "A new fact.");
    }

    /// <summary>
    /// Keeps a model's decision within the rules the memory must never break (the bugs mem0 users reported):
    /// a repeated fact is a NOOP, never a DELETE; a contradiction never loses the new fact (DELETE of a non-retraction
    /// becomes UPDATE, and so does a NOOP on another value of a single-valued attribute); a retraction never adds;
    /// targets must be among the candidates.
    /// </summary>
    public static (MemoryDecision Decision, string? Correction) Guard(MemoryDecision decision, MemoryFact fact,
        IReadOnlyList<(string ShortId, string Text)> candidates)
    {
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentNullException.ThrowIfNull(candidates);
        var hash = MemoryText.Hash(fact.Text);
        var target = decision.TargetId is null ? default : candidates.FirstOrDefault(c => string.Equals(c.ShortId, decision.TargetId, StringComparison.OrdinalIgnoreCase));
        var hasTarget = target.ShortId is not null;
        var identical = candidates.FirstOrDefault(c => MemoryText.Hash(c.Text) == hash);

        if (fact.Retraction)
        {
            return decision.Operation switch
            {
                MemoryOperation.Delete when hasTarget => (decision with { TargetId = target.ShortId }, null),
                MemoryOperation.Delete or MemoryOperation.Update when identical.ShortId is not null =>
                    (new MemoryDecision(MemoryOperation.Delete, identical.ShortId, null, decision.Reason), "retraction targets the identical memory"),
                MemoryOperation.Noop => (decision with { TargetId = hasTarget ? target.ShortId : null }, null),
                _ => (Decide(fact, candidates), $"a retraction cannot {MemoryNames.Of(decision.Operation)} without a valid target"),
            };
        }
        if (identical.ShortId is not null && decision.Operation is MemoryOperation.Delete or MemoryOperation.Add or MemoryOperation.Update)
        {
            return (new MemoryDecision(MemoryOperation.Noop, identical.ShortId, null, "The same memory already exists."),
                $"{MemoryNames.Of(decision.Operation)} of a fact that repeats a memory is a NOOP");
        }
        return decision.Operation switch
        {
            MemoryOperation.Delete when hasTarget =>
                (new MemoryDecision(MemoryOperation.Update, target.ShortId, fact.Text, decision.Reason), "DELETE of a contradicted memory keeps the new fact (UPDATE)"),
            MemoryOperation.Delete => (new MemoryDecision(MemoryOperation.Add, null, fact.Text, decision.Reason), "DELETE without a valid target keeps the new fact (ADD)"),
            MemoryOperation.Update when !hasTarget => (new MemoryDecision(MemoryOperation.Add, null, decision.Text ?? fact.Text, decision.Reason), "UPDATE without a valid target is an ADD"),
            MemoryOperation.Update or MemoryOperation.Add when string.IsNullOrWhiteSpace(decision.Text) => (decision with { Text = fact.Text, TargetId = hasTarget ? target.ShortId : null }, null),
            MemoryOperation.Noop when !hasTarget && candidates.Count == 0 => (new MemoryDecision(MemoryOperation.Add, null, fact.Text, decision.Reason), "NOOP with nothing remembered would lose the fact"),
            MemoryOperation.Noop when OtherValueOf(fact, hasTarget ? [target] : candidates) is { } replaced =>
                (new MemoryDecision(MemoryOperation.Update, replaced, fact.Text, decision.Reason), "NOOP on another value of a single-valued attribute keeps the new fact (UPDATE)"),
            _ => (decision with { TargetId = hasTarget ? target.ShortId : null }, null),
        };
    }

    // The first memory holding another value of the fact's single-valued attribute ("Works at Acme" for "Works at
    // Globex"). A restatement is not another value: "Works at Acme" is already said by "Works at Acme Corp in billing".
    private static string? OtherValueOf(MemoryFact fact, IReadOnlyList<(string ShortId, string Text)> memories)
    {
        if (SingleValuedKey(fact.Text) is not { } key)
        {
            return null;
        }
        var words = MemoryText.ContentWords(fact.Text);
        foreach (var (shortId, text) in memories)
        {
            var other = MemoryText.ContentWords(text);
            if (SingleValuedKey(text) == key && MemoryText.Containment(words, other) < 1 && MemoryText.Jaccard(words, other) < NearIdentical)
            {
                return shortId;
            }
        }
        return null;
    }

    /// <summary>
    /// A key for predicates that hold one value at a time (employer, home, name, team, age, "favourite X"); two facts
    /// with the same key and different text contradict each other.
    /// </summary>
    public static string? SingleValuedKey(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var normalized = string.Join(' ', MemoryText.Words(text));
        if (Employer().IsMatch(normalized))
        {
            return "employer";
        }
        if (Home().IsMatch(normalized))
        {
            return "home";
        }
        if (Name().IsMatch(normalized))
        {
            return "name";
        }
        if (Team().IsMatch(normalized))
        {
            return "team";
        }
        if (Age().IsMatch(normalized))
        {
            return "age";
        }
        if (Attribute().Match(normalized) is { Success: true } attribute)
        {
            return "attr:" + attribute.Groups["subject"].Value;
        }
        return null;
    }

    [GeneratedRegex(@"^(?:works (?:at|for)|is employed (?:at|by)|is working (?:at|for))\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Employer();

    [GeneratedRegex(@"^(?:lives in|is based in|is located in|resides in|lives near)\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Home();

    [GeneratedRegex(@"^(?:name is|is called|is named|prefers to be called|goes by)\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Name();

    [GeneratedRegex(@"^is (?:in|on|part of) the \w+(?: \w+)? team$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Team();

    [GeneratedRegex(@"^is \d+ years old\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Age();

    // "favorite color is blue", "timezone is cet", "preferred language is french" (not "is …", which has no subject).
    [GeneratedRegex(@"^(?<subject>(?!is )(?:\w+ ){0,2}(?:favorite|favourite|preferred|timezone|time zone|native|primary|main)(?: \w+){0,2}) is\b",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Attribute();
}
