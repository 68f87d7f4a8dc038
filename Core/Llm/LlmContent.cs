using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm;

/// <summary>
/// One place that turns contents into the text a model (or a token estimate, or a log line) sees; shared with the
/// offline provider so it reads tool calls and results exactly as they are counted and logged.
/// </summary>
public static class LlmContent
{
    // AIJsonUtilities.DefaultOptions indents; JSON sent to a model costs tokens per space.
    private static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    public static string ToPromptText(AIContent content) => content switch
    {
        TextContent text => text.Text ?? string.Empty,
        TextReasoningContent reasoning => reasoning.Text ?? string.Empty,
        FunctionCallContent call => $"{call.Name}({SerializeArguments(call.Arguments)})",
        FunctionResultContent result => SerializeResult(result.Result),
        _ => string.Empty,
    };

    public static string SerializeArguments(IDictionary<string, object?>? arguments) =>
        arguments is null ? "{}" : JsonSerializer.Serialize(arguments, Compact.GetTypeInfo(typeof(IDictionary<string, object?>)));

    // Strings go as they are (a JSON-encoded "quoted" string would waste tokens and confuse smaller models).
    public static string SerializeResult(object? result) => result switch
    {
        null => string.Empty,
        string text => text,
        JsonElement { ValueKind: JsonValueKind.String } element => element.GetString() ?? string.Empty,
        _ => JsonSerializer.Serialize(result, Compact.GetTypeInfo(result.GetType())),
    };

    public static string Truncate(string text, int maxChars) =>
        text.Length <= maxChars ? text : string.Concat(text.AsSpan(0, maxChars), "…");
}
