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
        "apologize", "apologise", "appreciate", "thank", "get", "would've", "ll", "d", "m", "care", "mind", "promise", "probably",
        "maybe", "totally", "literally", "honestly", "meant", "told",
    };

    private static readonly HashSet<string> SkippedStates = new(StringComparer.OrdinalIgnoreCase)
    {
        "sorry", "not", "wondering", "looking", "trying", "having", "confused", "curious", "thinking", "asking", "done",
        "back", "fine", "good", "ok", "okay", "glad", "happy", "afraid", "going", "here", "ready", "sure", "just", "so",
        "really", "stuck", "getting", "writing", "about", "still", "also", "interested", "tired", "bored", "hungry", "sad",
        "excited", "frustrated", "annoyed", "busy", "late", "lost", "sick", "kidding", "joking", "serious", "right", "wrong",
        "gonna", "off", "out", "away", "kind", "pretty", "very", "too", "probably", "maybe", "totally", "a bit", "listening",
        "starving", "exhausted", "sleepy", "all", "quite", "such", "super", "absolutely", "completely", "utterly", "extremely",
        "beyond", "dead", "dying", "itching", "bursting", "desperate", "being",
    };

    private static readonly HashSet<string> Determiners = new(StringComparer.OrdinalIgnoreCase)
    {
        "a", "an", "another", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "some", "the",
    };

    // Progressive verbs before an infinitive that state a lasting plan rather than a passing wish.
    private static readonly HashSet<string> LastingIntents = new(StringComparer.OrdinalIgnoreCase)
    {
        "planning", "training", "learning", "studying", "saving", "preparing", "moving", "hoping",
    };

    private static readonly HashSet<string> NotAName = new(StringComparer.OrdinalIgnoreCase)
    {
        "back", "later", "tomorrow", "tonight", "soon", "anytime", "whenever", "when", "if", "after", "before", "again", "sometime",
        "maybe", "please", "now", "today", "crazy", "old", "lazy", "names", "out", "up", "anything", "that", "this", "it",
    };

    private static readonly HashSet<string> Negations = new(StringComparer.OrdinalIgnoreCase) { "don't", "dont", "don’t", "doesn't", "doesnt" };

    // Verbs whose denial is a lasting fact ("Doesn't eat meat"); "I don't know" or "I don't care" are not facts.
    private static readonly HashSet<string> NegatableVerbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "eat", "drink", "smoke", "drive", "own", "use", "like", "love", "enjoy", "watch", "play", "speak", "have", "cook",
        "celebrate", "work", "live", "read", "wear",
    };

    // Titles, street types, company suffixes and other words that end in a period inside a sentence.
    private static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "st", "ste", "dr", "mr", "mrs", "ms", "mx", "prof", "sr", "jr", "ave", "rd", "blvd", "ln", "mt", "ft", "no", "vs", "etc",
        "approx", "dept", "univ", "inc", "corp", "ltd", "co", "bros", "gen", "col", "lt", "sgt", "capt", "rev", "hon", "apt",
        "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "est", "min", "max", "sq", "hwy", "pl", "ct",
    };

    // Words that start a new statement of the user even right after an abbreviation ("… Main St. I work at …").
    private static readonly HashSet<string> SentenceStarters = new(StringComparer.Ordinal)
    {
        "I", "I'm", "I’m", "I've", "I’ve", "I'd", "I’d", "I'll", "My", "We", "We're", "We’re", "Our", "Also", "And", "But", "Please",
        "Remember", "Forget", "Call", "Always", "Never", "From", "Actually", "Oh", "So", "Btw", "BTW", "Then", "It", "It's",
        "That", "This", "The", "Thanks", "Anyway", "Can", "Could", "What", "Where", "How", "Why", "Who", "When", "Do", "Don't",
    };

    private static readonly HashSet<string> Adverbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "just", "recently", "currently", "now", "also", "really", "still", "actually", "mostly", "mainly", "primarily", "basically",
        "finally", "officially", "already",
    };

    private static readonly HashSet<string> FrequencyAdverbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "always", "never", "usually", "often", "sometimes", "rarely", "generally", "normally",
    };

    private static readonly HashSet<string> ImperativeVerbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "use", "write", "answer", "respond", "reply", "keep", "avoid", "format", "explain", "give", "show", "include",
        "add", "address", "speak", "talk", "stop", "start", "remind", "summarize", "summarise", "prefer", "be", "make",
        "put", "return", "cite", "list", "limit", "translate", "pretend", "assume", "treat", "mention", "ask", "suggest", "double-check",
    };

    // Everyday verbs that state something lasting about the user (base forms). A clause that starts with one after
    // "and" / "but" / a comma continues the first clause's subject ("I rent a flat in Glasgow and cycle to work"), and
    // "my <someone> <verb>s …" is a statement about that person ("my daughter studies law"). Words that are more
    // often nouns in a list ("fish", "dance", "garden") are left out, so "I eat rice and fish" stays one clause.
    private static readonly string[] StatementVerbs =
    [
        "work", "live", "use", "play", "speak", "drive", "own", "have", "like", "love", "prefer", "eat", "drink", "study", "teach",
        "enjoy", "hate", "coach", "cycle", "walk", "run", "swim", "knit", "keep", "rent", "cook", "bake", "sing", "write",
        "read", "watch", "collect", "grow", "volunteer", "practise", "practice", "attend", "visit", "travel", "commute", "ride",
        "sew", "build", "climb", "hike", "ski", "surf", "jog", "meditate", "manage", "lead", "support", "follow", "wear",
        "take", "avoid", "learn", "code", "design", "mentor", "tutor", "raise", "breed", "brew", "host", "organise",
        "organize", "paint", "smoke", "vote", "attend", "belong", "care for", "look after",
    ];

    // Verbs that make a lasting fact with no object ("I smoke" → "Smokes", "I knit" → "Knits").
    private static readonly HashSet<string> HabitVerbs = new(StringComparer.OrdinalIgnoreCase)
    {
        "smoke", "vape", "drink", "cook", "bake", "knit", "sew", "sing", "swim", "run", "jog", "cycle", "hike", "climb", "ski",
        "surf", "meditate", "paint", "draw", "garden", "fish", "volunteer", "commute", "gamble", "drive",
    };

    private static readonly string VerbAlternatives = string.Join('|', StatementVerbs.Distinct().Select(v => v.Replace(" ", @"\s+", StringComparison.Ordinal)));

    private static readonly string ThirdPersonAlternatives = string.Join('|', StatementVerbs.Distinct()
        .Select(v => v.Split(' ') is [var head, .. var more] ? string.Join(@"\s+", [ThirdPerson(head), .. more]) : v));

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);

    private static readonly Regex SharedSubjectVerbRegex = new(@"^(?:also\s+)?(?:am|" + VerbAlternatives + @")\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);

    // Where a compound statement splits: before a new first-person subject, before "everyone calls me", before a verb
    // that continues the subject (after "and" / "but" / a comma), and before ", call me …".
    private static readonly Regex ClauseSplitRegex = new(
        @",?\s+(?:and|but)\s+(?=(?:(?:now|then|also|currently|today|these\s+days)\s+)?(?:i|i'm|i’m|my|we|our)\b)"
        + @"|,?\s+(?:and|but)\s+(?=(?:everyone|everybody|people|friends|most\s+people|my\s+friends)\s+calls?\s+me\b)"
        + @"|,?\s+(?:and|but)\s+(?=(?:also\s+)?(?:am|" + VerbAlternatives + @")\b\s+\S)"
        + @"|,\s+(?=(?:also\s+)?(?:" + VerbAlternatives + @")\b\s+\S)"
        + @"|,\s+(?=(?:please\s+|just\s+)?call\s+me\b)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);

    // "My name is Bob", "Our team uses Go", "My daughter studies law": a statement about one of the user's things or people.
    private static readonly Regex MyXRegex = new(@"^(?:my|our)\s+(?<rest>\S.*?\s(?:is|are|was|has|goes|" + ThirdPersonAlternatives + @")\s.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);

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
        foreach (var raw in Sentences(text))
        {
            var sentence = raw.Trim();
            if (sentence.Length < 3 || sentence.EndsWith('?'))
            {
                continue;
            }
            sentence = sentence.TrimEnd('.', '!', ';', ' ');
            var cues = ReadCues(ref sentence);
            // "Give me …" opens a one-off request, unless the sentence says it stands ("From now on, give me longer answers").
            if (sentence.Length < 3 || (StartsWithQuestionWord().IsMatch(sentence) && !(cues.Standing && StandingRequest().IsMatch(sentence))))
            {
                continue;
            }
            foreach (var fact in FromSentence(sentence, cues.Standing))
            {
                var scoped = cues.Scope is null ? fact : fact with { Scope = cues.Scope };
                yield return cues.Supersedes && !scoped.Retraction ? scoped with { Supersedes = true } : scoped;
            }
        }
    }

    /// <summary>True when the text limits what it says to the conversation ("for this chat", "just for today").</summary>
    public static bool HasSessionCue(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SessionMarker().IsMatch(text);
    }

    /// <summary>
    /// Sentences of a message: cut after . ! ? ; and at line breaks, but not after an abbreviation or an initial
    /// ("St. James Street", "Dr. Lee", "J. R. R. Tolkien", "the U.S. office", "e.g. Go") unless the next word starts a
    /// new statement of the user ("… Main St. I work at …").
    /// </summary>
    public static IEnumerable<string> Sentences(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var line in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var start = 0;
            foreach (Match boundary in Boundary().Matches(line))
            {
                var end = boundary.Index + boundary.Length;
                if (boundary.Value == "." && IsAbbreviation(line, boundary.Index, end))
                {
                    continue;
                }
                yield return line[start..end];
                start = end;
            }
            if (start < line.Length)
            {
                yield return line[start..];
            }
        }
    }

    private static bool IsAbbreviation(string line, int dot, int next)
    {
        var from = dot;
        while (from > 0 && !char.IsWhiteSpace(line[from - 1]) && line[from - 1] is not '(' and not '"')
        {
            from--;
        }
        var token = line[from..dot];
        var abbreviation = token.Length == 1 && char.IsUpper(token[0]) // an initial
            || token.Contains('.', StringComparison.Ordinal) // U.S, e.g, i.e, Ph.D
            || Abbreviations.Contains(token);
        if (!abbreviation)
        {
            return false;
        }
        var rest = line[next..].TrimStart();
        if (rest.Length == 0)
        {
            return false;
        }
        // "approx. five", "e.g. Go": a lowercase or digit continuation never starts a sentence; a first-person
        // subject or a cue of a new statement does.
        var word = rest.Split(' ', 2)[0].Trim(',', ':');
        return !SentenceStarters.Contains(word);
    }

    // What a sentence says about itself: its scope ("for this conversation"), whether it replaces an earlier value
    // ("now", "again", "actually", "from now on", "…, not Lisbon") and whether it is a standing instruction. The cue
    // words are removed, so "Remember that for this chat I'm Captain" reads "I'm Captain", session-scoped.
    private static (MemoryScope? Scope, bool Supersedes, bool Standing) ReadCues(ref string sentence)
    {
        MemoryScope? scope = null;
        var supersedes = ChangeCue().IsMatch(sentence);
        var standing = false;
        for (var changed = true; changed;)
        {
            changed = false;
            var before = sentence;
            sentence = LeadingFiller().Replace(sentence, "").Trim();
            if (Correction().Match(sentence) is { Success: true, Length: > 0 } correction)
            {
                supersedes = true;
                sentence = sentence[correction.Length..].Trim();
            }
            if (RememberLead().Match(sentence) is { Success: true, Length: > 0 } remember)
            {
                sentence = sentence[remember.Length..].Trim();
            }
            if (SessionMarker().Match(sentence) is { Success: true } session)
            {
                // An instruction limited to the conversation is a standing one there ("Just for today, reply in German").
                scope = MemoryScope.Session;
                standing = true;
                sentence = Remove(sentence, session);
            }
            if (StandingCue().Match(sentence) is { Success: true } cue)
            {
                standing = supersedes = true;
                sentence = Remove(sentence, cue);
            }
            changed = sentence != before;
        }
        if (NotInstead().Match(sentence) is { Success: true } instead)
        {
            supersedes = true;
            sentence = sentence[..instead.Index].Trim().TrimEnd(',', ' ');
        }
        return (scope, supersedes, standing);
    }

    private static string Remove(string sentence, Match match) =>
        Spaces().Replace(sentence.Remove(match.Index, match.Length), " ").Trim().Trim(',', ' ', ':', '-');

    private static IEnumerable<MemoryFact> FromSentence(string sentence, bool standing)
    {
        if (Retraction().Match(sentence) is { Success: true } retraction)
        {
            foreach (var fact in Retracted(retraction.Groups["rest"].Value.Trim()))
            {
                yield return fact;
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
        if (NotAnymore().Match(sentence) is { Success: true } notAnymore)
        {
            foreach (var fact in FromStatement("I'm " + notAnymore.Groups["rest"].Value.Trim()))
            {
                yield return fact with { Retraction = true };
            }
            yield break;
        }
        if (Stopped().Match(sentence) is { Success: true } stopped)
        {
            foreach (var fact in StoppedDoing(stopped.Groups["verb"].Value.ToLowerInvariant(), stopped.Groups["rest"].Value.Trim()))
            {
                yield return fact;
            }
            yield break;
        }
        if (Imperative(sentence, standing) is { } instruction)
        {
            yield return instruction;
            yield break;
        }
        // "I work at Acme and I live in Berlin", "I live in Lisbon and work at Feedzai": one clause per statement.
        foreach (var clause in Clauses(sentence))
        {
            foreach (var fact in FromStatement(clause))
            {
                yield return fact;
            }
        }
    }

    private static IEnumerable<string> Clauses(string sentence)
    {
        var first = true;
        foreach (var part in ClauseSplitRegex.Split(sentence))
        {
            var clause = LeadingFiller().Replace(part.Trim().TrimEnd(','), "").Trim();
            if (clause.Length == 0)
            {
                continue;
            }
            // A clause that continues the first one's subject ("… and work at Feedzai") gets it back.
            yield return !first && SharedSubjectVerbRegex.IsMatch(clause) ? "I " + clause : clause;
            first = false;
        }
    }

    // "Forget that I use Stripe", "forget where I work", "delete what you know about my cat".
    private static IEnumerable<MemoryFact> Retracted(string rest)
    {
        var what = rest.ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
        var attribute = what switch
        {
            "where i live" or "where i'm living" or "my address" or "my home" or "my city" => "Lives in",
            "where i work" or "my job" or "my employer" or "my company" or "who i work for" => "Works at",
            "my name" or "my real name" => "Name is",
            "my nickname" or "what i'm called" or "what to call me" or "what you call me" => "Prefers to be called",
            "my age" or "how old i am" => "Age is",
            "my diet" or "what i eat" => "Diet is",
            _ => null,
        };
        if (attribute is not null)
        {
            yield return new MemoryFact(attribute, MemoryType.Semantic, 0.5f, [], true);
            yield break;
        }
        if (FirstPersonStart().IsMatch(rest))
        {
            var stated = FromStatement(rest).ToList();
            foreach (var fact in stated)
            {
                yield return fact with { Retraction = true };
            }
            if (stated.Count > 0)
            {
                yield break;
            }
        }
        if (MyThing().Match(rest) is { Success: true } thing && Finish("Their " + thing.Groups["thing"].Value) is { } named)
        {
            // Never stored: it only names the memory to retract by its words ("Their cat" → "Has a cat named Tom").
            yield return new MemoryFact(named, MemoryType.Semantic, 0.5f, [], true);
        }
    }

    // "I stopped drinking coffee" retracts "Drinks coffee"; "I quit my job at Acme" / "I left Acme" retracts
    // "Works at Acme"; "I sold my car" retracts "Has a car".
    private static IEnumerable<MemoryFact> StoppedDoing(string verb, string rest)
    {
        rest = TrailingTime().Replace(rest, "").Trim();
        if (verb is "sold" or "gave away" or "lost" or "cancelled" or "canceled" or "got rid of")
        {
            if (MyThing().Match(rest) is { Success: true } owned && Finish("Has a " + owned.Groups["thing"].Value) is { } had)
            {
                yield return new MemoryFact(had, MemoryType.Semantic, 0.5f, [], true);
            }
            yield break;
        }
        if (JobAt().Match(rest) is { Success: true } job)
        {
            var org = job.Groups["org"].Value.Trim();
            yield return new MemoryFact(org.Length > 0 ? $"Works at {org}" : "Works at", MemoryType.Semantic, 0.5f, [], true);
            yield break;
        }
        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 0 && words[0].EndsWith("ing", StringComparison.OrdinalIgnoreCase) && words[0].Length > 4)
        {
            foreach (var fact in FromStatement($"I {BaseOfGerund(words[0].ToLowerInvariant())} {string.Join(' ', words.Skip(1))}".Trim()))
            {
                yield return fact with { Retraction = true };
            }
            yield break;
        }
        if (verb is "left" or "quit" && words.Length > 0 && char.IsUpper(words[0][0]))
        {
            yield return new MemoryFact($"Works at {rest}", MemoryType.Semantic, 0.5f, [], true);
        }
    }

    // "drinking" → "drink", "using" → "use", "running" → "run", "cycling" → "cycle".
    internal static string BaseOfGerund(string gerund)
    {
        var stem = gerund[..^3];
        if (stem.Length >= 3 && stem[^1] == stem[^2] && stem[^1] is not 'l' and not 's' and not 'e' and not 'o')
        {
            return stem[..^1];
        }
        if (stem is "us" or "lov" or "hav" or "liv" or "giv" or "driv" or "mov" or "com" or "tak" or "mak")
        {
            return stem + "e";
        }
        var vowelGroups = VowelGroup().Count(stem);
        var last = stem[^1];
        var cvc = stem.Length >= 3 && !IsVowel(stem[^3]) && IsVowel(stem[^2]) && !IsVowel(last) && last is not 'w' and not 'x' and not 'y';
        if ((vowelGroups == 1 && cvc) || last is 'v' or 'z' || (last is 'c' && !stem.EndsWith("ic", StringComparison.Ordinal))
            || (last == 'l' && stem.Length >= 2 && !IsVowel(stem[^2]) && stem[^2] != 'l'))
        {
            return stem + "e";
        }
        return stem;
    }

    private static bool IsVowel(char c) => c is 'a' or 'e' or 'i' or 'o' or 'u';

    // Standing instructions only ("Always use TypeScript", "From now on, answer in French", "Stop using emojis"); a
    // one-off request such as "Write a function that reverses a string" has no standing marker and is not a memory.
    private static MemoryFact? Imperative(string sentence, bool standing)
    {
        var text = TransientLead().Replace(PoliteLead().Replace(sentence, ""), "").Trim().TrimEnd(',');
        if (StopDoing().Match(text) is { Success: true } stop)
        {
            // "Stop using emojis" / "No more emojis": a standing "do not".
            var rest = stop.Groups["gerund"].Success
                ? $"{BaseOfGerund(stop.Groups["gerund"].Value.ToLowerInvariant())}{stop.Groups["rest"].Value}"
                : $"use {stop.Groups["rest"].Value.Trim()}";
            return Finish("Do not " + rest.Trim()) is { } stopText
                ? new MemoryFact(stopText, MemoryType.Procedural, 0.8f, Entities(stopText), false, Supersedes: true)
                : null;
        }
        if (!standing && !StandingMarker().IsMatch(sentence))
        {
            return null;
        }
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 2)
        {
            return null;
        }
        var first = words[0].ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
        var isInstruction = (first is "always" or "never" or "dont" or "don't" && ImperativeVerbs.Contains(words[1]))
            || ImperativeVerbs.Contains(first);
        var fact = isInstruction ? Finish(text) : null;
        return fact is null ? null : new MemoryFact(fact, MemoryType.Procedural, 0.8f, Entities(fact), false);
    }

    private static IEnumerable<MemoryFact> FromStatement(string statement)
    {
        statement = statement.Trim().TrimEnd(',', '.', ' ');
        if (CallMe().Match(statement) is { Success: true } callMe)
        {
            if (NameOf(callMe.Groups["name"].Value) is { } called)
            {
                yield return Fact($"Prefers to be called {called}", 0.8f);
            }
            yield break;
        }
        if (MyHome().Match(statement) is { Success: true } home)
        {
            foreach (var fact in Sensible(Fact($"Lives in {Pronouns(home.Groups["place"].Value)}", 0.8f)))
            {
                yield return fact;
            }
            yield break;
        }
        if (!MyXRegex.IsMatch(statement) && MyContraction().Match(statement) is { Success: true } contracted
            && contracted.Groups["rest"].Value.Split(' ', 2)[0] is var next
            && (char.IsUpper(next[0]) || char.IsDigit(next[0]) || Determiners.Contains(next) || IsComplementLead().IsMatch(next)))
        {
            // "My name's Priya", "My mum's a nurse": with no verb later and a complement after it, the 's is "is";
            // "my wife's name" is a possessive.
            statement = $"{contracted.Groups["my"].Value} {contracted.Groups["thing"].Value} is {contracted.Groups["rest"].Value}";
        }
        if (MyXRegex.Match(statement) is { Success: true } my)
        {
            // "My name is Bob" -> "Name is Bob"; "Our team uses Go" -> "Team uses Go"; "My name is actually Jon" -> "Name is Jon".
            var body = Pronouns(TrailingChange().Replace(StateAdverbs().Replace(" " + my.Groups["rest"].Value + " ", " ").Trim(), ""));
            if (Finish(body) is { } text)
            {
                foreach (var fact in Sensible(Fact(text, text.StartsWith("Name ", StringComparison.Ordinal) ? 0.9f : 0.6f)))
                {
                    yield return fact;
                }
            }
            yield break;
        }
        var subject = Subject().Match(statement);
        if (!subject.Success)
        {
            yield break;
        }
        var rest = StateAdverbs().Replace(" " + statement[subject.Length..].Trim() + " ", " ").Trim();
        rest = DoNot().Replace(TrailingChange().Replace(rest, "").Trim().TrimEnd(','), "don't ");
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
            rest = GotLead().Replace(rest, "");
            foreach (var thing in Conjuncts(rest))
            {
                if (!UselessObject().IsMatch(thing) && Finish("Has " + Pronouns(thing)) is { } had)
                {
                    yield return Fact(had, 0.6f);
                }
            }
            yield break;
        }

        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        var lead = new List<string>();
        var negated = false;
        while (words.Count > 0 && (Adverbs.Contains(words[0]) || FrequencyAdverbs.Contains(words[0]) || Negations.Contains(words[0])))
        {
            if (FrequencyAdverbs.Contains(words[0]))
            {
                lead.Add(words[0].ToLowerInvariant());
            }
            negated |= Negations.Contains(words[0]);
            words.RemoveAt(0);
        }
        if (words.Count == 0)
        {
            yield break;
        }
        var verb = words[0].ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
        var tail = string.Join(' ', words.Skip(1));
        if (negated)
        {
            // "I don't eat meat" -> "Doesn't eat meat": only for verbs that state a lasting fact.
            if (NegatableVerbs.Contains(verb) && !UselessObject().IsMatch(tail) && Finish($"Doesn't {verb} {Pronouns(tail)}") is { } denial)
            {
                foreach (var fact in Sensible(Fact(denial, 0.6f)))
                {
                    yield return fact;
                }
            }
            yield break;
        }
        if (verb is "am" or "'m")
        {
            foreach (var fact in FromBe(tail))
            {
                yield return fact;
            }
            yield break;
        }
        if (verb is "got" && GotState().Match(tail) is { Success: true } got)
        {
            yield return Fact($"Is {got.Groups["state"].Value.ToLowerInvariant()}", 0.7f);
            yield break;
        }
        if (verb is "turned" && TurnedAge().Match(tail) is { Success: true } age)
        {
            yield return Fact($"Is {age.Groups["age"].Value} years old", 0.7f);
            yield break;
        }
        if (verb is "became" or "become")
        {
            foreach (var fact in FromBe(tail))
            {
                yield return fact;
            }
            yield break;
        }
        if (verb is "used" && tail.StartsWith("to ", StringComparison.OrdinalIgnoreCase))
        {
            yield break; // "I used to live in Rome": no longer true
        }
                if (verb is "was" && BornIn().Match(tail) is { Success: true } born)
        {
            yield return Fact($"Was born in {born.Groups["place"].Value}", 0.7f);
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
        if (verb is "go" or "goes" && tail.StartsWith("by ", StringComparison.OrdinalIgnoreCase))
        {
            if (NameOf(tail[3..]) is { } called)
            {
                yield return Fact($"Prefers to be called {called}", 0.8f);
            }
            yield break;
        }

        // "Live" states where: "I live for the weekends" or "I live to travel" is a figure of speech, not a home.
        if (verb is "live" or "reside" && !LivingWhere().IsMatch(tail))
        {
            yield break;
        }
        // "I smoke", "I knit": a habit needs no object.
        if (tail.Length == 0 && HabitVerbs.Contains(verb))
        {
            var habit = string.Join(' ', [.. lead, ThirdPerson(verb)]);
            yield return Fact(char.ToUpper(habit[0], CultureInfo.InvariantCulture) + habit[1..], 0.6f);
            yield break;
        }

        // Canonical predicates, so that later statements about the same thing meet in consolidation.
        var state = TrailingTime().Replace(tail, "").Trim();
        string? canonical = verb switch
        {
            "joined" or "join" => "Works at " + state,
            "moved" or "relocated" when MovedTo().Match(state) is { Success: true } m => "Lives in " + Purpose().Replace(m.Groups["place"].Value, ""),
            "switched" or "migrated" or "changed" or "moved" when SwitchedTo().Match(state) is { Success: true } sw => "Uses " + sw.Groups["new"].Value,
            "started" when StartedAt().Match(state) is { Success: true } s => "Works at " + s.Groups["org"].Value,
            "live" or "reside" or "stay" when state.StartsWith("in ", StringComparison.OrdinalIgnoreCase) => "Lives in " + state[3..],
            "work" or "working" when JobAtPlace().Match(state) is { Success: true } w => $"Works {w.Groups["prep"].Value.ToLowerInvariant()} {w.Groups["org"].Value}",
            "use" or "eat" or "drink" or "drive" or "own" or "prefer" => $"{ThirdPerson(verb)} {state}",
            _ => null,
        };
        // "I never drink coffee after noon": the frequency belongs to the fact, so no canonical rewrite.
        if (canonical is not null && lead.Count == 0)
        {
            foreach (var fact in SplitWork(Pronouns(canonical)))
            {
                yield return fact;
            }
            yield break;
        }

        var conjugated = IsPast(verb) ? verb : ThirdPerson(verb);
        if (UselessObject().IsMatch(tail))
        {
            yield break;
        }
        // "I have a son called Leo and a daughter called Ava": one fact per thing.
        foreach (var thing in Conjuncts(tail))
        {
            foreach (var fact in SplitWork(string.Join(' ', [.. lead, conjugated, Pronouns(thing)])))
            {
                yield return fact;
            }
        }
    }

    // A name to be called by: one to three words, the first capitalised ("Sam", "Dr. Lee", "Mary Jane").
    private static string? NameOf(string text)
    {
        var clean = TrailingChange().Replace(NotInstead().Replace(text.Trim(), ""), "").Trim().TrimEnd('.', ',', '!', ' ');
        clean = PleaseTail().Replace(clean, "").Trim();
        var words = clean.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // "Call me Sam" or "call me sam", but not "call me when you're done" / "call me back later".
        if (words.Length is 0 or > 3 || !char.IsLetter(words[0][0])
            || (!char.IsUpper(words[0][0]) && (words.Length > 1 || NotAName.Contains(words[0]))))
        {
            return null;
        }
        return char.ToUpper(clean[0], CultureInfo.InvariantCulture) + clean[1..];
    }

    // "I'm ..." / "I am ...".
    private static IEnumerable<MemoryFact> FromBe(string rest)
    {
        rest = StateAdverbs().Replace(" " + rest + " ", " ").Trim();
        // "I'm a vegetarian since last year": the state is the fact, not when it began.
        rest = SinceTail().Replace(TrailingChange().Replace(rest, "").Trim().TrimEnd(','), "");
        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words is ["not" or "Not", "a" or "an", _, ..])
        {
            // "I'm not a morning person": a denied noun phrase is a lasting fact; "I'm not sure" is not.
            foreach (var fact in FromBe(string.Join(' ', words[1..])))
            {
                yield return fact with { Text = "Is not " + fact.Text[3..] };
            }
            yield break;
        }
        if (words.Length == 0 || SkippedStates.Contains(words[0].Trim(',')))
        {
            yield break;
        }
        // "I'm dying to see it", "I'm itching to go": a progressive verb before an infinitive says what the user
        // wants right now; only plans and training state something lasting ("I'm training to be a nurse").
        if (words.Length >= 3 && words[0].EndsWith("ing", StringComparison.OrdinalIgnoreCase) && words[1] is "to"
            && words[2].Length > 0 && char.IsLower(words[2][0]) && !Determiners.Contains(words[2]) && !LastingIntents.Contains(words[0]))
        {
            yield break;
        }
        if (words.Length <= 2 && words.All(w => w.Length > 0 && char.IsUpper(w[0])))
        {
            yield return Fact($"Name is {string.Join(' ', words)}", 0.9f); // "I'm Alice"
            yield break;
        }
        if (BasedIn().Match(rest) is { Success: true } based)
        {
            foreach (var fact in Sensible(Fact($"Lives in {Pronouns(based.Groups["place"].Value)}", 0.8f)))
            {
                yield return fact;
            }
            yield break;
        }
        if (WorkingAt().Match(rest) is { Success: true } working)
        {
            foreach (var fact in SplitWork($"Works at {Pronouns(working.Groups["org"].Value)}"))
            {
                yield return fact;
            }
            yield break;
        }
        if (Finish("Is " + Pronouns(rest)) is { } text)
        {
            var important = text.StartsWith("Is allergic", StringComparison.Ordinal) || text.Contains(" years old", StringComparison.Ordinal);
            foreach (var fact in Sensible(Fact(text, important ? 0.9f : 0.6f)))
            {
                yield return fact;
            }
        }
    }

    // The things of a coordinated object, each with its own determiner ("a son called Leo and a daughter called
    // Ava", "two cats and a dog"); any other object is one thing ("French and Italian", "fish and chips").
    private static string[] Conjuncts(string objectPhrase)
    {
        var parts = ObjectList().Split(objectPhrase);
        if (parts.Length < 2 || !parts.All(p => p.Split(' ', 2) is [var first, _] && Determiners.Contains(first)))
        {
            return [objectPhrase];
        }
        return parts;
    }

    // "Works at Acme Corp in the billing team" -> "Works at Acme Corp" + "Is in the billing team".
    private static IEnumerable<MemoryFact> SplitWork(string sentence)
    {
        if (WorkTeam().Match(sentence) is { Success: true } work)
        {
            if (Finish($"{work.Groups["verb"].Value} {work.Groups["prep"].Value} {work.Groups["org"].Value}") is { } employer)
            {
                foreach (var fact in Sensible(Fact(employer, 0.8f)))
                {
                    yield return fact;
                }
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
            foreach (var fact in Sensible(Fact(text, important ? 0.8f : 0.6f)))
            {
                yield return fact;
            }
        }
    }

    // Better no fact than a wrong one: an employer or a home must be a name or a noun phrase ("Works at eating less"
    // and "Lives in fear" are figures of speech), a fact needs an object that is not a bare pronoun ("Loves that"), and
    // what the user says about the assistant ("you") is not a fact about the user.
    private static IEnumerable<MemoryFact> Sensible(MemoryFact fact)
    {
        var text = fact.Text;
        if (OddPlace().IsMatch(text) || AboutAssistant().IsMatch(text) || PronounObject().IsMatch(text) || PronounEnd().IsMatch(text))
        {
            yield break;
        }
        yield return fact;
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

    [GeneratedRegex(@"[.!?;…]+(?=\s|$)", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Boundary();

    [GeneratedRegex(@"\s{2,}", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Spaces();

    [GeneratedRegex(@"[aeiou]+", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex VowelGroup();

    [GeneratedRegex(@"^(?:(?:correction|sorry|oops|wait|no wait|no(?!\s+more\b)|my bad|to be clear|let me correct (?:that|myself)|i meant(?: to say)?(?: that)?|what i meant (?:is|was)(?: that)?|actually|in fact)\b[,:!]?\s*)+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Correction();

    [GeneratedRegex(@"^(?:please\s+)?(?:remember|note|keep\s+in\s+mind|don'?t\s+forget|don’t\s+forget|do\s+not\s+forget|make\s+a\s+note|bear\s+in\s+mind|for\s+the\s+record|just\s+so\s+you\s+know|fyi|heads\s+up)\b(?:\s+(?:this|that)\s*:)?[,:]?\s*(?:that\s+|to\s+)?",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex RememberLead();

    [GeneratedRegex(@"^(?:(?:hi|hello|hey|well|so|also|btw|by the way|oh|ok|okay|and|but|fyi|just so you know|for context|anyway|plus|oh and|one more thing|quick update|update|good news|news|these days|nowadays|currently|lately|now|honestly|frankly|to be honest|tbh|never mind|nevermind)\b[,!:]?\s*)+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex LeadingFiller();

    [GeneratedRegex(@"(?:(?:just|only)\s+)?\b(?:for|in|during|throughout|within)\s+(?:the\s+rest\s+of\s+)?(?:this|the\s+current|our)\s+(?:conversation|chat|session|thread|project|discussion)(?:\s+only)?\b|\b(?:just|only)\s+(?:for\s+now|for\s+today|here)\b|\bfor\s+now\b|\bfor\s+today\b|\bthis\s+(?:conversation|chat|session|project)\s+only\b|\btemporarily\b|\bfor\s+the\s+time\s+being\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex SessionMarker();

    [GeneratedRegex(@",?\s*\b(?:from\s+now\s+on|going\s+forward|moving\s+forward|from\s+today(?:\s+on)?|starting\s+(?:today|now)|henceforth|in\s+(?:the\s+)?future)\b,?",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StandingCue();

    [GeneratedRegex(@",\s*(?:not|rather\s+than|instead\s+of)\s+.+$|\s+(?:rather\s+than|instead\s+of)\s+.+$|,?\s+instead$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex NotInstead();

    [GeneratedRegex(@"\b(?:now|again|any\s*more|no\s+longer|these\s+days|nowadays|currently|recently|switched|moved|changed|relocated|instead)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex ChangeCue();

    [GeneratedRegex(@"(?<=\s)(?:now|currently|actually|still|really|again|these\s+days|nowadays|officially|finally|in\s+fact)(?=\s)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StateAdverbs();

    [GeneratedRegex(@"(?:,?\s+(?:now|again|any\s*more|instead|these\s+days|nowadays|for\s+good|please|too))+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex TrailingChange();

    [GeneratedRegex(@",?\s*please$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PleaseTail();

    [GeneratedRegex(@"(?:,?\s+(?:since\s+(?:last\s+\w+|\d{4}|yesterday|(?:a|one|two|three|\d+)\s+\w+\s+ago)|yesterday|today|last\s+(?:week|month|year|night|weekend|spring|summer|autumn|fall|winter)|this\s+(?:week|month|year)|recently|(?:a|one|two|three|four|five|six|a\s+few|\d+)\s+(?:days?|weeks?|months?|years?)\s+ago|in\s+(?:january|february|march|april|may|june|july|august|september|october|november|december|\d{4})))+$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex TrailingTime();

    [GeneratedRegex(@"^(?:what|where|when|why|how|who|whom|which|whose|can|could|would|will|do|does|did|is|are|was|were|should|shall|may|might|am|have|has|tell|explain|help|give me|show me|write me|please help)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StartsWithQuestionWord();

    [GeneratedRegex(@"^(?:please\s+)?(?:forget|delete|remove|erase|drop|disregard|scrap|unlearn)\s+(?:the\s+(?:fact|memory|note|thing)\s+(?:that|about)\s+|that\s+|about\s+|what\s+(?:you\s+know|i\s+(?:told|said\s+to)\s+you|i\s+said|i\s+told\s+you)\s+about\s+|everything\s+about\s+)?(?<rest>.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Retraction();

    [GeneratedRegex(@"^(?:i|i'm|i’m|i've|i’ve|my|we|our|we're|we’re)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex FirstPersonStart();

    [GeneratedRegex(@"^(?:my|our)\s+(?<thing>[\w\-’' ]+?)(?:\s+subscription)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex MyThing();

    [GeneratedRegex(@"^(?:i|we)\s+(?:no\s+longer\s+(?<verb>\w+)(?<rest>.*?)|(?:don'?t|do\s+not|don’t)\s+(?<verb>\w+)(?<rest>.*?)\s+any\s*more)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex NoLonger();

    [GeneratedRegex(@"^(?:i'm|i’m|i\s+am|we're|we’re|we\s+are)\s+(?:no\s+longer\s+(?<rest>.+?)|not\s+(?<rest>.+?)\s+any\s*more)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex NotAnymore();

    [GeneratedRegex(@"^(?:i|we)\s+(?:have\s+|'ve\s+|’ve\s+)?(?:just\s+|recently\s+|finally\s+|already\s+)?(?<verb>stopped|quit|gave\s+up|left|sold|gave\s+away|got\s+rid\s+of|cancelled|canceled)\s+(?<rest>.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Stopped();

    [GeneratedRegex(@"^(?:my\s+(?:job|position|role)(?:\s+(?:at|with)\s+(?<org>.+))?|(?:working|work)\s+(?:at|for)\s+(?<org>.+)|my\s+company(?<org>))$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex JobAt();

    [GeneratedRegex(@"^(?:please\s+)?(?:stop|quit)\s+(?<gerund>\w+ing)(?<rest>.*)$|^no\s+more\s+(?<rest>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StopDoing();

    [GeneratedRegex(@"^(?:please\s+|from\s+now\s+on,?\s+|going\s+forward,?\s+|in\s+(?:the\s+)?future,?\s+|make\s+sure\s+(?:to|that\s+you)\s+)+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PoliteLead();

    [GeneratedRegex(@"\b(?:always|never|from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|whenever|every\s+time|each\s+time|by\s+default|in\s+all\s+(?:of\s+)?(?:your\s+)?(?:answers|responses|replies)|(?:all|each|every)\s+(?:of\s+)?your\s+(?:answers|responses|replies)|your\s+(?:answers|responses|replies|tone|explanations|messages|summaries|code\s+examples))\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StandingMarker();

    // Markers that only say "from now on" and would read oddly inside the stored instruction.
    [GeneratedRegex(@",?\s*\b(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future)\b,?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex TransientLead();

    [GeneratedRegex(@"^(?:(?:please|just|you\s+(?:can|may|should|could)|i'?d\s+(?:like|prefer|love|rather)\s+(?:it\s+if\s+)?(?:you\s+(?:to\s+)?)?|i’d\s+(?:like|prefer|love|rather)\s+(?:it\s+if\s+)?(?:you\s+(?:to\s+)?)?|i\s+(?:want|would\s+like|prefer)\s+(?:that\s+)?you\s+(?:to\s+)?)\s*)*(?:call|address|refer\s+to)\s+me\s+(?:as\s+)?(?<name>.+)$|^i(?:'d|’d|\s+would)?\s+(?:prefer|like|want|love)\s+to\s+be\s+(?:called|addressed\s+as|known\s+as)\s+(?<name>.+)$|^my\s+nickname\s+is\s+(?<name>.+)$|^(?:everyone|everybody|people|friends|most\s+people|my\s+friends)\s+calls?\s+me\s+(?<name>.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex CallMe();

    [GeneratedRegex(@"^(?:my\s+(?:new\s+)?(?:home|address)\s+is\s+(?:now\s+)?(?:in|at)\s+|home\s+for\s+(?:me|us)\s+is\s+(?:now\s+)?(?:in\s+)?|my\s+home\s+is\s+(?:now\s+)?)(?<place>.+)$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex MyHome();


    [GeneratedRegex(@"^(?:i|we|(?:my|our)\s+\w+\s+and\s+i)(?:(?<be>'m|’m|\s+am|'re|’re|\s+are)|(?<have>'ve|’ve)(?!\s+been\s+(?:wondering|thinking|trying|looking)))?(?=\s|$)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Subject();

    [GeneratedRegex(@",?\s+since\s+.+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex SinceTail();

    // "to Cape Town for a new role": why is not where.
    [GeneratedRegex(@"\s+(?:for|because|since|with|to\s+be)\b.*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Purpose();

    [GeneratedRegex(@"^born\s+in\s+(?<place>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex BornIn();

    [GeneratedRegex(@"^got\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex GotLead();

    [GeneratedRegex(@"^(?:(?:a|an|some|no|any)\s+)?(?:question|problem|issue|idea|clue|doubt|suggestion|request|feeling|time|moment|minute|second|sec|point|bug|error|query|favou?r|thought|few\s+questions|couple\s+of\s+questions)s?\b|^(?:to(?!\s+(?:work|school|college|university|church|the|a|an|my|our|their)\b)|it|that|this|them|those|these|so|you|one|nothing|something|anything)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex UselessObject();

    [GeneratedRegex(@"^(?<state>married|engaged|divorced)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex GotState();

    [GeneratedRegex(@"^(?<age>\d{1,3})\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex TurnedAge();

    [GeneratedRegex(@"^(?:from\s+.+?\s+)?to\s+(?<place>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex MovedTo();

    [GeneratedRegex(@"^(?:over\s+)?(?:from\s+.+?\s+)?to\s+(?<new>.+?)(?:\s+from\s+.+)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex SwitchedTo();

    [GeneratedRegex(@"^(?:(?:working|a\s+new\s+job|a\s+job|work|a\s+position)\s+)?(?:at|with|for)\s+(?<org>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StartedAt();

    [GeneratedRegex(@"^(?<prep>at|for)\s+(?<org>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex JobAtPlace();

    [GeneratedRegex(@"^(?:based|living|located|settled)\s+in\s+(?<place>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex BasedIn();

    [GeneratedRegex(@"^(?:working|employed)\s+(?:at|for|by)\s+(?<org>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex WorkingAt();

    [GeneratedRegex(@"^(?:Works\s+(?:at|for)|Lives\s+in|Is\s+based\s+in)\s+(?!(?:a|an|the|home|themselves)\b)[a-z]", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex OddPlace();

    [GeneratedRegex(@"\b(?:you|your|yours|yourself)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex AboutAssistant();

    [GeneratedRegex(@"^\S+\s+(?:it|that|this|them|those|these|so|too|much|more|one)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PronounObject();

    // "Is working on it", "Has a go at it tomorrow": a statement that ends on a bare pronoun is about the conversation.
    [GeneratedRegex(@"\s(?:it|that|this|them|those|these)(?:\s+(?:tomorrow|today|tonight|later|now|again|soon))?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PronounEnd();

    [GeneratedRegex(@"^(?:give|show|write|tell)\s+me\s+(?:\w+\s+)?(?:answers|responses|replies|explanations|examples|summaries)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex StandingRequest();

    [GeneratedRegex(@"^do\s+not\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex DoNot();


    [GeneratedRegex(@"^(?<verb>Works)\s+(?<prep>at|for)\s+(?<org>.+?)\s+(?:in|on)\s+the\s+(?<team>[\w\- ]+?\s+team)\b.*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex WorkTeam();

    [GeneratedRegex(@"(?<=\s)(?:my|our|me|us|i|we|myself|mine|ours)(?=\s)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex FirstPerson();


    [GeneratedRegex(@"^(?<my>my|our)\s+(?<thing>\w+)['’]s\s+(?<rest>.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex MyContraction();

    [GeneratedRegex(@"^(?:from|in|at|on|not|called|named|very|really|still|now|also|allergic|married|retired)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex IsComplementLead();

    [GeneratedRegex(@"^(?:in|on|at|near|with|by|outside|abroad|close|next|downtown|alone|together|between|around|across|just|right|here|there|upstairs|nearby|in\s+)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex LivingWhere();

    [GeneratedRegex(@",\s*and\s+|,\s+|\s+and\s+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex ObjectList();

    [GeneratedRegex(@"\b(?:corp|corporation|inc|ltd|llc|gmbh|ag|sa|plc|co)\.?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 2000)]
    private static partial Regex OrgSuffix();
}
