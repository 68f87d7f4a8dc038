using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using AspireAi.Api.Auth;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Conversations;

public static class ConversationsApi
{
    private const int DefaultPageSize = 20;
    private const int MaxSearchLength = 200;

    public static RouteGroupBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations").WithTags("Conversations").RequireAuthorization().RequireScope(ApiKeyScopes.Chat);
        group.MapPost("/", CreateConversation);
        group.MapGet("/", ListConversations);
        group.MapGet("/{id:guid}", GetConversation);
        group.MapPatch("/{id:guid}", RenameConversation);
        group.MapDelete("/{id:guid}", DeleteConversation);
        group.MapGet("/{id:guid}/messages", ListMessages);
        group.MapGet("/{id:guid}/messages/{messageId:guid}", GetMessage);
        return group;
    }

    public sealed record CreateConversationRequest(
        [property: MaxLength(200)] string? Title,
        [property: MaxLength(64), RegularExpression("^[a-z0-9][a-z0-9_.-]*$")] string? AgentId);

    public sealed record RenameConversationRequest([property: Required, MinLength(1), MaxLength(200)] string? Title);

    public sealed record ConversationResponse(
        Guid Id, string Title, string AgentId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
        string? LastMessagePreview, DateTimeOffset? LastMessageAt);

    public sealed record MessageResponse(
        Guid Id, long Sequence, string Role, string Content, string Status, DateTimeOffset CreatedAt, string? Model,
        string? PromptName, int? PromptVersion, int? InputTokens, int? OutputTokens, decimal? Cost, int? LatencyMs,
        string? TraceId, JsonElement Metadata, IReadOnlyList<Citation> Citations, IReadOnlyList<Guid> MemoryIds);

    public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

    public static async Task<Created<ConversationResponse>> CreateConversation(
        CreateConversationRequest request, HttpContext http, ConversationStore store)
    {
        var user = http.User.GetCurrentUser();
        // Without a title it is named after its first exchange (ConversationTitles).
        var untitled = string.IsNullOrWhiteSpace(request.Title);
        var title = untitled ? ConversationTitles.Placeholder : request.Title!.Trim();
        var conversation = await store.CreateAsync(
            user.UserId, user.OrgId, title, request.AgentId ?? "default", http.RequestAborted, titlePending: untitled);
        return TypedResults.Created($"/v1/conversations/{conversation.Id}", ToResponse(conversation));
    }

    public static async Task<Results<Ok<PageResponse<ConversationResponse>>, ValidationProblem>> ListConversations(
        HttpContext http, ConversationStore store, string? cursor = null, int? limit = null, string? q = null)
    {
        var errors = new Dictionary<string, string[]>();
        var size = PageSize(limit, errors);
        if (q is { Length: > MaxSearchLength })
        {
            errors["q"] = [$"The search text is {q.Length} characters long; the limit is {MaxSearchLength}."];
        }
        (DateTimeOffset, Guid)? after = null;
        if (cursor is not null)
        {
            if (Cursor.TryDecode(cursor, 2, out var parts) && Cursor.TryDecodeTime(parts[0], out var updatedAt)
                && Guid.TryParseExact(parts[1], "N", out var id))
            {
                after = (updatedAt, id);
            }
            else
            {
                errors["cursor"] = ["The cursor is not valid. Use the nextCursor value of a previous page."];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await store.ListAsync(http.User.GetCurrentUser().UserId, after, size, http.RequestAborted, search: q);
        return TypedResults.Ok(new PageResponse<ConversationResponse>([.. page.Items.Select(ToResponse)], page.NextCursor));
    }

    public static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> GetConversation(
        Guid id, HttpContext http, ConversationStore store)
    {
        var conversation = await store.GetAsync(http.User.GetCurrentUser().UserId, id, http.RequestAborted);
        return conversation is null ? NotFound(id) : TypedResults.Ok(ToResponse(conversation));
    }

    public static async Task<Results<Ok<ConversationResponse>, ProblemHttpResult>> RenameConversation(
        Guid id, RenameConversationRequest request, HttpContext http, ConversationStore store)
    {
        var conversation = await store.RenameAsync(http.User.GetCurrentUser().UserId, id, request.Title!.Trim(), http.RequestAborted);
        return conversation is null ? NotFound(id) : TypedResults.Ok(ToResponse(conversation));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteConversation(
        Guid id, HttpContext http, ConversationStore store) =>
        await store.DeleteAsync(http.User.GetCurrentUser().UserId, id, http.RequestAborted)
            ? TypedResults.NoContent()
            : NotFound(id);

    public static async Task<Results<Ok<PageResponse<MessageResponse>>, ProblemHttpResult, ValidationProblem>> ListMessages(
        Guid id, HttpContext http, ConversationStore store, string? before = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        var size = PageSize(limit, errors);
        long? beforeSequence = null;
        if (before is not null)
        {
            if (Cursor.TryDecode(before, 1, out var parts) && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                beforeSequence = sequence;
            }
            else
            {
                errors["before"] = ["The cursor is not valid. Use the nextCursor value of a previous page."];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await store.ListMessagesAsync(http.User.GetCurrentUser().UserId, id, beforeSequence, size, http.RequestAborted);
        return page is null
            ? NotFound(id)
            : TypedResults.Ok(new PageResponse<MessageResponse>([.. page.Items.Select(ToResponse)], page.NextCursor));
    }

    public static async Task<Results<Ok<MessageResponse>, ProblemHttpResult>> GetMessage(
        Guid id, Guid messageId, HttpContext http, ConversationStore store)
    {
        var message = await store.GetMessageAsync(http.User.GetCurrentUser().UserId, id, messageId, http.RequestAborted);
        return message is null
            ? TypedResults.Problem(title: "Message not found", detail: $"No message {messageId} in conversation {id}.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(ToResponse(message));
    }

    // TypedResults.Problem (not NotFound(problem)) so the body goes out as application/problem+json.
    internal static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "Conversation not found", detail: $"No conversation {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound);

    private static int PageSize(int? limit, Dictionary<string, string[]> errors)
    {
        if (limit is null)
        {
            return DefaultPageSize;
        }
        if (limit < 1 || limit > ConversationStore.MaxPageSize)
        {
            errors["limit"] = [$"The limit must be between 1 and {ConversationStore.MaxPageSize}."];
        }
        return limit.Value;
    }

    private static ConversationResponse ToResponse(Conversation c) =>
        new(c.Id, c.Title, c.AgentId, c.CreatedAt, c.UpdatedAt, c.LastMessagePreview, c.LastMessageAt);

    internal static MessageResponse ToResponse(StoredMessage m) =>
        new(m.Id, m.Sequence, m.Role, m.Content, m.Status, m.CreatedAt, m.Model, m.PromptName, m.PromptVersion,
            m.InputTokens, m.OutputTokens, m.Cost, m.LatencyMs, m.TraceId, m.Metadata, m.Citations, m.MemoryIds);
}
