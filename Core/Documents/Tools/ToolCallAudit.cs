using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Common;
using AspireAi.Core.Identity;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace AspireAi.Core.Documents.Tools;

/// <summary>
/// Audits every tool call the model makes, in <c>audit_log</c> (action <c>tool.called</c>): who, which tool, the
/// arguments (secrets redacted, truncated to <see cref="MaxArgumentsChars"/>, column <c>arguments</c>), the sizes of
/// the arguments and of the result, the duration and the outcome. Never the result: it holds document and memory text.
/// </summary>
/// <remarks>
/// The user comes from <c>ChatOptions.AdditionalProperties[LlmRequestProperties.UserId]</c> when the caller set it,
/// else from the authenticated principal of the HTTP request the chat runs in.
/// </remarks>
internal sealed class ToolCallAudit(NpgsqlDataSource dataSource, IHttpContextAccessor httpContext) : IToolCallObserver
{
    public const string Action = "tool.called";

    /// <summary>Enough for any argument set the built-in tools take; a model that sends a novel gets its start kept.</summary>
    public const int MaxArgumentsChars = 2000;

    // The row is read by people, never embedded in HTML: "café" stays café rather than "caf\u00E9".
    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async ValueTask OnToolCallCompletedAsync(ToolCallRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        Guid? userId = Guid.TryParse(record.UserId, out var fromOptions) ? fromOptions
            : httpContext.HttpContext?.User is { } principal && principal.TryGetCurrentUser(out var user) ? user.UserId
            : null;
        var details = new Dictionary<string, string?>
        {
            ["callId"] = record.CallId,
            ["conversationId"] = record.ConversationId,
            ["round"] = record.Round.ToString(CultureInfo.InvariantCulture),
            ["argumentsSize"] = record.ArgumentsSize.ToString(CultureInfo.InvariantCulture),
            ["resultSize"] = record.ResultSize.ToString(CultureInfo.InvariantCulture),
            ["durationMs"] = record.Duration.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture),
            ["outcome"] = record.Outcome.ToString(),
            ["traceId"] = System.Diagnostics.Activity.Current?.TraceId.ToString(),
        };
        // The call already happened: a cancelled chat still gets its audit row.
        await IdentityAudit.WriteAsync(dataSource, new AuditEntry(userId, Action, "tool", record.ToolName, details, RedactArguments(record.Arguments)),
            CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// The arguments with secrets replaced by <see cref="SecretDetector.Placeholder"/>, then cut to
    /// <see cref="MaxArgumentsChars"/> (redacting first, so a cut cannot leave half a key the patterns no longer see).
    /// </summary>
    internal static string RedactArguments(string? arguments)
    {
        if (string.IsNullOrEmpty(arguments))
        {
            return "{}";
        }

        string redacted;
        try
        {
            redacted = JsonNode.Parse(arguments) is { } node ? Redact(node, name: null).ToJsonString(Readable) : "null";
        }
        catch (JsonException)
        {
            // Invalid arguments are audited too (outcome InvalidArguments): redact them as plain text.
            redacted = SecretDetector.Redact(arguments);
        }

        // The placeholder never contains NUL, but a model's argument may: PostgreSQL text cannot hold it.
        redacted = redacted.Replace("\0", "", StringComparison.Ordinal);
        return redacted.Length <= MaxArgumentsChars ? redacted : redacted[..MaxArgumentsChars] + "…";
    }

    // String by string, so that JSON syntax never hides a secret from the text patterns: {"password":"hunter2"} is
    // checked as "password: hunter2", which the detector knows, as well as "hunter2" on its own.
    private static JsonNode Redact(JsonNode node, string? name)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var property in obj.ToList())
                {
                    if (property.Value is not null)
                    {
                        obj[property.Key] = Redact(property.Value.DeepClone(), property.Key);
                    }
                }

                return obj;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is { } item)
                    {
                        array[i] = Redact(item.DeepClone(), name);
                    }
                }

                return array;
            case JsonValue value when value.GetValueKind() is JsonValueKind.String or JsonValueKind.Number:
                var text = value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
                if (SecretDetector.ContainsSecret(text))
                {
                    // Only the secret goes: the rest of a search query is what the audit is for.
                    return JsonValue.Create(SecretDetector.Redact(text));
                }

                return name is not null && SecretDetector.ContainsSecret($"{name.Replace('_', ' ')}: {text}")
                    ? JsonValue.Create(SecretDetector.Placeholder)
                    : value;
            default:
                return node;
        }
    }
}
