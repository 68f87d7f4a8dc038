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
public static class ConsolidationRules
{
    private const double NearIdentical = 0.8;
    private const double RetractionMatch = 0.6;

    // MiniLM cosines (all-MiniLM-L6-v2): a paraphrase of a short fact scores above 0.9, another value of the same
    // kind of thing ("Uses Vim" / "Uses Emacs", "Prefers tea" / "Prefers coffee") 0.5–0.8, unrelated facts below 0.4.
    private const double SameMeaning = 0.9;
    private const double SameKind = 0.5;
    private const double RetractionSimilarity = 0.75;

    /// <summary>Decides by words and the attribute model alone (no similarity scores).</summary>
    public static MemoryDecision Decide(MemoryFact fact, IReadOnlyList<(string ShortId, string Text)> candidates) => Decide(fact, candidates, null);

    /// <summary>
    /// Decides with the attribute model (<see cref="MemoryAttributes"/>) and, when given, the embedder's cosine
    /// similarity of the fact to each candidate (same order as <paramref name="candidates"/>).
    /// </summary>
    public static MemoryDecision Decide(MemoryFact fact, IReadOnlyList<(string ShortId, string Text)> candidates, IReadOnlyList<double>? similarity)
    {
        ArgumentNullException.ThrowIfNull(fact);
        ArgumentNullException.ThrowIfNull(candidates);
        var hash = MemoryText.Hash(fact.Text);
        var words = MemoryText.ContentWords(fact.Text);
        var attribute = MemoryAttributes.Of(fact.Text);
        var scored = candidates.Select((c, i) => new Scored(c.ShortId, c.Text, MemoryText.ContentWords(c.Text), MemoryText.Hash(c.Text),
            MemoryAttributes.Of(c.Text), similarity is not null && i < similarity.Count ? similarity[i] : null)).ToList();

        if (scored.FirstOrDefault(c => c.Hash == hash) is { } same)
        {
            return fact.Retraction
                ? new MemoryDecision(MemoryOperation.Delete, same.ShortId, null, "The user retracted this memory.")
                : new MemoryDecision(MemoryOperation.Noop, same.ShortId, null, "The same memory already exists.");
        }

        if (fact.Retraction)
        {
            return RetractionTarget(words, attribute, scored) is { } target
                ? new MemoryDecision(MemoryOperation.Delete, target.ShortId, null, "The user retracted this memory.")
                : new MemoryDecision(MemoryOperation.Noop, null, null, "Nothing matching the retraction is remembered.");
        }

        // The same predicate, now denied or affirmed again ("Drinks coffee" → "Doesn't drink coffee"): the new one holds.
        if (attribute is not null && scored.FirstOrDefault(c => c.Attribute is { } other && other.Key == attribute.Key
            && other.Negated != attribute.Negated && SameValue(attribute.Value, other.Value)) is { } flipped)
        {
            return new MemoryDecision(MemoryOperation.Update, flipped.ShortId, fact.Text, "The user changed their mind about this.");
        }

        if (words.Count > 0)
        {
            foreach (var c in scored)
            {
                if (MemoryText.Jaccard(words, c.Words) >= NearIdentical && !Conflicts(attribute, c.Attribute))
                {
                    return new MemoryDecision(MemoryOperation.Noop, c.ShortId, null, "A memory with the same meaning exists.");
                }
            }
            foreach (var c in scored)
            {
                if (c.Words.Count > words.Count && MemoryText.Containment(words, c.Words) >= 1 && !Conflicts(attribute, c.Attribute))
                {
                    return new MemoryDecision(MemoryOperation.Noop, c.ShortId, null, "A more detailed memory already says this.");
                }
            }
            foreach (var c in scored)
            {
                // A paraphrase: the embedder sees the same meaning, and no name differs.
                if (c.Similarity >= SameMeaning && !Conflicts(attribute, c.Attribute) && SameNames(fact.Text, c.Text))
                {
                    return new MemoryDecision(MemoryOperation.Noop, c.ShortId, null, "A memory with the same meaning exists.");
                }
            }
        }

        if (attribute is { SingleValued: true } && scored.FirstOrDefault(c => c.Attribute?.Key == attribute.Key) is { } previous)
        {
            return new MemoryDecision(MemoryOperation.Update, previous.ShortId, fact.Text, $"Replaces the previous value of '{attribute.Key}'.");
        }

        foreach (var c in scored)
        {
            if (c.Words.Count >= 2 && words.Count > c.Words.Count && MemoryText.Containment(c.Words, words) >= 1 && !Conflicts(attribute, c.Attribute))
            {
                return new MemoryDecision(MemoryOperation.Update, c.ShortId, fact.Text, "Adds detail to an existing memory.");
            }
        }

        if (fact.Type == MemoryType.Procedural)
        {
            var instruction = scored
                .Where(c => MemoryText.Jaccard(words, c.Words) >= 0.5 || (fact.Supersedes && c.Similarity >= SameKind))
                .OrderByDescending(c => c.Similarity ?? MemoryText.Jaccard(words, c.Words))
                .FirstOrDefault();
            if (instruction is not null)
            {
                return new MemoryDecision(MemoryOperation.Update, instruction.ShortId, fact.Text, "A newer version of the same instruction.");
            }
        }
        else if (fact.Supersedes && attribute is not null)
        {
            // "I now use Emacs": the closest memory with the same predicate is what changed ("Uses Vim"), when the
            // embedder sees the same kind of thing or they share words ("Drinks black coffee" → "Drinks coffee with oat milk").
            var replaced = scored
                .Where(c => SameVerb(attribute, c.Attribute) && (c.Similarity >= SameKind || MemoryText.Jaccard(words, c.Words) >= 0.34))
                .OrderByDescending(c => c.Similarity ?? MemoryText.Jaccard(words, c.Words))
                .FirstOrDefault();
            if (replaced is not null)
            {
                return new MemoryDecision(MemoryOperation.Update, replaced.ShortId, fact.Text, "The user said this replaces what was true before.");
            }
        }

        return new MemoryDecision(MemoryOperation.Add, null, fact.Text, "A new fact.");
    }

