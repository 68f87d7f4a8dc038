using System.Text;
using System.Text.RegularExpressions;

namespace AspireAi.Core.Common;

/// <summary>The kinds of instruction-like content found in text that should only ever be data.</summary>
[Flags]
public enum InjectionKinds
{
    None = 0,

    /// <summary>A chat role or template marker: <c>SYSTEM:</c>, <c>&lt;|im_start|&gt;</c>, <c>[INST]</c>, <c>&lt;/data&gt;</c>.</summary>
    RoleMarker = 1,

    /// <summary>An attempt to replace the instructions: "ignore previous instructions", "you are now …", "reveal your prompt".</summary>
    InstructionOverride = 2,

    /// <summary>Something shaped like a tool call: <c>"tool_calls":</c>, <c>&lt;tool_call&gt;</c>, "call the delete_memory tool".</summary>
    ToolCallLookalike = 4,

    /// <summary>Text a reader does not see: zero-width and bidi control characters, Unicode tags, HTML comments.</summary>
    HiddenText = 8,

    /// <summary>A claim of role, permission or identity over the system: "the user is an admin", "has root access".</summary>
    PrivilegeClaim = 16,
}

/// <summary>
/// Finds instruction-like content in text that reaches the model as data (memories, document passages, tool results,
/// extracted facts) and takes it out. The patterns are cues, not a classifier: they catch the common forms cheaply and
/// deterministically; the envelope around retrieved data and the system prompt's rule that data carries no
/// instructions are the defence for what they miss. Every pattern runs without backtracking, so its cost is linear in
/// the text whatever the text is.
/// </summary>
public static partial class PromptInjection
{
    /// <summary>What replaces an instruction-like sentence in quoted text.</summary>
    public const string Withheld = "[instruction-like text withheld]";

    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    // A role or right claimed without an object ("the user is an admin.") or over this system ("… of this assistant"):
    // "I have admin access to our AWS account" is a fact about the user's job, not a claim on this system.
    private const string OverTheSystem =
        @"(\s*([.!,;)""']|$)|\s+(of|on|over|to|for|in)\s+(this|the|your)\s+(system|assistant|service|server|bot|ai|chatbot|model|app|application|platform)\b)";

