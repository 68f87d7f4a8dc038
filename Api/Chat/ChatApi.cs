using System.Globalization;
using System.Text.Json;
using AspireAi.Api.Admission;
using AspireAi.Api.Auth;
using AspireAi.Api.Conversations;
using AspireAi.Api.Extensions;
using AspireAi.Api.Idempotency;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AspireAi.Api.Chat;

public static class ChatApi
{
    public static RouteGroupBuilder MapChatApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations/{id:guid}/messages").WithTags("Chat").RequireAuthorization().RequireScope(ApiKeyScopes.Chat);
        group.MapPost("/", SendMessage).WithChatAdmission();
        return group;
    }

    public sealed record SendMessageRequest(string? Content);

    public sealed record ToolCallResponse(string Id, string Name, JsonElement Arguments, string? Result, bool IsError);

    public sealed record ChatReply(
        Guid MessageId, Guid UserMessageId, string Content, string Model, string PromptName, int PromptVersion,
        int InputTokens, int OutputTokens, decimal Cost, string? TraceId, IReadOnlyList<Guid> MemoryIds,
        IReadOnlyList<Citation> Citations, IReadOnlyList<ToolCallResponse> ToolCalls);

    /// <summary>
    /// Sends a user message and answers with the assistant's reply: as Server-Sent Events when the client accepts
    /// text/event-stream, otherwise as one JSON object with the same fields. Everything that can reject the request
    /// (validation, ownership, budget) is decided before the first byte, so it gets a proper 4xx.
    /// </summary>
    public static async Task<Results<EmptyHttpResult, Ok<ChatReply>, ValidationProblem, ProblemHttpResult>> SendMessage(
        Guid id, SendMessageRequest request, HttpContext http, ChatService chat, PreparationGate gate, IOptions<ChatSettings> settings)
    {
        var limit = settings.Value.MaxInputChars;
        if (string.IsNullOrWhiteSpace(request.Content))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["content"] = ["The content must not be empty."] });
        }
        if (request.Content.Length > limit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["content"] = [$"The content is {request.Content.Length} characters long; the limit is {limit}."],
            });
        }

        var user = http.User.GetCurrentUser();
        ChatPreparation prepared;
        using (var slot = await gate.EnterAsync(http.RequestAborted))
        {
            if (!slot.Admitted)
            {
                return PreparationGate.Refusal(http, slot);
            }
            prepared = await chat.PrepareAsync(user.UserId, user.OrgId, id, request.Content, http.RequestAborted);
        }
        switch (prepared.Rejection)
        {
            case ChatRejection.ConversationNotFound:
                return ConversationsApi.NotFound(id);
            case ChatRejection.BudgetExceeded:
                var resetsAt = prepared.BudgetResetsAt!.Value;
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling((resetsAt - DateTimeOffset.UtcNow).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return TypedResults.Problem(
                    title: "Daily token budget exceeded",
                    detail: $"You have used {prepared.TokensUsed} of {prepared.TokenBudget} tokens today. The budget resets at {resetsAt:O}.",
                    statusCode: StatusCodes.Status429TooManyRequests,
                    extensions: new Dictionary<string, object?> { ["resetsAt"] = resetsAt, ["tokensUsed"] = prepared.TokensUsed, ["tokenBudget"] = prepared.TokenBudget });
        }

        var turn = prepared.Turn!;
        if (AcceptsEventStream(http.Request))
        {
            await StreamAsync(http, chat.StreamAsync(turn, http.RequestAborted));
            return TypedResults.Empty;
        }
        return await ReplyAsync(chat.StreamAsync(turn, http.RequestAborted));
    }

    private static bool AcceptsEventStream(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));

    private static async Task StreamAsync(HttpContext http, IAsyncEnumerable<ChatEvent> events)
    {
        await http.StartEventStreamAsync();

        await foreach (var item in events)
        {
            if (item is ErrorEvent { Status: >= 500 })
            {
                // A provider outage: a retry with the same Idempotency-Key should try again, not replay this error.
                IdempotencyMiddleware.DoNotStore(http);
            }
            var payload = item switch
            {
                DeltaEvent d => JsonSerializer.Serialize(new { text = d.Text }, JsonSerializerOptions.Web),
                ErrorEvent e => JsonSerializer.Serialize(new { type = e.Type, title = e.Title, status = e.Status, detail = e.Detail, traceId = e.TraceId }, JsonSerializerOptions.Web),
                _ => JsonSerializer.Serialize(item, item.GetType(), JsonSerializerOptions.Web),
            };
            await http.Response.WriteAsync($"event: {item.EventName}\ndata: {payload}\n\n", http.RequestAborted);
            await http.Response.Body.FlushAsync(http.RequestAborted);
        }
    }

    private static async Task<Results<EmptyHttpResult, Ok<ChatReply>, ValidationProblem, ProblemHttpResult>> ReplyAsync(IAsyncEnumerable<ChatEvent> events)
    {
        var content = new System.Text.StringBuilder();
        var tools = new List<ToolCallResponse>();
        await foreach (var item in events)
        {
            switch (item)
            {
                case DeltaEvent d:
                    content.Append(d.Text);
                    break;
                case ToolCallEvent call:
                    tools.Add(new ToolCallResponse(call.Id, call.Name, call.Arguments, null, false));
                    break;
                case ToolResultEvent result:
                    var index = tools.FindIndex(t => t.Id == result.Id);
                    if (index >= 0)
                    {
                        tools[index] = tools[index] with { Result = result.Result, IsError = result.IsError };
                    }
                    break;
                case ErrorEvent error:
                    return TypedResults.Problem(title: error.Title, detail: error.Detail, statusCode: error.Status, type: error.Type);
                case DoneEvent done:
                    return TypedResults.Ok(new ChatReply(done.MessageId, done.UserMessageId, content.ToString(), done.Model, done.PromptName,
                        done.PromptVersion, done.InputTokens, done.OutputTokens, done.Cost, done.TraceId, done.MemoryIds, done.Citations, tools));
            }
        }
        throw new InvalidOperationException("The chat stream ended without a done or error event.");
    }
}
