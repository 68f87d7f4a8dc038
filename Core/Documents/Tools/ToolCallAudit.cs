using System.Globalization;
using AspireAi.Core.Identity;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace AspireAi.Core.Documents.Tools;

/// <summary>
/// Audits every tool call the model makes, in <c>audit_log</c> (action <c>tool.called</c>): who, which tool, the sizes
/// of the arguments and of the result, the duration and the outcome. Never the arguments or the result themselves:
/// they may hold personal data or secrets the user typed.
/// </summary>
/// <remarks>
/// The user comes from <c>ChatOptions.AdditionalProperties[LlmRequestProperties.UserId]</c> when the caller set it,
/// else from the authenticated principal of the HTTP request the chat runs in.
/// </remarks>
internal sealed class ToolCallAudit(NpgsqlDataSource dataSource, IHttpContextAccessor httpContext) : IToolCallObserver
{
    public const string Action = "tool.called";

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
        await IdentityAudit.WriteAsync(dataSource, new AuditEntry(userId, Action, "tool", record.ToolName, details), CancellationToken.None)
            .ConfigureAwait(false);
    }
}