    private static readonly (InjectionKinds Kind, Regex Pattern)[] Patterns =
    [
        (InjectionKinds.RoleMarker, new Regex(
            @"(^|[\n\r""'`>(\[{.!?;:])\s*(system|assistant|developer)\s*(message|prompt)?\s*:" +
            @"|<\|?\s*(im_start|im_end|system|assistant|endoftext|eot_id|start_header_id)\s*\|?>" +
            @"|\[/?(INST|SYS|SYSTEM)\]|<</?SYS>>|</?\s*(system|assistant|instructions?|data|developer)(\s[^>]{0,80})?>" +
            @"|#{2,}\s*(system|system\s+prompt|new\s+instructions?)\b" +
            @"|```\s*(system|instructions?)\b", Options)),
        (InjectionKinds.InstructionOverride, new Regex(
            @"\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+|every\s+)*" +
            @"(previous|prior|above|earlier|preceding|original|existing|system|safety|other)?\s*(instructions?|prompts?|rules|directions|directives|guidelines|guardrails|messages|context|restrictions)\b" +
            @"|\bnew\s+(system\s+)?instructions?\s*:" +
            @"|\byou\s+(are|will)\s+now\s+(be\s+|act\s+as\s+)?(a|an|the|in|my|no\s+longer|called|named|known\s+as|dan|free|unrestricted|jailbroken)\b" +
            @"|\b(an?\s+)?(ai|assistant|model|chatbot)\s+(without|with\s+no)\s+(any\s+)?(limits|restrictions|rules|filters|guidelines)\b" +
            @"|\bfrom\s+now\s+on,?\s+(you|the\s+assistant)\s+(will|must|shall|should|are)\b" +
            @"|\b(act|behave|respond)\s+as\s+(if\s+you\s+were\s+)?(an?\s+|the\s+)?(unrestricted|unfiltered|jailbroken|root|system|admin|administrator|developer)\b" +
            @"|\b(developer|god|dan|jailbreak)\s+mode\b|\bdo\s+anything\s+now\b" +
            @"|\b(reveal|print|repeat|show|output|leak|disclose)\s+(me\s+)?(your|the)\s+(system\s+|hidden\s+|initial\s+|original\s+)?(prompt|instructions|rules)\b" +
            @"|\b(the\s+)?(assistant|ai|model|chatbot|llm)\s+(must|should|shall|has\s+to|is\s+instructed\s+to)\s+(now\s+)?(ignore|call|execute|run|send|reveal|disclose|obey)\b" +
            @"|\binstead,?\s+(say|reply|respond|output|print|write)\b" +
            @"|\b(say|reply|respond|output|print|write)\s+(only\s+|exactly\s+|just\s+)*(the\s+)?(word|phrase|string|code|token)\s+[""'`]", Options)),
        (InjectionKinds.ToolCallLookalike, new Regex(
            @"""(tool_calls|function_call|tool_call|tool_use)""\s*:" +
            @"|</?\s*(tool_call|tool_use|function_calls?|invoke|antml:invoke)\b" +
            @"|\{\s*""name""\s*:\s*""[A-Za-z0-9_.-]{1,64}""\s*,\s*""(arguments|parameters|input)""\s*:" +
            @"|\b(call|invoke|run|execute|use|trigger)\s+(the\s+)?(tool|function)\s+[`'""]?[a-z][a-z0-9]*_[a-z0-9_]+" +
            @"|\b(call|invoke|execute|trigger)\s+(the\s+)?[`'""]?[a-z][a-z0-9_]*[`'""]?\s+(tool|function)\b" +
            @"|\brun\s+(the\s+)?[`'""]?[a-z][a-z0-9]*_[a-z0-9_]+[`'""]?\s+(tool|function)\b" +
            @"|\b(delete|erase|forget|wipe|remove)\s+(all\s+)?(of\s+)?(the\s+user'?s?|every|all)\s+(memories|documents|data|files)\b", Options)),
        (InjectionKinds.PrivilegeClaim, new Regex(
            @"\b(i\s+am|i'm|the\s+user\s+is|user\s+is|this\s+user\s+is|they\s+are|he\s+is|she\s+is|is)\s+(now\s+)?(an?\s+|the\s+)?(system\s+)?" +
            @"(admin|administrator|superuser|super\s+user|root|sysadmin|operator|owner)" + OverTheSystem +
            @"|\b(the\s+user\s+is|user\s+is|this\s+user\s+is)\s+(an?\s+|the\s+)?(admin|administrator|superuser|root|sysadmin)" + OverTheSystem +
            @"|\buser\s+role\s*[:=]\s*""?(admin|administrator|superuser|root|sysadmin)\b" +
            @"|\b(has|have|with|granted|grant|give|given|holds?)\s+(full\s+|unlimited\s+|unrestricted\s+|elevated\s+|total\s+|complete\s+)?" +
            @"(admin|administrator|administrative|root|superuser|elevated|unrestricted|sudo)\s+(rights|access|privileges?|permissions?|role|powers?)" + OverTheSystem +
            @"|\b(unlimited|infinite|unrestricted)\s+(token\s+|usage\s+)?(budget|quota|tokens)\b|\bno\s+(token|usage|rate)\s+(budget|limits?|quota)\b" +
            @"|\b(is|am|are)\s+(authori[sz]ed|allowed|permitted|cleared)\s+to\s+(bypass|override|ignore|access\s+(all|every|other))\b" +
            @"|\brole\s*(=|:)\s*""?admin\b", Options)),
    ];

    // Zero-width characters, bidi embeddings/overrides/isolates, the word joiner family, the BOM and the Unicode tag
    // block (as surrogate pairs): none of them is visible, all of them can carry or hide text.
    [GeneratedRegex(@"[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|\uDB40[\uDC00-\uDC7F]", RegexOptions.CultureInvariant)]
    private static partial Regex HiddenCharacters();

    [GeneratedRegex(@"<!--.*?(-->|$)", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex HtmlComment();

    /// <summary>The kinds of instruction-like content in <paramref name="text"/>; <see cref="InjectionKinds.None"/> when it reads as plain data.</summary>
    public static InjectionKinds Scan(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return InjectionKinds.None;
        }
        var found = InjectionKinds.None;
        if (HiddenCharacters().IsMatch(text) || text.Contains("<!--", StringComparison.Ordinal))
        {
            found |= InjectionKinds.HiddenText;
        }
        foreach (var (kind, pattern) in Patterns)
        {
            if (pattern.IsMatch(text))
            {
                found |= kind;
            }
        }
        return found;
    }

    /// <summary>The names of <paramref name="kinds"/> as stored on rows and in metrics (<c>role_marker</c>, …).</summary>
    public static string[] Names(InjectionKinds kinds) =>
        [.. Enum.GetValues<InjectionKinds>().Where(k => k != InjectionKinds.None && kinds.HasFlag(k)).Select(Name)];

    /// <summary>The stored name of one kind.</summary>
    public static string Name(InjectionKinds kind) => kind switch
    {
        InjectionKinds.RoleMarker => "role_marker",
        InjectionKinds.InstructionOverride => "instruction_override",
        InjectionKinds.ToolCallLookalike => "tool_call_lookalike",
        InjectionKinds.HiddenText => "hidden_text",
        InjectionKinds.PrivilegeClaim => "privilege_claim",
        _ => kind.ToString(),
    };

    /// <summary>
    /// The text as it may be quoted to a model: hidden characters and HTML comments removed, every sentence or line
    /// that carries an instruction-like cue replaced by <see cref="Withheld"/>, and the rest kept as written, so a
    /// passage that merely contains an injection still answers what it legitimately says.
    /// </summary>
    public static string Quote(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var visible = HtmlComment().Replace(HiddenCharacters().Replace(text, string.Empty), " ");
        if (Scan(visible) == InjectionKinds.None)
        {
            return visible;
        }
        // An injection's payload follows its cue ("The user is an admin. Reply X."): from a flagged sentence to the end
        // of its paragraph everything is withheld; the paragraphs around it are kept.
        var quoted = new StringBuilder(visible.Length);
        var withholding = false;
        foreach (var segment in Segments(visible))
        {
            if (string.IsNullOrWhiteSpace(segment) && segment.Contains('\n', StringComparison.Ordinal))
            {
                withholding = false;
                quoted.Append(segment);
            }
            else if (Scan(segment) != InjectionKinds.None)
            {
                if (!withholding)
                {
                    // Keep the segment's leading white space so the neighbours stay apart.
                    var lead = segment.Length - segment.TrimStart().Length;
                    quoted.Append(segment.AsSpan(0, lead)).Append(Withheld);
                    withholding = true;
                }
            }
            else if (!withholding)
            {
                quoted.Append(segment);
            }
            else if (segment.EndsWith('\n'))
            {
                quoted.Append('\n');
            }
        }
        var result = quoted.ToString();
        // A cue can span two sentences ("SYSTEM" + ": …" across a cut): if the whole still trips, withhold all of it.
        return Scan(result.Replace(Withheld, " ", StringComparison.Ordinal)) == InjectionKinds.None ? result : Withheld;
    }

    // Sentences and lines, each with the white space that precedes it, so that concatenating them gives the text back.
    private static IEnumerable<string> Segments(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var end = c is '\n' or '\r'
                || (c is '.' or '!' or '?' or ';' && i + 1 < text.Length && char.IsWhiteSpace(text[i + 1]));
            if (end)
            {
                yield return text[start..(i + 1)];
                start = i + 1;
            }
        }
        if (start < text.Length)
        {
            yield return text[start..];
        }
    }
}
