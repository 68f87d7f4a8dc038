using System.Globalization;
using System.Text.RegularExpressions;
using AspireAi.Core.Common;

namespace AspireAi.Core.Memory;

/// <summary>
/// The offline model's rules for fact extraction: first-person statements of the user become atomic third-person
/// facts ("I work at Acme Corp in the billing team. We use Stripe." → "Works at Acme Corp", "Is in the billing
/// team", "Uses Stripe"), imperatives become procedural memories ("Always use TypeScript for code examples"), "Forget
/// that …" and "I no longer …" become retractions, and questions, requests and small talk yield nothing. Deterministic
/// and conservative: a sentence it does not understand is skipped rather than stored oddly.
/// </summary>
public static partial class OfflineFactExtractor
{
    private static readonly HashSet<string> SkippedVerbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "think", "guess", "wonder", "hope", "need", "wish", "believe", "feel", "see", "mean", "know", "understand", "agree",
        "forgot", "asked", "said", "was", "were", "got", "tried", "can", "cant", "could", "would", "should", "will", "might",
        "must", "shall", "did", "didnt", "dont", "do", "doesnt", "am", "had", "suppose", "bet", "saw", "heard", "read",
        "apologize", "apologise", "appreciate", "thank", "get", "would've", "ll", "d", "m",
    };

    private static readonly HashSet<string> SkippedStates = new(StringComparer.OrdinalIgnoreCase)
    {
        "sorry", "not", "wondering", "looking", "trying", "having", "confused", "curious", "thinking", "asking", "done",
        "back", "fine", "good", "ok", "okay", "glad", "happy", "afraid", "going", "here", "ready", "sure", "just", "so",
        "really", "stuck", "getting", "writing", "about", "still", "also", "interested",
    };

    private static readonly HashSet<string> Adverbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "just", "recently", "currently", "now", "also", "really", "still", "actually", "mostly", "mainly", "primarily", "basically",
    };

    private static readonly HashSet<string> FrequencyAdverbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "always", "never", "usually", "often", "sometimes", "rarely", "generally", "normally",
    };

    private static readonly HashSet<string> ImperativeVerbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "use", "write", "answer", "respond", "reply", "keep", "avoid", "format", "explain", "give", "show", "include",
        "add", "address", "speak", "talk", "stop", "start", "remind", "summarize", "summarise", "prefer", "be", "make",
        "put", "return", "cite", "list", "limit", "translate",
    };

    private static readonly HashSet<string> KnownTechnologies = new(StringComparer.OrdinalIgnoreCase)
    {
        "python", "typescript", "javascript", "java", "kotlin", "swift", "rust", "golang", "c#", "f#", "c++", "ruby", "php", "scala",
        "haskell", "elixir", "dotnet", ".net", "postgres", "postgresql", "mysql", "sqlite", "redis", "mongodb", "kafka", "docker",
        "kubernetes", "terraform", "react", "angular", "vue", "svelte", "blazor", "aws", "azure", "gcp", "linux", "windows", "macos",
        "vim", "emacs", "vscode", "git", "github", "gitlab", "stripe", "paypal", "slack", "jira", "figma", "excel", "node", "deno",
    };

    private static readonly string[] TimeMarkers =
    [
        "yesterday", "today", "tonight", "this morning", "this afternoon", "this evening", "last week", "last month",
        "last year", "last night", "last weekend", "earlier today", "on monday", "on tuesday", "on wednesday",
        "on thursday", "on friday", "on saturday", "on sunday", " ago", "this week", "next week", "tomorrow",
    ];

    /// <summary>Facts from the user's messages of an exchange (assistant messages are ignored).</summary>
    public static IReadOnlyList<MemoryFact> Extract(IEnumerable<(string Role, string Content)> messages, int maxFacts)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var facts = new List<MemoryFact>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (role, content) in messages)
        {
            if (!string.Equals(role, "user", StringComparison.OrdinalIgnoreCase) || string.IsNullOrWhiteSpace(content)
                || SecretDetector.IsOptOut(content))
            {
                continue;
            }
            foreach (var fact in FromText(content))
            {
                if (facts.Count < maxFacts && seen.Add(MemoryText.Hash(fact.Text) + (fact.Retraction ? "!" : "")))
                {
                    facts.Add(fact);
                }
            }
        }
        return facts;
    }

    /// <summary>Facts from one user message.</summary>
    public static IEnumerable<MemoryFact> FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var raw in SentenceSplit().Split(text.ReplaceLineEndings("\n")))
        {
            var sentence = raw.Trim();
            if (sentence.Length < 3 || sentence.EndsWith('?'))
            {
                continue;
            }
            sentence = LeadingFiller().Replace(sentence.TrimEnd('.', '!', ';', ' '), "").Trim();
            var scope = (MemoryScope?)null;
            if (SessionMarker().Match(sentence) is { Success: true } session)
            {
                scope = MemoryScope.Session;
                sentence = sentence.Remove(session.Index, session.Length).Trim().TrimStart(',', ' ').TrimEnd(',', ' ');
            }
            if (sentence.Length < 3 || StartsWithQuestionWord().IsMatch(sentence))
            {
                continue;
            }
            foreach (var fact in FromSentence(sentence))
            {
                yield return scope is null ? fact : fact with { Scope = scope };
            }
        }
    }

    private static IEnumerable<MemoryFact> FromSentence(string sentence)
    {
        if (Retraction().Match(sentence) is { Success: true } retraction)
        {
            foreach (var fact in FromStatement(retraction.Groups["rest"].Value.Trim()))
            {
                yield return fact with { Retraction = true };
            }
            yield break;
        }
        if (NoLonger().Match(sentence) is { Success: true } noLonger)
        {
            var statement = $"I {noLonger.Groups["verb"].Value}{noLonger.Groups["rest"].Value}".Trim();
            foreach (var fact in FromStatement(statement))
            {
                yield return fact with { Retraction = true };
            }
            yield break;
        }
        if (Imperative(sentence) is { } instruction)
        {
            yield return instruction;
            yield break;
        }
        // "I work at Acme and I live in Berlin": one clause per first-person subject.
        foreach (var clause in ClauseSplit().Split(sentence))
        {
            foreach (var fact in FromStatement(clause.Trim().TrimEnd(',')))
            {
                yield return fact;
            }
        }
    }

    // Standing instructions only ("Always use TypeScript", "From now on, answer in French"); a one-off request such
    // as "Write a function that reverses a string" has no standing marker and is not a memory.
    private static MemoryFact? Imperative(string sentence)
    {
        if (!StandingMarker().IsMatch(sentence))
        {
            return null;
        }
        var text = TransientLead().Replace(PoliteLead().Replace(sentence, ""), "").Trim().TrimEnd(',');
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2)
        {
            return null;
        }
        var first = words[0].ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
        var isInstruction = first is "always" or "never"
            || (first is "dont" or "don't" && ImperativeVerbs.Contains(words[1]))
            || ImperativeVerbs.Contains(first);
        var fact = isInstruction ? Finish(text) : null;
        return fact is null ? null : new MemoryFact(fact, MemoryType.Procedural, 0.8f, Entities(fact), false);
    }

    private static IEnumerable<MemoryFact> FromStatement(string statement)
    {
        if (CallMe().Match(statement) is { Success: true } callMe)
        {
            yield return Fact($"Prefers to be called {callMe.Groups["name"].Value}", 0.8f);
            yield break;
        }
        if (MyX().Match(statement) is { Success: true } my)
        {
            // "My name is Bob" -> "Name is Bob"; "Our team uses Go" -> "Team uses Go".
            var body = Pronouns(my.Groups["rest"].Value);
            if (Finish(body) is { } text)
            {
                yield return Fact(text, text.StartsWith("Name ", StringComparison.Ordinal) ? 0.9f : 0.6f);
            }
            yield break;
        }
        var subject = Subject().Match(statement);
        if (!subject.Success)
        {
            yield break;
        }
        var rest = statement[subject.Length..].Trim();
        var contraction = subject.Groups["be"].Success ? "be" : subject.Groups["have"].Success ? "have" : null;
        if (contraction == "be")
        {
            foreach (var fact in FromBe(rest))
            {
                yield return fact;
            }
            yield break;
        }
        if (contraction == "have")
        {
            if (Finish("Has " + Pronouns(rest)) is { } had)
            {
                yield return Fact(had, 0.6f);
            }
            yield break;
        }

        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var lead = new List<string>();
        while (words.Count > 0 && (Adverbs.Contains(words[0]) || FrequencyAdverbs.Contains(words[0])))
        {
            if (FrequencyAdverbs.Contains(words[0]))
            {
                lead.Add(words[0].ToLowerInvariant());
            }
            words.RemoveAt(0);
        }
        if (words.Count == 0)
        {
            yield break;
        }
        var verb = words[0].ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
        var tail = string.Join(' ', words.Skip(1));
        if (verb is "am" or "'m")
        {
            foreach (var fact in FromBe(tail))
            {
                yield return fact;
            }
            yield break;
        }
        if (SkippedVerbs.Contains(verb.Replace("'", "", StringComparison.Ordinal)) || verb.Contains('\''))
        {
            yield break;
        }
        if (verb is "want" or "plan" or "intend" && tail.StartsWith("to ", StringComparison.OrdinalIgnoreCase))
        {
            if (Finish($"{ThirdPerson(verb)} {Pronouns(tail)}") is { } goal)
            {
                yield return Fact(goal, 0.5f);
            }
            yield break;
        }

        // Canonical predicates, so that later statements about the same thing meet in consolidation.
        string? canonical = verb switch
        {
            "joined" or "join" => "Works at " + tail,
            "moved" when tail.StartsWith("to ", StringComparison.OrdinalIgnoreCase) => "Lives in " + tail[3..],
            "switched" when tail.StartsWith("to ", StringComparison.OrdinalIgnoreCase) => "Uses " + tail[3..],
            "started" when StartedAt().Match(tail) is { Success: true } s => "Works at " + s.Groups["org"].Value,
            _ => null,
        };
        if (canonical is not null)
        {
            foreach (var fact in SplitWork(Pronouns(canonical)))
            {
                yield return fact;
            }
            yield break;
        }

        var conjugated = IsPast(verb) ? verb : ThirdPerson(verb);
        var sentence = string.Join(' ', [.. lead, conjugated, Pronouns(tail)]);
        foreach (var fact in SplitWork(sentence))
        {
            yield return fact;
        }
    }

    // "I'm ..." / "I am ...".
    private static IEnumerable<MemoryFact> FromBe(string rest)
    {
        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0 || SkippedStates.Contains(words[0].Trim(',')))
        {
            yield break;
        }
        if (words.Length <= 2 && words.All(w => w.Length > 0 && char.IsUpper(w[0])))
        {
            yield return Fact($"Name is {string.Join(' ', words)}", 0.9f); // "I'm Alice"
            yield break;
        }
        if (Finish("Is " + Pronouns(rest)) is { } text)
        {
            var important = text.StartsWith("Is allergic", StringComparison.Ordinal) || text.Contains(" years old", StringComparison.Ordinal);
            yield return Fact(text, important ? 0.9f : 0.6f);
        }
    }

    // "Works at Acme Corp in the billing team" -> "Works at Acme Corp" + "Is in the billing team".
    private static IEnumerable<MemoryFact> SplitWork(string sentence)
    {
        if (WorkTeam().Match(sentence) is { Success: true } work)
        {
            if (Finish($"{work.Groups["verb"].Value} {work.Groups["prep"].Value} {work.Groups["org"].Value}") is { } employer)
            {
                yield return Fact(employer, 0.8f);
            }
            if (Finish($"Is in the {work.Groups["team"].Value}") is { } team)
            {
                yield return Fact(team, 0.6f);
            }
            yield break;
        }
        if (Finish(sentence) is { } text)
        {
            var important = text.StartsWith("Works ", StringComparison.Ordinal) || text.StartsWith("Lives ", StringComparison.Ordinal);
            yield return Fact(text, important ? 0.8f : 0.6f);
        }
    }

    private static MemoryFact Fact(string text, float importance)
    {
        var lower = " " + text.ToLowerInvariant();
        var episodic = TimeMarkers.Any(marker => lower.Contains(marker, StringComparison.Ordinal));
        return new MemoryFact(text, episodic ? MemoryType.Episodic : MemoryType.Semantic, episodic ? 0.4f : importance, Entities(text), false);
    }

    /// <summary>Named things in a text: capitalised phrases after the first word, and well-known technologies.</summary>
    public static IReadOnlyList<MemoryEntity> Entities(string text)
    {
        var entities = new List<MemoryEntity>();
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var i = 1;
        while (i < words.Length)
        {
            var word = words[i].Trim(',', '.', ';', ':', '!', '(', ')', '"');
            if (word.Length > 0 && (char.IsUpper(word[0]) || KnownTechnologies.Contains(word)) && !IsPronounLike(word))
            {
                var start = i;
                var parts = new List<string> { word };
                // Multi-word names: "Acme Corp", "New York" (capitalised neighbours; a comma ends the name).
                while (i + 1 < words.Length && !words[i].EndsWith(',') && words[i + 1].Length > 0 && char.IsUpper(words[i + 1][0]))
                {
                    i++;
                    parts.Add(words[i].Trim(',', '.', ';', ':', '!', '(', ')', '"'));
                }
                var name = string.Join(' ', parts);
                var previous = start > 0 ? words[start - 1].ToLowerInvariant() : "";
                entities.Add(new MemoryEntity(name, TypeOf(name, previous)));
            }
            i++;
        }
        return [.. entities.DistinctBy(e => MemoryText.NormalizeName(e.Name))];
    }

    private static string TypeOf(string name, string previous)
    {
        if (KnownTechnologies.Contains(name))
        {
            return "technology";
        }
        if (OrgSuffix().IsMatch(name) || previous is "at" or "for" or "joined")
        {
            return "organization";
        }
        if (previous is "in" or "to" or "from" or "near")
        {
            return "place";
        }
        if (previous is "is" or "called" or "named")
        {
            return "person";
        }
        return "other";
    }

    private static bool IsPronounLike(string word) => word is "I" or "I'm" or "I've" or "OK" or "Is";

    private static bool IsPast(string verb) => verb.EndsWith("ed", StringComparison.Ordinal)
        || verb is "went" or "met" or "bought" or "made" or "took" or "gave" or "began" or "became" or "left" or "won"
            or "lost" or "found" or "built" or "wrote" or "ran" or "flew" or "spent" or "sold" or "taught" or "grew";

    internal static string ThirdPerson(string verb)
    {
        var lower = verb.ToLowerInvariant();
        return lower switch
        {
            "have" => "has",
            "do" => "does",
            "go" => "goes",
            "be" => "is",
            _ when lower.EndsWith('y') && lower.Length > 2 && !"aeiou".Contains(lower[^2], StringComparison.Ordinal) => lower[..^1] + "ies",
            _ when lower.EndsWith('s') || lower.EndsWith('x') || lower.EndsWith('z') || lower.EndsWith("sh", StringComparison.Ordinal)
                || lower.EndsWith("ch", StringComparison.Ordinal) || lower.EndsWith('o') => lower + "es",
            _ => lower + "s",
        };
    }

    private static string Pronouns(string text) => FirstPerson().Replace(" " + text + " ", m => m.Value.Trim().ToLowerInvariant() switch
    {
        "my" or "our" => " their ",
        "me" or "us" => " them ",
        "i" or "we" => " they ",
        "myself" => " themselves ",
        "mine" or "ours" => " theirs ",
        _ => m.Value,
    }).Trim();

    // Capitalised, one line, no trailing punctuation; null when too short to be a fact.
    private static string? Finish(string text)
    {
        var clean = MemoryText.Clean(text)?.Trim().TrimEnd('.', '!', ',', ';', ':', ' ');
        if (clean is null || clean.Split(' ').Length < 2 || clean.Length > 300)
        {
            return null;
        }
        return char.ToUpper(clean[0], CultureInfo.InvariantCulture) + clean[1..];
    }

    [GeneratedRegex(@"(?<=[.!?;])\s+|\n+", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex SentenceSplit();

    [GeneratedRegex(@"^(?:(?:hi|hello|hey|well|so|also|btw|by the way|actually|oh|ok|okay|and|but|fyi|just so you know|for context|for the record|note|anyway|plus|oh and|one more thing)\b[,!:]?\s*)+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex LeadingFiller();

    [GeneratedRegex(@"^(?:for|in|during)\s+(?:this|the current)\s+(?:conversation|chat|session)\b[,:]?|\b(?:for|in|during)\s+(?:this|the current)\s+(?:conversation|chat|session)\b|\bfor now\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex SessionMarker();

    [GeneratedRegex(@"^(?:what|where|when|why|how|who|whom|which|whose|can|could|would|will|do|does|did|is|are|was|were|should|shall|may|might|am|have|has|tell|explain|help|give me|show me|write me|please help)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StartsWithQuestionWord();

    [GeneratedRegex(@"^(?:please\s+)?(?:forget|delete|remove|erase|drop)\s+(?:the\s+fact\s+that\s+|that\s+|about\s+)?(?<rest>(?:i|i'm|i’m|my|we|our)\b.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Retraction();

    [GeneratedRegex(@"^(?:i|we)\s+(?:no\s+longer\s+(?<verb>\w+)(?<rest>.*?)|(?:don'?t|do\s+not|don’t)\s+(?<verb>\w+)(?<rest>.*?)\s+any\s*more)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex NoLonger();

    [GeneratedRegex(@"^(?:please\s+|from\s+now\s+on,?\s+|going\s+forward,?\s+|in\s+(?:the\s+)?future,?\s+|make\s+sure\s+(?:to|that\s+you)\s+)+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PoliteLead();

    [GeneratedRegex(@"\b(?:always|never|from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|whenever|every\s+time|each\s+time|by\s+default|in\s+all\s+(?:of\s+)?(?:your\s+)?(?:answers|responses|replies)|(?:all|each|every)\s+(?:of\s+)?your\s+(?:answers|responses|replies))\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StandingMarker();

    // Markers that only say "from now on" and would read oddly inside the stored instruction.
    [GeneratedRegex(@",?\s*\b(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future)\b,?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex TransientLead();

    [GeneratedRegex(@"^(?:please\s+)?call\s+me\s+(?<name>[\p{L}][\p{L}'\-]*(?:\s+[\p{Lu}][\p{L}'\-]*)?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex CallMe();

    [GeneratedRegex(@"^(?:my|our)\s+(?<rest>\S.*\s(?:is|are|was|uses|use|has|have|lives|works)\s.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex MyX();

    [GeneratedRegex(@"^(?:i|we)(?:(?<be>'m|’m|\s+am|'re|’re|\s+are)|(?<have>'ve|’ve)(?!\s+been\s+(?:wondering|thinking|trying|looking)))?(?=\s|$)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Subject();

    [GeneratedRegex(@"^(?:(?:at|with)\s+)?(?<org>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StartedAt();

    [GeneratedRegex(@"^(?<verb>Works)\s+(?<prep>at|for)\s+(?<org>.+?)\s+(?:in|on)\s+the\s+(?<team>[\w\- ]+?\s+team)\b.*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex WorkTeam();

    [GeneratedRegex(@"(?<=\s)(?:my|our|me|us|i|we|myself|mine|ours)(?=\s)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex FirstPerson();

    [GeneratedRegex(@",?\s+(?:and|but)\s+(?=(?:i|i'm|i’m|my|we|our)\b)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex ClauseSplit();

    [GeneratedRegex(@"\b(?:corp|corporation|inc|ltd|llc|gmbh|ag|sa|plc|co)\.?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex OrgSuffix();
}
