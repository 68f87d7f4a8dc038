namespace AspireAi.Web.ApiClients;

// The Api's request and response bodies (JSON, camelCase). Ids are kept as opaque strings: Web only passes
// them back to the Api, so it does not depend on how the Api generates them.

internal sealed record TokenRequest(string Email, string Password);

internal sealed record RefreshRequest(string RefreshToken);

internal sealed record TokenResponse(
    string AccessToken,
    string TokenType,
    int ExpiresIn,
    string RefreshToken,
    int RefreshExpiresIn);

internal sealed record MeResponse(string Id, string OrgId, string Email, string Role);

/// <summary>The Api's roles, as its tokens and <c>/v1/auth/me</c> name them.</summary>
public static class ApiRoles
{
    public const string User = "user";
    public const string Admin = "admin";
}

public sealed record ApiPage<T>(IReadOnlyList<T> Items, string? NextCursor);

internal sealed record CreateConversationRequest(string? Title);

public sealed record Conversation(
    string Id,
    string? Title,
    string? AgentId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? LastMessagePreview,
    DateTimeOffset? LastMessageAt);

internal sealed record SendMessageRequest(string? Content);

public sealed record ChatMessage(
    string Id,
    long Sequence,
    string Role,
    string Content,
    string? Status,
    DateTimeOffset CreatedAt,
    string? Model,
    string? PromptName,
    string? PromptVersion,
    int? InputTokens,
    int? OutputTokens,
    decimal? Cost,
    string? TraceId,
    IReadOnlyList<ChatCitation>? Citations = null)
{
    public bool IsAssistant => string.Equals(Role, ChatRoles.Assistant, StringComparison.OrdinalIgnoreCase);

    public bool IsUser => string.Equals(Role, ChatRoles.User, StringComparison.OrdinalIgnoreCase);
}

/// <summary>A passage an assistant answer cites; <c>[Sn]</c> in the answer is the n-th citation of its message.</summary>
public sealed record ChatCitation(string DocumentId, string? Title, string ChunkId);

internal sealed record FeedbackRequest(string Rating, string? Comment);

/// <summary>The user's thumbs up / down on one answer; <c>Rating</c> is "up" or "down".</summary>
public sealed record MessageFeedback(string MessageId, string Rating, string? Comment);

public static class FeedbackRatings
{
    public const string Up = "up";
    public const string Down = "down";
}

public static class ChatRoles
{
    public const string User = "user";
    public const string Assistant = "assistant";
}
