using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Common;

/// <summary>What happens to retrieved data (a document passage, a tool result) that carries instruction-like content.</summary>
public enum InjectedContentHandling
{
    /// <summary>Kept, with hidden text removed and each instruction-like sentence replaced by a marker.</summary>
    Quote,

    /// <summary>Left out of what the model sees.</summary>
    Omit,
}

/// <summary>Options of the <c>Safety</c> section.</summary>
public sealed class SafetyOptions
{
    public const string SectionName = "Safety";

    /// <summary>Quote (default) or Omit document passages and tool results that carry instruction-like content.
    /// Memories that carry it are never shown to the model, whatever this says.</summary>
    [EnumDataType(typeof(InjectedContentHandling))]
    public InjectedContentHandling InjectedContent { get; set; } = InjectedContentHandling.Quote;
}

/// <summary>
/// The gate between stored or fetched text and the model's context. Each source asks it once per item and gets the
/// text to show (or null to leave the item out); every finding is logged without the text and counted on the
/// <c>aspireai.safety.injections</c> counter (meter <c>AspireAi.Safety</c>) by source, kind and action, so an operator
/// can alert on it.
/// </summary>
public sealed partial class ContentScreen(IOptions<SafetyOptions> options, IMeterFactory meters, ILogger<ContentScreen> logger)
{
    public const string MeterName = "AspireAi.Safety";

    private readonly Counter<long> _injections = meters.Create(MeterName).CreateCounter<long>(
        "aspireai.safety.injections", unit: "{item}", description: "Items of data (memories, passages, tool results, facts) that carried instruction-like content");

    /// <summary>
    /// The text of a document passage or tool result as the model may see it, or null when it is to be left out.
    /// </summary>
    public string? ForContext(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kinds = PromptInjection.Scan(text);
        if (kinds == InjectionKinds.None)
        {
            return text;
        }
        var omit = options.Value.InjectedContent == InjectedContentHandling.Omit;
        Record(source, kinds, omit ? "omitted" : "quoted");
        return omit ? null : PromptInjection.Quote(text);
    }

    /// <summary>
    /// A tool result (JSON or text) as the model may see it: in JSON every string value is screened on its own (a
    /// passage inside a search result), so the result keeps its shape; null when the whole result is to be left out.
    /// The same reference comes back when nothing was found.
    /// </summary>
    public string? ForToolResult(string serialized, string source)
    {
        ArgumentNullException.ThrowIfNull(serialized);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(serialized);
        }
        catch (JsonException)
        {
            return ForContext(serialized, source);
        }
        if (root is JsonValue scalar)
        {
            if (scalar.GetValueKind() != JsonValueKind.String)
            {
                return serialized;
            }
            var text = scalar.GetValue<string>();
            var screened = ForContext(text, source);
            return screened is null ? null : ReferenceEquals(screened, text) ? serialized : JsonValue.Create(screened).ToJsonString();
        }
        if (root is null)
        {
            return serialized;
        }
        var found = InjectionKinds.None;
        var omit = options.Value.InjectedContent == InjectedContentHandling.Omit;
        foreach (var value in Strings(root).ToList())
        {
            var text = value.GetValue<string>();
            var kinds = PromptInjection.Scan(text);
            if (kinds != InjectionKinds.None)
            {
                found |= kinds;
                value.ReplaceWith(JsonValue.Create(omit ? PromptInjection.Withheld : PromptInjection.Quote(text)));
            }
        }
        if (found == InjectionKinds.None)
        {
            return serialized;
        }
        Record(source, found, omit ? "omitted" : "quoted");
        return root.ToJsonString();
    }

    private static IEnumerable<JsonValue> Strings(JsonNode node) => node switch
    {
        JsonObject o => o.Select(p => p.Value).OfType<JsonNode>().SelectMany(Strings),
        JsonArray a => a.OfType<JsonNode>().SelectMany(Strings),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => [v],
        _ => [],
    };

    /// <summary>
    /// True when a memory (or a fact about to become one) may reach the model. A memory is a statement about the user;
    /// one that reads as an instruction or a claim on the system is never injected, and an extracted fact like that is
    /// never stored (<paramref name="action"/> says which, for the metric).
    /// </summary>
    public bool IsTrustedFact(string text, string source, string action)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kinds = PromptInjection.Scan(text);
        if (kinds == InjectionKinds.None)
        {
            return true;
        }
        Record(source, kinds, action);
        return false;
    }

    /// <summary>Counts and logs a finding made elsewhere (e.g. a flagged row written).</summary>
    public void Record(string source, InjectionKinds kinds, string action)
    {
        foreach (var name in PromptInjection.Names(kinds))
        {
            _injections.Add(1, new("source", source), new("kind", name), new("action", action));
        }
        LogFinding(source, string.Join(',', PromptInjection.Names(kinds)), action);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Instruction-like content in {Source} ({Kinds}): {Action}")]
    private partial void LogFinding(string source, string kinds, string action);
}
