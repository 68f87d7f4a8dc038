using System.Text.RegularExpressions;

namespace AspireAi.Core.Memory;

/// <summary>
/// What a fact is about: the attribute of the user it sets (where they live, who employs them, what they eat, what
/// they want to be called, a family member …), whether that attribute holds one value at a time, the value, and
/// whether the fact denies it ("Doesn't drink coffee").
/// </summary>
/// <param name="Key">The attribute ("employer", "home", "diet", "family:sister", "verb:drink" …).</param>
/// <param name="SingleValued">True when a new value replaces the old one (employer, home, name, diet, age …).</param>
/// <param name="Value">Normalised words of the value ("acme corp", "porto"); empty when the fact names only the attribute.</param>
/// <param name="Negated">True for a denial of the predicate ("Doesn't eat meat", "Never uses emojis").</param>
public sealed record FactTrait(string Key, bool SingleValued, string Value, bool Negated);

/// <summary>
/// The attribute model consolidation decides with: facts are read in the third-person form extraction writes
/// ("Works at Acme Corp", "Lives in Porto", "Is vegetarian", "Prefers to be called Sam", "Has a sister named Ana").
/// Facts of other shapes fall back to their verb ("verb:play" for "Plays chess"), which is multi-valued.
/// </summary>
public static partial class MemoryAttributes
{
    private static readonly (Regex Pattern, string Key, bool Single)[] Rules =
    [
        // Standing instructions are about one aspect of the answers each: how long, in what tone, in which language
        // ("Always keep answers short" and "Give detailed answers" set the same thing).
        (AnswerLength(), "answers:length", true),
        (AnswerTone(), "answers:tone", true),
        (AnswerLanguage(), "answers:language", true),
        (Employer(), "employer", true),
        (Occupation(), "occupation", true),
        (Home(), "home", true),
        (Origin(), "origin", true),
        (PreferredName(), "preferred name", true),
        (Name(), "name", true),
        (Team(), "team", true),
        (Age(), "age", true),
        (Diet(), "diet", true),
        (Relationship(), "relationship", true),
        (Partner(), "partner", true),
        (Car(), "car", true),
    ];