    private sealed record Scored(string ShortId, string Text, IReadOnlySet<string> Words, string Hash, FactTrait? Attribute, double? Similarity);

    // The memory a retraction names: by its words ("Uses Stripe" in "Uses Stripe for payments"), by its attribute
    // ("Works at" for "forget where I work"), or by meaning.
    private static Scored? RetractionTarget(IReadOnlySet<string> words, FactTrait? attribute, List<Scored> scored) => scored
        .Select(c => (Candidate: c, Match: MemoryText.Containment(words, c.Words), Overlap: MemoryText.Jaccard(words, c.Words),
            SameAttribute: attribute is not null && c.Attribute is { } other && other.Key == attribute.Key
                && !other.Key.StartsWith("verb:", StringComparison.Ordinal) && (attribute.Value.Length == 0 || SameValue(attribute.Value, other.Value))))
        .Where(c => c.Match >= RetractionMatch || c.SameAttribute || c.Candidate.Similarity >= RetractionSimilarity)
        .OrderByDescending(c => c.SameAttribute).ThenByDescending(c => c.Match).ThenByDescending(c => c.Candidate.Similarity ?? 0).ThenByDescending(c => c.Overlap)
        .Select(c => c.Candidate)
        .FirstOrDefault();

    // Two facts that give one single-valued attribute different values, or one denies what the other says.
    private static bool Conflicts(FactTrait? a, FactTrait? b) =>
        a is not null && b is not null && a.Key == b.Key && (a.Negated != b.Negated || (a.SingleValued && !SameValue(a.Value, b.Value)));

    private static bool SameVerb(FactTrait? a, FactTrait? b) => a is not null && b is not null && a.Key == b.Key;

    private static bool SameValue(string a, string b)
    {
        var x = MemoryText.ContentWords(a);
        var y = MemoryText.ContentWords(b);
        return x.Count == 0 || y.Count == 0 ? x.Count == y.Count : MemoryText.Containment(x, y) >= 1 || MemoryText.Containment(y, x) >= 1;
    }

    // Capitalised words after the first: "Lives in Porto" and "Lives in Lisbon" are close in meaning but name different places.
    private static bool SameNames(string a, string b) => Names(a).SetEquals(Names(b));

    private static HashSet<string> Names(string text) => [.. text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
        .Select(w => w.Trim(',', '.', ';', ':', '!', '(', ')', '"'))
        .Where(w => w.Length > 0 && (char.IsUpper(w[0]) || char.IsDigit(w[0])))
        .Select(w => w.ToLowerInvariant())];

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
    /// A key for attributes that hold one value at a time (employer, home, name, team, age, diet, "favourite X" …;
    /// see <see cref="MemoryAttributes"/>); two facts with the same key and different values contradict each other.
    /// </summary>
    public static string? SingleValuedKey(string text) => MemoryAttributes.SingleValuedKey(text);
}