    /// <summary>The attribute of a fact; null for a text with no recognisable predicate.</summary>
    public static FactTrait? Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var normalized = string.Join(' ', MemoryText.Words(text));
        if (normalized.Length == 0)
        {
            return null;
        }
        foreach (var (pattern, key, single) in Rules)
        {
            if (pattern.Match(normalized) is { Success: true } match)
            {
                return new FactTrait(key, single, match.Groups["value"].Value.Trim(), match.Groups["neg"].Success);
            }
        }
        if (Count().Match(normalized) is { Success: true } count)
        {
            // "Has two kids" / "Has three cats": how many is one value; "Has a sister named Ana" is not a count.
            return new FactTrait("count:" + TextNormalizerStem(count.Groups["what"].Value), true, count.Groups["value"].Value, false);
        }
        if (Relative().Match(normalized) is { Success: true } relative)
        {
            return new FactTrait("family:" + TextNormalizerStem(relative.Groups["who"].Value), false, relative.Groups["value"].Value.Trim(), false);
        }
        if (Favourite().Match(normalized) is { Success: true } favourite)
        {
            return new FactTrait("attr:" + favourite.Groups["subject"].Value, true, favourite.Groups["value"].Value.Trim(), false);
        }
        if (OwnThing().Match(normalized) is { Success: true } thing)
        {
            // "Doctor is Dr Chen", "Office is on Fifth Ave": one of the user's things, with one value at a time.
            return new FactTrait("attr:" + thing.Groups["subject"].Value, true, thing.Groups["value"].Value.Trim(), false);
        }
        if (DeniedState().Match(normalized) is { Success: true } denied)
        {
            // "Is not a morning person" denies "Is a morning person" (the verb is "be", not "a").
            return new FactTrait("verb:be", false, denied.Groups["value"].Value.Trim(), true);
        }
        if (Predicate().Match(normalized) is { Success: true } predicate)
        {
            var verb = BaseVerb(predicate.Groups["verb"].Value);
            return new FactTrait("verb:" + verb, false, predicate.Groups["value"].Value.Trim(), predicate.Groups["neg"].Success);
        }
        return null;
    }

    /// <summary>The key of a single-valued attribute, or null (see <see cref="Of"/>).</summary>
    public static string? SingleValuedKey(string text) => Of(text) is { SingleValued: true } attribute ? attribute.Key : null;

    // "drinks" / "drink" / "doesn't drink" meet on "drink"; "uses" on "use"; "has" on "have".
    internal static string BaseVerb(string verb) => verb switch
    {
        "has" => "have",
        "is" => "be",
        "does" => "do",
        "goes" => "go",
        _ when verb.EndsWith("ies", StringComparison.Ordinal) && verb.Length > 4 => verb[..^3] + "y",
        _ when verb.EndsWith("sses", StringComparison.Ordinal) || verb.EndsWith("shes", StringComparison.Ordinal)
            || verb.EndsWith("ches", StringComparison.Ordinal) || verb.EndsWith("xes", StringComparison.Ordinal)
            || verb.EndsWith("oes", StringComparison.Ordinal) => verb[..^2],
        _ when verb.EndsWith('s') && !verb.EndsWith("ss", StringComparison.Ordinal) && verb.Length > 2 => verb[..^1],
        _ => verb,
    };

    private static string TextNormalizerStem(string word) => word switch
    {
        "children" or "kid" or "kids" or "child" => "kids",
        _ => word.EndsWith('s') && word.Length > 3 ? word[..^1] : word,
    };

    private const string Neg = @"(?:(?:always|usually|often|sometimes|generally|normally)\s+)?(?<neg>(?:doesnt|does not|dont|do not|no longer|never|isnt|is not|is no longer)\s+)?";

    private const string AnswerWords = @"(?=.*\b(?:answers?|responses?|replies|reply|respond|explanations?|messages?)\b)";

    [GeneratedRegex(@"^" + AnswerWords + @".*?\b(?<value>short|shorter|brief|concise|succinct|terse|detailed|long|longer|lengthy|verbose|thorough|in depth)\b",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex AnswerLength();

    [GeneratedRegex(@"^" + AnswerWords + @".*?\b(?<value>formal|informal|casual|friendly|professional|polite|playful|serious|relaxed|neutral|warm)\b",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex AnswerTone();

    [GeneratedRegex(@"^(?:(?:always|please) )?(?:answer|reply|respond|write|speak|talk)s?(?: to (?:me|them))? (?:only )?in (?<value>[a-z]+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex AnswerLanguage();

    [GeneratedRegex(@"^(?:(?:works (?:at|for)|is employed (?:at|by)|is working (?:at|for)|employer is)(?:\s+(?<value>.+))?|is an? (?:\w+ ){1,3}(?:at|for) (?<value>[a-z0-9].*))$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Employer();

    [GeneratedRegex(@"^(?:works as|job is|profession is|role is|occupation is)(?:\s+(?<value>.+))?$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Occupation();

    [GeneratedRegex(@"^(?:lives (?:in|on|near|at)|is based in|is located in|resides in|home is in|home is)(?:\s+(?<value>.+))?$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Home();

    [GeneratedRegex(@"^(?:is from|comes from|was born in|hometown is)\s+(?<value>.+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Origin();

    [GeneratedRegex(@"^(?:prefers to be (?:called|addressed as)|goes by|nickname is|wants to be called|likes to be called)(?:\s+(?<value>.+))?$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex PreferredName();

    [GeneratedRegex(@"^(?:name is|is called|is named|full name is)(?:\s+(?<value>.+))?$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Name();

    [GeneratedRegex(@"^is (?:in|on|part of) the (?<value>\w+(?: \w+)?) team$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Team();

    [GeneratedRegex(@"^(?:is (?<value>\d+) years old|age is(?: (?<value>\d+))?)\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Age();

    [GeneratedRegex(@"^(?:is (?:an? )?(?:strict )?(?<value>vegetarian|vegan|pescatarian|keto|carnivore|flexitarian|omnivore)|(?<neg>doesnt |does not |no longer |never )?eats? (?<value>meat|fish)\b|(?:follows|is on) an? (?<value>.+?) diet|diet is(?: (?<value>.+))?)",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Diet();

    [GeneratedRegex(@"^is (?<value>married|single|engaged|divorced|widowed|in a relationship)\b", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Relationship();

    [GeneratedRegex(@"^(?:(?:wife|husband|partner|spouse|girlfriend|boyfriend)(?:s name)? (?:is called|is named|is)|is married to)\s+(?<value>.+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Partner();

    [GeneratedRegex(@"^(?:drives|car is) (?:an? )?(?<value>.+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Car();

    [GeneratedRegex(@"^has (?<value>no|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (?<what>kids|children|sons|daughters|siblings|brothers|sisters|cats|dogs|pets|grandchildren)\b",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Count();

    [GeneratedRegex(@"^(?:has an? (?:\w+ )?(?<who>daughter|son|sister|brother|cat|dog|parrot|rabbit|hamster|twin|niece|nephew)\b(?<value>.*)|(?<who>mother|father|mom|dad|mum|daughter|son|sister|brother|cat|dog)(?:s name)? (?:is called|is named|is) (?<value>.+))$",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Relative();

    // "favorite color is blue", "timezone is cet", "preferred language is french" (not "is …", which has no subject).
    [GeneratedRegex(@"^(?<subject>(?!is )(?:\w+ ){0,2}(?:favorite|favourite|preferred|timezone|time zone|native|primary|main)(?: \w+){0,2}) is (?:now )?(?<value>.+)$",
        RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Favourite();

    [GeneratedRegex(@"^(?<subject>(?!(?:is|has|was|does|doesnt|never)\b)[a-z]+(?: [a-z]+)?) (?:is|are) (?:now )?(?<value>.+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex OwnThing();

    [GeneratedRegex(@"^(?:isnt|is not|is no longer) (?<value>.+)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex DeniedState();

    [GeneratedRegex(@"^" + Neg + @"(?<verb>[a-z]+)\b(?<value>.*)$", RegexOptions.CultureInvariant, 2000)]
    private static partial Regex Predicate();
}
